"""Runs and their steps in the database: the record of all background work.

A worker claims one queued step in one short transaction (SQLite: ``BEGIN IMMEDIATE``;
PostgreSQL: ``SELECT ... FOR UPDATE SKIP LOCKED``), beats while it runs and finishes it
with a conditional update (``WHERE status = 'running' AND worker_id = me``), so a step is
completed exactly once even when a lease expired and a second worker took it over. The
run's counters and, for batch and plan runs, its final status are written in the same
transaction as the step that made them so (a search run is finished by its planner).
Every state change except a claim or a beat is audited in its own transaction
(``AuditLog.append_in``), so a crash never keeps a change without its record or a record
of a change that was rolled back.
"""

from __future__ import annotations

import builtins
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Engine, func, select, update
from sqlalchemy.orm import Session

from ..audit import AuditLog
from ..db import lock_for_write
from ..db.tables import RunRow, RunStepRow, WorkerRow
from ..errors import InputError, NotFound
from ..process import Owner
from ..scrub import Scrubber
from .checks import CheckedStep, StepChecker

__all__ = [
    "RunStore",
    "ClaimedStep",
    "new_run_id",
    "RUN_KINDS",
    "FINAL_STEP",
    "FINISH_REASONS",
    "batch_finish_reason",
    "brief_run",
]

RUN_KINDS = ("batch", "plan", "search")
FINAL_STEP = ("succeeded", "failed", "cancelled", "refused")
OPEN_STEP = ("queued", "running")
ACTIVE_RUN = ("queued", "running")
ENDED_RUN = ("cancelled", "finished")
FINISH_REASONS = ("goal_met", "budget_spent", "exhausted", "cancelled", "failed")
_LOCK = "runs"


def new_run_id() -> str:
    """``run_YYYYmmdd_HHMMSS_xxxxxx``: sortable by time, unique."""
    return f"run_{datetime.now(UTC):%Y%m%d_%H%M%S}_{uuid.uuid4().hex[:6]}"


def batch_finish_reason(statuses: Sequence[str]) -> str:
    """A batch or plan run whose steps are all final: ``exhausted`` when at least one step
    succeeded (its work is done), ``failed`` when none did."""
    return "exhausted" if "succeeded" in statuses else "failed"


def brief_run(run: dict[str, Any]) -> dict[str, Any]:
    """A run (``RunStore.get``) without the bulky step results: what the agent reads to
    answer "how is it going?"."""
    out = {k: v for k, v in run.items() if k not in ("steps", "config")}
    out["steps"] = [
        {
            "seq": s["seq"],
            "action": s["action"],
            "status": s["status"],
            "attempts": s["attempts"],
            "progress": s["progress"],
            "trial_id": s["trial_id"],
            "metrics": (s["outcome"] or {}).get("metrics"),
            "error": s["error"],
        }
        for s in run.get("steps", [])
    ]
    return out


def _utc(dt: datetime | None) -> datetime | None:
    if dt is None:
        return None
    return dt.replace(tzinfo=UTC) if dt.tzinfo is None else dt.astimezone(UTC)


def _iso(dt: datetime | None) -> str | None:
    d = _utc(dt)
    return d.isoformat() if d else None


@dataclass(frozen=True)
class ClaimedStep:
    step_id: int
    run_id: str
    seq: int
    action: str
    params: dict[str, Any]
    attempt: int
    max_attempts: int
    run_kind: str
    goal_id: str | None
    worker_id: str


def _owned_by(step_id: int, worker_id: str) -> tuple[Any, ...]:
    """The step is running and still claimed by ``worker_id``: the one condition under which
    a worker may beat, finish or release it (what makes completion exactly-once)."""
    return (
        RunStepRow.id == step_id,
        RunStepRow.status == "running",
        RunStepRow.worker_id == worker_id,
    )


class RunStore:
    def __init__(
        self,
        engine: Engine,
        audit: AuditLog,
        scrub: Scrubber | None = None,
        *,
        checker: StepChecker | None = None,
        max_attempts: int = 3,
    ):
        self._engine = engine
        self._audit = audit
        self._scrub = scrub or audit.scrubber
        self.checker = checker
        """Validates and compliance-checks steps; required to queue any."""
        self.max_attempts = max_attempts

    @classmethod
    def for_executor(cls, executor: Any) -> RunStore:
        """The store of ``executor``'s App, checking steps against its actions."""
        app = executor.app
        return cls(
            app.engine,
            app.audit,
            app.scrub,
            checker=StepChecker.of(executor),
            max_attempts=app.settings.step_max_attempts,
        )

    # -- helpers ---------------------------------------------------------------------------
    def _session(self) -> Session:
        return Session(self._engine, expire_on_commit=False)

    def _exclusive(self, s: Session) -> None:
        lock_for_write(s, _LOCK)

    def _checked(self, steps: Sequence[Any], actor: str, first: int = 0) -> list[CheckedStep]:
        if self.checker is None:
            raise InputError(
                "this RunStore has no step checker: build it with RunStore.for_executor(...) "
                "so every step is validated and compliance-checked before it is queued"
            )
        return self.checker.check(steps, actor=actor, first=first)

    def _step_rows(
        self, run_id: str, checked: list[CheckedStep], first_seq: int, now: datetime
    ) -> list[RunStepRow]:
        return [
            RunStepRow(
                run_id=run_id,
                seq=first_seq + i,
                action=c.action,
                params=c.params,
                status="refused" if c.refused else "queued",
                attempts=0,
                max_attempts=self.max_attempts,
                error=self._scrub.text(c.refused) if c.refused else None,
                finished_at=now if c.refused else None,
            )
            for i, c in enumerate(checked)
        ]

    def _audit_refused(self, s: Session, run_id: str, rows: list[RunStepRow], actor: str) -> None:
        for r in rows:
            if r.status == "refused":
                self._audit.append_in(
                    s,
                    "step.refused",
                    {"run_id": run_id, "seq": r.seq, "action": r.action, "reason": r.error},
                    actor=actor,
                )

    def _settle(self, s: Session, run: RunRow, now: datetime) -> str | None:
        """Recount ``run``'s steps; finish a batch/plan run whose steps are all final.
        Returns the finish reason when this call finished it."""
        statuses = list(s.scalars(select(RunStepRow.status).where(RunStepRow.run_id == run.id)))
        run.steps_total = len(statuses)
        run.steps_done = sum(st in FINAL_STEP for st in statuses)
        run.updated_at = now
        if (
            run.kind != "search"
            and run.status in ACTIVE_RUN
            and statuses
            and run.steps_done == run.steps_total
        ):
            run.status, run.finish_reason, run.finished_at = (
                "finished",
                batch_finish_reason(statuses),
                now,
            )
            failed = len(statuses) - statuses.count("succeeded")
            run.error = f"{failed} of {len(statuses)} steps did not succeed" if failed else None
            return run.finish_reason
        return None

    def _audit_finish(self, s: Session, run_id: str, reason: str | None, actor: str) -> None:
        if reason is not None:
            self._audit.append_in(
                s, "run.finish", {"run_id": run_id, "reason": reason}, actor=actor
            )

    def _run(self, s: Session, run_id: str, lock: bool = False) -> RunRow:
        q = select(RunRow).where(RunRow.id == run_id)
        if lock and s.connection().dialect.name == "postgresql":
            q = q.with_for_update()
        row = s.scalars(q).first()
        if row is None:
            recent = s.scalars(select(RunRow.id).order_by(RunRow.created_at.desc()).limit(5)).all()
            hint = f"; recent runs: {', '.join(recent)}" if recent else ""
            raise NotFound(f"no run '{run_id}'{hint}")
        return row

    # -- creating ----------------------------------------------------------------------------
    def create_run(
        self,
        kind: str,
        steps: Sequence[Any],
        owner: str,
        goal_id: str | None = None,
        config: dict[str, Any] | None = None,
        approved: bool = True,
    ) -> str:
        """Store a run and its steps (status ``queued``, or ``proposed`` until approved).

        Every step is validated first (a bad one: InputError, nothing stored); a step the
        gateway refuses is stored as ``refused`` with its reason and the run goes on.
        """
        if kind not in RUN_KINDS:
            raise InputError(f"run kind '{kind}' is not one of: {', '.join(RUN_KINDS)}")
        if kind != "search" and not steps:
            raise InputError(f"a {kind} run needs at least one step")
        checked = self._checked(steps, actor=owner)
        run_id, now = new_run_id(), datetime.now(UTC)
        with self._session() as s, s.begin():
            run = RunRow(
                id=run_id,
                kind=kind,
                status="queued" if approved else "proposed",
                owner=owner,
                goal_id=goal_id,
                config=dict(config or {}),
                created_at=now,
                updated_at=now,
                steps_total=len(checked),
                steps_done=0,
            )
            s.add(run)
            rows = self._step_rows(run_id, checked, 1, now)
            s.add_all(rows)
            s.flush()
            reason = self._settle(s, run, now) if approved else None
            self._audit.append_in(
                s,
                "run.create",
                {
                    "run_id": run_id,
                    "kind": kind,
                    "status": run.status,
                    "goal_id": goal_id,
                    "config": config or {},
                    "steps": [{"seq": r.seq, "action": r.action, "params": r.params} for r in rows],
                },
                actor=owner,
            )
            self._audit_refused(s, run_id, rows, owner)
            self._audit_finish(s, run_id, reason, owner)
        return run_id

    def add_steps(self, run_id: str, steps: Sequence[Any], actor: str = "system") -> list[int]:
        """Append steps to a run that has not ended (a planner adds its next candidates)."""
        with self._session() as s:
            first = s.scalar(
                select(func.count()).select_from(RunStepRow).where(RunStepRow.run_id == run_id)
            )
        checked = self._checked(steps, actor=actor, first=int(first or 0))
        now = datetime.now(UTC)
        with self._session() as s, s.begin():
            self._exclusive(s)
            run = self._run(s, run_id, lock=True)
            if run.status in ENDED_RUN:
                raise InputError(f"run '{run_id}' is {run.status}; no steps can be added")
            top = s.scalar(select(func.max(RunStepRow.seq)).where(RunStepRow.run_id == run_id))
            rows = self._step_rows(run_id, checked, int(top or 0) + 1, now)
            s.add_all(rows)
            s.flush()
            ids = [r.id for r in rows]
            self._settle(s, run, now)
            self._audit.append_in(
                s,
                "run.add_steps",
                {
                    "run_id": run_id,
                    "steps": [{"seq": r.seq, "action": r.action, "params": r.params} for r in rows],
                },
                actor=actor,
            )
            self._audit_refused(s, run_id, rows, actor)
        return ids

    # -- run control ---------------------------------------------------------------------------
    def _transition(
        self, run_id: str, allowed_from: tuple[str, ...], verb: str, actor: str
    ) -> RunRow:
        now = datetime.now(UTC)
        with self._session() as s, s.begin():
            self._exclusive(s)
            run = self._run(s, run_id, lock=True)
            if run.status not in allowed_from:
                raise InputError(
                    f"run '{run_id}' is {run.status}; only a run that is "
                    f"{' or '.join(allowed_from)} can be {verb}"
                )
            if verb == "approved":
                run.status = "queued"
            elif verb == "paused":
                run.status = "paused"
            elif verb == "resumed":
                run.status = "running" if run.started_at else "queued"
            elif verb == "cancelled":
                s.execute(
                    update(RunStepRow)
                    .where(RunStepRow.run_id == run_id, RunStepRow.status == "queued")
                    .values(status="cancelled", finished_at=now, error=f"run cancelled by {actor}")
                )
                run.status, run.finish_reason, run.finished_at = "cancelled", "cancelled", now
            run.updated_at = now
            self._settle(s, run, now)
            kind = {"approved": "approve", "paused": "pause", "resumed": "resume"}.get(
                verb, "cancel"
            )
            self._audit.append_in(
                s, f"run.{kind}", {"run_id": run_id, "status": run.status}, actor=actor
            )
        return run

    def approve(self, run_id: str, actor: str = "user") -> None:
        self._transition(run_id, ("proposed",), "approved", actor)

    def pause(self, run_id: str, actor: str = "user") -> None:
        """Stop claiming the run's steps; a running step stops at its next fold and is
        re-queued (its attempt not counted)."""
        self._transition(run_id, ("queued", "running"), "paused", actor)

    def resume(self, run_id: str, actor: str = "user") -> None:
        self._transition(run_id, ("paused",), "resumed", actor)

    def cancel(self, run_id: str, actor: str = "user") -> None:
        """Cancel queued steps now; a running step stops at its next fold."""
        self._transition(run_id, ("proposed", "queued", "running", "paused"), "cancelled", actor)

    def finish_run(
        self,
        run_id: str,
        reason: str,
        summary: dict[str, Any] | None = None,
        error: str | None = None,
        actor: str = "system",
    ) -> bool:
        """Finish an active run (a search planner's verdict); False if it already ended."""
        if reason not in FINISH_REASONS:
            raise InputError(f"finish reason '{reason}' is not one of: {', '.join(FINISH_REASONS)}")
        now = datetime.now(UTC)
        with self._session() as s, s.begin():
            self._exclusive(s)
            run = self._run(s, run_id, lock=True)
            if run.status in ENDED_RUN:
                return False
            s.execute(
                update(RunStepRow)
                .where(RunStepRow.run_id == run_id, RunStepRow.status == "queued")
                .values(status="cancelled", finished_at=now, error=f"run finished: {reason}")
            )
            run.status, run.finish_reason, run.finished_at = "finished", reason, now
            run.summary = self._scrub(summary) if summary is not None else run.summary
            run.error = self._scrub.text(error) if error else None
            self._settle(s, run, now)
            self._audit.append_in(
                s,
                "run.finish",
                {"run_id": run_id, "reason": reason, "error": error, "summary": summary},
                actor=actor,
            )
        return True

    def set_summary(self, run_id: str, summary: dict[str, Any]) -> None:
        with self._session() as s, s.begin():
            run = self._run(s, run_id)
            run.summary, run.updated_at = self._scrub(summary), datetime.now(UTC)

    # -- workers' side ---------------------------------------------------------------------------
    def claim(self, worker_id: str) -> ClaimedStep | None:
        """Take the next queued step of an active run (oldest run first, then seq)."""
        me, now = Owner.me(), datetime.now(UTC)
        with self._session() as s, s.begin():
            pg = s.connection().dialect.name == "postgresql"
            if not pg:
                self._exclusive(s)
            q = (
                select(RunStepRow, RunRow.kind, RunRow.goal_id)
                .join(RunRow, RunRow.id == RunStepRow.run_id)
                .where(RunStepRow.status == "queued", RunRow.status.in_(ACTIVE_RUN))
                .order_by(RunRow.created_at, RunRow.id, RunStepRow.seq)
                .limit(1)
            )
            if pg:
                q = q.with_for_update(skip_locked=True, of=RunStepRow)
            hit = s.execute(q).first()
            if hit is None:
                return None
            step, kind, goal_id = hit
            step.status, step.worker_id = "running", worker_id
            step.worker_host, step.worker_pid = me.host, me.pid
            step.attempts += 1
            step.claimed_at = step.heartbeat_at = step.started_at = now
            step.progress = None
            claimed = ClaimedStep(
                step.id,
                step.run_id,
                step.seq,
                step.action,
                dict(step.params),
                step.attempts,
                step.max_attempts,
                kind,
                goal_id,
                worker_id,
            )
        # The run row is updated in a transaction of its own, so a claim never waits on
        # it (a cancel locks the run before its steps: same order, no deadlock).
        with self._session() as s, s.begin():
            s.execute(
                update(RunRow)
                .where(RunRow.id == claimed.run_id, RunRow.status == "queued")
                .values(status="running", started_at=now, updated_at=now)
            )
        return claimed

    def beat(self, step_id: int, worker_id: str, progress: dict[str, Any] | None = None) -> bool:
        """Renew the heartbeat; False when the step is no longer this worker's or its run
        is not running (cancelled or paused): the worker then stops the step."""
        values: dict[str, Any] = {"heartbeat_at": datetime.now(UTC)}
        if progress is not None:
            values["progress"] = progress
        active = select(RunRow.id).where(RunRow.status.in_(ACTIVE_RUN))
        with self._session() as s, s.begin():
            res = s.execute(
                update(RunStepRow)
                .where(*_owned_by(step_id, worker_id), RunStepRow.run_id.in_(active))
                .values(**values)
            )
            return bool(getattr(res, "rowcount", 0))

    def finish(
        self,
        step_id: int,
        worker_id: str,
        status: str,
        outcome: dict[str, Any] | None = None,
        error: str | None = None,
        actor: str = "worker",
    ) -> bool:
        """Record a step's end; True only for the one call that did (the current owner of
        a running step). A late call from a worker whose lease expired changes nothing."""
        if status not in FINAL_STEP:
            raise InputError(f"step status '{status}' is not final ({', '.join(FINAL_STEP)})")
        now = datetime.now(UTC)
        clean_error = self._scrub.text(error) if error else None
        clean_outcome = self._scrub(outcome) if outcome is not None else None
        with self._session() as s, s.begin():
            self._exclusive(s)
            run_id = s.scalar(select(RunStepRow.run_id).where(RunStepRow.id == step_id))
            if run_id is None:
                raise NotFound(f"no run step {step_id}")
            run = self._run(s, run_id, lock=True)
            res = s.execute(
                update(RunStepRow)
                .where(*_owned_by(step_id, worker_id))
                .values(
                    status=status,
                    finished_at=now,
                    outcome=clean_outcome,
                    error=clean_error,
                    trial_id=(clean_outcome or {}).get("trial_id"),
                )
            )
            if not getattr(res, "rowcount", 0):
                return False
            seq, action = s.execute(
                select(RunStepRow.seq, RunStepRow.action).where(RunStepRow.id == step_id)
            ).one()
            reason = self._settle(s, run, now)
            kind = {"succeeded": "step.done", "failed": "step.failed"}.get(status, f"step.{status}")
            payload: dict[str, Any] = {"run_id": run_id, "seq": seq, "action": action}
            if status == "refused":
                payload["reason"] = clean_error
            elif error:
                payload["error"] = clean_error
            if clean_outcome:
                payload["outcome"] = {k: v for k, v in clean_outcome.items() if k != "result"}
            self._audit.append_in(s, kind, payload, actor=actor)
            self._audit_finish(s, run_id, reason, actor)
        return True

    def release(self, step_id: int, worker_id: str, why: str, actor: str = "worker") -> bool:
        """Give a running step back to the queue without counting the attempt (pause or a
        worker shutting down). False if this worker no longer owns it."""
        with self._session() as s, s.begin():
            self._exclusive(s)
            res = s.execute(
                update(RunStepRow)
                .where(*_owned_by(step_id, worker_id))
                .values(
                    status="queued",
                    attempts=RunStepRow.attempts - 1,
                    worker_id=None,
                    worker_host=None,
                    worker_pid=None,
                    heartbeat_at=None,
                    progress=None,
                )
            )
            if not getattr(res, "rowcount", 0):
                return False
            run_id = s.scalar(select(RunStepRow.run_id).where(RunStepRow.id == step_id))
            self._audit.append_in(
                s, "step.released", {"run_id": run_id, "step_id": step_id, "why": why}, actor=actor
            )
        return True

    def requeue_expired(self, lease_s: float, actor: str = "worker") -> list[dict[str, Any]]:
        """Re-queue running steps whose worker stopped beating more than ``lease_s`` ago
        (or, on this host, whose worker process is gone); after ``max_attempts`` claims
        fail them with the reason. Returns what was done, one dict per step."""
        now = datetime.now(UTC)
        cutoff = now - timedelta(seconds=lease_s)
        done: list[dict[str, Any]] = []
        finished: list[tuple[str, str]] = []
        with self._session() as s, s.begin():
            self._exclusive(s)  # serialised with finish(): they lock a step and its run
            q = select(RunStepRow).where(RunStepRow.status == "running")
            for step in s.scalars(q).all():
                last = _utc(step.heartbeat_at or step.claimed_at) or now
                owner = (
                    Owner(step.worker_pid, step.worker_host)
                    if step.worker_pid is not None and step.worker_host
                    else None
                )
                dead = owner is not None and owner.known_dead()
                if last > cutoff and not dead:
                    continue
                why = (
                    f"worker {step.worker_id} (pid {step.worker_pid} on {step.worker_host}) "
                    + ("exited" if dead else f"stopped heartbeating at {last.isoformat()}")
                    + f" during attempt {step.attempts} of {step.max_attempts}"
                )
                if step.attempts < step.max_attempts:
                    step.status, step.worker_id = "queued", None
                    step.worker_host = step.worker_pid = step.heartbeat_at = None
                    step.progress, step.error = None, why
                    done.append({"run_id": step.run_id, "seq": step.seq, "requeued": why})
                else:
                    step.status, step.finished_at = "failed", now
                    step.error = f"gave up after {step.attempts} attempts: {why}"
                    done.append({"run_id": step.run_id, "seq": step.seq, "failed": step.error})
            s.flush()
            for run_id in dict.fromkeys(d["run_id"] for d in done if "failed" in d):
                reason = self._settle(s, self._run(s, run_id, lock=True), now)
                if reason:
                    finished.append((run_id, reason))
            for d in done:
                kind = "step.requeued" if "requeued" in d else "step.failed"
                self._audit.append_in(s, kind, d, actor=actor)
            for run_id, reason in finished:
                self._audit_finish(s, run_id, reason, actor)
        return done

    def runs_to_plan(self) -> list[dict[str, Any]]:
        """Active runs with no open step: a search run's planner decides what comes next
        (and a batch/plan run left unsettled by a crash is settled by it)."""
        open_ = select(RunStepRow.run_id).where(RunStepRow.status.in_(OPEN_STEP))
        with self._session() as s:
            rows = s.scalars(
                select(RunRow)
                .where(RunRow.status.in_(ACTIVE_RUN), RunRow.id.not_in(open_))
                .order_by(RunRow.created_at)
            ).all()
            return [self._run_dict(r) for r in rows]

    def has_queued_work(self) -> bool:
        with self._session() as s:
            q = (
                select(RunStepRow.id)
                .join(RunRow, RunRow.id == RunStepRow.run_id)
                .where(RunStepRow.status == "queued", RunRow.status.in_(ACTIVE_RUN))
                .limit(1)
            )
            return s.scalar(q) is not None or bool(self.runs_to_plan())

    # -- the worker registry ------------------------------------------------------------------
    def worker_beat(self, worker_id: str, stopped: bool = False) -> None:
        me, now = Owner.me(), datetime.now(UTC)
        with self._session() as s, s.begin():
            row = s.get(WorkerRow, worker_id)
            if row is None:
                row = WorkerRow(id=worker_id, host=me.host, pid=me.pid, started_at=now)
                s.add(row)
            row.heartbeat_at = now
            row.stopped_at = now if stopped else None

    def live_workers(self, lease_s: float) -> list[dict[str, Any]]:
        """Workers that beat within ``lease_s`` and have not stopped (a dead pid on this
        host does not count)."""
        cutoff = datetime.now(UTC) - timedelta(seconds=lease_s)
        with self._session() as s:
            rows = s.scalars(
                select(WorkerRow).where(
                    WorkerRow.stopped_at.is_(None), WorkerRow.heartbeat_at >= cutoff
                )
            ).all()
            return [
                {"id": r.id, "host": r.host, "pid": r.pid, "heartbeat_at": _iso(r.heartbeat_at)}
                for r in rows
                if not Owner(r.pid, r.host).known_dead()
            ]

    # -- reading ---------------------------------------------------------------------------------
    def status_counts(self) -> dict[str, dict[str, int]]:
        """``{"runs": {status: n}, "steps": {status: n}}`` (for /metrics and dashboards)."""
        with self._session() as s:
            runs = s.execute(select(RunRow.status, func.count()).group_by(RunRow.status))
            steps = s.execute(select(RunStepRow.status, func.count()).group_by(RunStepRow.status))
            return {
                "runs": {str(k): int(n) for k, n in runs},
                "steps": {str(k): int(n) for k, n in steps},
            }

    @staticmethod
    def _run_dict(r: RunRow) -> dict[str, Any]:
        return {
            "id": r.id,
            "kind": r.kind,
            "status": r.status,
            "finish_reason": r.finish_reason,
            "owner": r.owner,
            "goal_id": r.goal_id,
            "config": r.config,
            "created_at": _iso(r.created_at),
            "started_at": _iso(r.started_at),
            "updated_at": _iso(r.updated_at),
            "finished_at": _iso(r.finished_at),
            "steps_total": r.steps_total,
            "steps_done": r.steps_done,
            "error": r.error,
            "summary": r.summary,
        }

    @staticmethod
    def _step_dict(r: RunStepRow) -> dict[str, Any]:
        return {
            "id": r.id,
            "seq": r.seq,
            "action": r.action,
            "params": r.params,
            "status": r.status,
            "attempts": r.attempts,
            "max_attempts": r.max_attempts,
            "worker_id": r.worker_id,
            "worker_host": r.worker_host,
            "worker_pid": r.worker_pid,
            "claimed_at": _iso(r.claimed_at),
            "heartbeat_at": _iso(r.heartbeat_at),
            "started_at": _iso(r.started_at),
            "finished_at": _iso(r.finished_at),
            "progress": r.progress,
            "outcome": r.outcome,
            "error": r.error,
            "trial_id": r.trial_id,
        }

    def get(self, run_id: str) -> dict[str, Any]:
        """The run and its steps (in seq order)."""
        with self._session() as s:
            d = self._run_dict(self._run(s, run_id))
            steps = s.scalars(
                select(RunStepRow).where(RunStepRow.run_id == run_id).order_by(RunStepRow.seq)
            ).all()
            d["steps"] = [self._step_dict(r) for r in steps]
            return d

    def list(self, limit: int = 20, status: str | None = None) -> list[dict[str, Any]]:
        """Runs, newest first (without their steps)."""
        with self._session() as s:
            q = select(RunRow).order_by(RunRow.created_at.desc(), RunRow.id.desc()).limit(limit)
            if status:
                q = q.where(RunRow.status == status)
            return [self._run_dict(r) for r in s.scalars(q)]

    def feedback(self, run_id: str) -> builtins.list[dict[str, Any]]:
        """Every final step's request and outcome, in seq order: what the next planning
        step reads (the persisted trial feedback)."""
        with self._session() as s:
            self._run(s, run_id)
            rows = s.scalars(
                select(RunStepRow)
                .where(RunStepRow.run_id == run_id, RunStepRow.status.in_(FINAL_STEP))
                .order_by(RunStepRow.seq)
            ).all()
            return [
                {
                    "seq": r.seq,
                    "action": r.action,
                    "params": r.params,
                    "status": r.status,
                    "outcome": r.outcome,
                    "error": r.error,
                    "trial_id": r.trial_id,
                }
                for r in rows
            ]
