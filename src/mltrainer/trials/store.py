"""Trial storage: spec, status, result and provenance of every trial, in the database.

A queued or running trial records its owner (pid, host) and a heartbeat that the runner
renews every few seconds. Readers report such a trial as ``interrupted`` when its owner
is gone: on this host, as soon as the pid is dead; on another host (or with no pid), when
the heartbeat is older than the lease. ``claim`` hands an interrupted trial to a new
process (``mltrainer trial resume``), under the same id.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import Engine, func, select, update
from sqlalchemy.orm import Session

from ..db import lock_for_write
from ..db.tables import TrialRow
from ..errors import NotFound, TrialError
from ..process import Owner
from ..scrub import Scrubber
from .counting import TrialCount, question
from .spec import TrialResult, TrialSpec

if TYPE_CHECKING:
    from ..audit import AuditLog

__all__ = ["TrialStore", "new_trial_id"]


def new_trial_id() -> str:
    """``trial_YYYYmmdd_HHMMSS_xxxxxx``: sortable by time, unique."""
    return f"trial_{datetime.now(UTC):%Y%m%d_%H%M%S}_{uuid.uuid4().hex[:6]}"


_LIVE = ("queued", "running")


def _utc(dt: datetime) -> datetime:
    return dt.replace(tzinfo=UTC) if dt.tzinfo is None else dt.astimezone(UTC)


class TrialStore:
    def __init__(
        self,
        engine: Engine,
        scrubber: Scrubber | None = None,
        *,
        lease_s: float = 60.0,
        heartbeat_s: float = 5.0,
    ):
        self._engine = engine
        self._scrub = scrubber or Scrubber()
        self.lease_s = lease_s
        """Heartbeat age after which a trial owned elsewhere counts as interrupted."""
        self.heartbeat_s = heartbeat_s
        """How often the runner renews a running trial's heartbeat."""

    def create(
        self,
        spec: TrialSpec,
        *,
        goal_id: str | None = None,
        study: str | None = None,
        status: str = "queued",
        audit: AuditLog | None = None,
        actor: str = "system",
    ) -> str:
        """Store a new trial row; with ``audit`` its ``trial.create`` record is written in
        the same transaction (the row never exists without its record)."""
        tid = new_trial_id()
        me, now = Owner.me(), datetime.now(UTC)
        with Session(self._engine) as s, s.begin():
            s.add(
                TrialRow(
                    id=tid,
                    created_at=now,
                    owner_pid=me.pid,
                    owner_host=me.host,
                    heartbeat_at=now,
                    status=status,
                    model_id=spec.model_id,
                    symbol=spec.symbol,
                    source=spec.source,
                    goal_id=goal_id,
                    study=study,
                    spec=spec.canonical(),
                    spec_hash=spec.spec_hash(),
                )
            )
            if audit is not None:
                audit.append_in(
                    s,
                    "trial.create",
                    {"trial_id": tid, "spec": spec.canonical(), "goal_id": goal_id, "study": study},
                    actor=actor,
                )
        return tid

    def set_status(self, trial_id: str, status: str) -> None:
        with Session(self._engine) as s, s.begin():
            row = s.get(TrialRow, trial_id)
            if row is None:
                raise NotFound(f"no trial '{trial_id}'")
            row.status = status

    def start(self, trial_id: str) -> None:
        """Mark a trial running, owned by this process, with a fresh heartbeat."""
        me = Owner.me()
        with Session(self._engine) as s, s.begin():
            row = s.get(TrialRow, trial_id)
            if row is None:
                raise NotFound(f"no trial '{trial_id}'")
            row.status, row.owner_pid, row.owner_host = "running", me.pid, me.host
            row.heartbeat_at = datetime.now(UTC)

    def beat(self, trial_id: str) -> bool:
        """Renew the heartbeat; False if this process no longer owns the running trial."""
        me = Owner.me()
        with Session(self._engine) as s, s.begin():
            res = s.execute(
                update(TrialRow)
                .where(
                    TrialRow.id == trial_id,
                    TrialRow.status == "running",
                    TrialRow.owner_pid == me.pid,
                    TrialRow.owner_host == me.host,
                )
                .values(heartbeat_at=datetime.now(UTC))
            )
            return bool(getattr(res, "rowcount", 0))

    def claim(
        self, trial_id: str, audit: AuditLog | None = None, actor: str = "system"
    ) -> dict[str, Any]:
        """Take over an interrupted trial for this process and return it (full dict).

        Refuses, with the reason, a trial that is done, failed, or still owned by a live
        process. The check and the take-over are one exclusive transaction, so two
        resumes of the same trial cannot both win; with ``audit`` its ``trial.resume``
        record is written in that transaction too.
        """
        me = Owner.me()
        with Session(self._engine) as s, s.begin():
            lock_for_write(s, f"trial:{trial_id}")
            row = s.get(TrialRow, trial_id)
            if row is None:
                raise NotFound(f"no trial '{trial_id}'; list trials with 'mltrainer trial list'")
            status = self.status_of(row)
            if status != "interrupted":
                raise TrialError(self._not_resumable(row, status))
            before = self._to_dict(row, full=True)
            row.status, row.owner_pid, row.owner_host = "running", me.pid, me.host
            row.heartbeat_at = datetime.now(UTC)
            if audit is not None:
                audit.append_in(
                    s,
                    "trial.resume",
                    {
                        "trial_id": trial_id,
                        "spec_hash": before["spec_hash"],
                        "previous": before["owner"],
                    },
                    actor=actor,
                )
            return before

    def interrupted_like(
        self, spec: TrialSpec, *, goal_id: str | None = None, study: str | None = None
    ) -> list[str]:
        """Interrupted trials of this very spec, goal and study, oldest first: the trial a
        retried run step started before its worker died, which the retry resumes under the
        same id instead of leaving it behind (see :meth:`TrialRunner.run`)."""
        q = select(TrialRow).where(
            TrialRow.status.in_(_LIVE),
            TrialRow.spec_hash == spec.spec_hash(),
            TrialRow.goal_id.is_(None) if goal_id is None else TrialRow.goal_id == goal_id,
            TrialRow.study.is_(None) if study is None else TrialRow.study == study,
        )
        with Session(self._engine) as s:
            rows = s.scalars(q.order_by(TrialRow.created_at, TrialRow.id)).all()
            return [r.id for r in rows if self.status_of(r) == "interrupted"]

    @staticmethod
    def _not_resumable(row: TrialRow, status: str) -> str:
        tid = row.id
        if status == "done":
            return f"trial '{tid}' is already done; nothing to resume (see: mltrainer trial show {tid})"
        if status == "failed":
            return (
                f"trial '{tid}' failed ({row.error}); it is not interrupted. Fix the cause and "
                "start a new trial with 'mltrainer trial run'"
            )
        return (
            f"trial '{tid}' is {status}, owned by live process {row.owner_pid} on "
            f"{row.owner_host}; it cannot be resumed while that process runs it"
        )

    def status_of(self, row: TrialRow, now: datetime | None = None) -> str:
        """The stored status, or ``interrupted`` for live work whose owner is gone."""
        if row.status not in _LIVE:
            return row.status
        if row.owner_pid is None and row.status == "queued":
            return row.status  # waiting for a worker: nobody owns it yet
        if row.owner_pid is not None and row.owner_host is not None:
            owner = Owner(row.owner_pid, row.owner_host)
            if owner.is_local():
                return "interrupted" if owner.known_dead() else row.status
        last = _utc(row.heartbeat_at or row.created_at)
        age = ((now or datetime.now(UTC)) - last).total_seconds()
        return "interrupted" if age > self.lease_s else row.status

    def finish(
        self,
        trial_id: str,
        result: TrialResult,
        audit: AuditLog | None = None,
        actor: str = "system",
    ) -> None:
        """Store a finished trial's result; with ``audit`` its ``trial.done`` record and its
        seal (:mod:`mltrainer.seals`) commit in the same transaction."""
        with Session(self._engine) as s, s.begin():
            row = s.get(TrialRow, trial_id)
            if row is None:
                raise NotFound(f"no trial '{trial_id}'")
            row.status = "done"
            row.finished_at = datetime.now(UTC)
            row.result = result.model_dump(mode="json")
            row.data_hash = result.data_sha256
            row.sharpe = result.metrics.get("sharpe")
            if audit is not None:
                from ..seals import seal_in

                audit.append_in(
                    s,
                    "trial.done",
                    {
                        "trial_id": trial_id,
                        "spec_hash": result.spec_hash,
                        "data_sha256": result.data_sha256,
                        "metrics": result.metrics,
                    },
                    actor=actor,
                )
                seal_in(s, audit, "trial.seal", trial_id, actor=actor)

    def fail(
        self, trial_id: str, error: str, audit: AuditLog | None = None, actor: str = "system"
    ) -> None:
        """Mark a trial failed; ``error`` is stored with every configured secret scrubbed.
        With ``audit`` the ``trial.failed`` record is written in the same transaction."""
        with Session(self._engine) as s, s.begin():
            row = s.get(TrialRow, trial_id)
            if row is None:
                raise NotFound(f"no trial '{trial_id}'")
            row.status = "failed"
            row.finished_at = datetime.now(UTC)
            row.error = self._scrub.text(error)
            if audit is not None:
                audit.append_in(
                    s, "trial.failed", {"trial_id": trial_id, "error": error}, actor=actor
                )

    def get(self, trial_id: str) -> dict[str, Any]:
        with Session(self._engine) as s:
            row = s.get(TrialRow, trial_id)
            if row is None:
                close = s.scalars(
                    select(TrialRow.id).order_by(TrialRow.created_at.desc()).limit(5)
                ).all()
                hint = f"; recent trials: {', '.join(close)}" if close else ""
                raise NotFound(f"no trial '{trial_id}'{hint}")
            return self._to_dict(row, full=True)

    def result(self, trial_id: str) -> TrialResult:
        d = self.get(trial_id)
        if d["result"] is None:
            raise NotFound(f"trial '{trial_id}' has no result (status {d['status']})")
        return TrialResult.model_validate(d["result"])

    def list(
        self,
        limit: int = 50,
        goal_id: str | None = None,
        model_id: str | None = None,
        *,
        symbol: str | None = None,
        offset: int = 0,
    ) -> list[dict[str, Any]]:
        """Trials newest first, filtered; ``offset`` skips that many (paging)."""
        q = self._filtered(select(TrialRow), goal_id, model_id, symbol)
        q = q.order_by(TrialRow.created_at.desc(), TrialRow.id.desc()).offset(offset).limit(limit)
        with Session(self._engine) as s:
            return [self._to_dict(r, full=False) for r in s.scalars(q)]

    @staticmethod
    def _filtered(q: Any, goal_id: str | None, model_id: str | None, symbol: str | None) -> Any:
        for col, value in (
            (TrialRow.goal_id, goal_id),
            (TrialRow.model_id, model_id),
            (TrialRow.symbol, symbol),
        ):
            if value:
                q = q.where(col == value)
        return q

    def counted_trials(
        self, spec: TrialSpec, *, goal_id: str | None = None, study: str | None = None
    ) -> TrialCount:
        """The finished trials a new trial of ``spec`` is deflated against (for the DSR).

        By default every finished trial on the same symbol, label horizon and bar interval
        (an unset interval means the source's own), whatever its model, goal or study:
        each one was a chance to find a lucky Sharpe on the same question. A named study
        scopes the count to that study's finished trials; otherwise a goal scopes it to
        the goal's. The new trial itself is not included (it is not finished).
        """
        spec_of = TrialRow.spec
        q = select(
            TrialRow.symbol,
            spec_of["source"].as_string(),
            spec_of["horizon"].as_integer(),
            spec_of["interval"].as_string(),
            TrialRow.result[("metrics", "sharpe_per_period")].as_float(),
        ).where(TrialRow.status == "done")
        if study is not None:
            q = q.where(TrialRow.study == study)
        elif goal_id is not None:
            q = q.where(TrialRow.goal_id == goal_id)
        else:  # the symbol column is indexed; the JSON fields are read per matching row
            q = q.where(
                TrialRow.symbol == spec.symbol, spec_of["horizon"].as_integer() == spec.horizon
            )
        key = question(spec.model_dump())
        n, sharpes = 0, []
        with Session(self._engine) as s:
            for symbol, source, horizon, interval, sharpe in s.execute(q):
                asked = {
                    "symbol": symbol,
                    "source": source,
                    "horizon": horizon,
                    "interval": interval,
                }
                if study is None and goal_id is None and question(asked) != key:
                    continue
                n += 1
                if sharpe is not None:
                    sharpes.append(float(sharpe))
        return TrialCount(n, sharpes)

    def count(
        self, goal_id: str | None = None, model_id: str | None = None, symbol: str | None = None
    ) -> int:
        """How many trials match the filters of :meth:`list` (all, unfiltered)."""
        q = self._filtered(select(func.count()).select_from(TrialRow), goal_id, model_id, symbol)
        with Session(self._engine) as s:
            return int(s.scalar(q) or 0)

    def _to_dict(self, r: TrialRow, full: bool) -> dict[str, Any]:
        d: dict[str, Any] = {
            "id": r.id,
            "created_at": r.created_at.isoformat() if r.created_at else None,
            "finished_at": r.finished_at.isoformat() if r.finished_at else None,
            "status": self.status_of(r),
            "owner": {
                "pid": r.owner_pid,
                "host": r.owner_host,
                "heartbeat_at": _utc(r.heartbeat_at).isoformat() if r.heartbeat_at else None,
            },
            "model_id": r.model_id,
            "symbol": r.symbol,
            "source": r.source,
            "goal_id": r.goal_id,
            "study": r.study,
            "spec_hash": r.spec_hash,
            "data_hash": r.data_hash,
            "sharpe": r.sharpe,
            "error": r.error,
        }
        if full:
            d["spec"] = r.spec
            d["result"] = r.result
        elif r.result:
            d["metrics"] = r.result.get("metrics", {})
        return d
