"""The importer: every legacy file of a folder into mlTrainer, in ONE database transaction.

:meth:`Migrator.run` reads every file first (:mod:`.readers`); a bad line anywhere stops
it before anything is written, naming file, line and reason (:class:`MigrationError`),
unless ``skip_bad_lines`` is set, when the rest is imported and every skipped line is
listed. Then, in one transaction that holds the write lock from before its first read:

1. fingerprints already stored (:mod:`.fingerprints`) and goals already imported are
   looked up, so a second run imports nothing new and says "already imported";
2. chat messages go to unified memory (time order, original timestamps, their own topics
   and importance where the earlier version wrote them, computed where it did not);
3. goals go to the goal history with their original timestamps, archived and sealed; the
   legacy current goal becomes the active goal when none is active and the compliance
   gateway allows its text (:meth:`GoalSystem.restore_in`);
4. compliance and audit logs are appended to the audit chain as ``legacy.*`` records
   through :meth:`AuditLog.append_in`, so the chain stays valid (the old
   ``compliance_verified: true`` is kept as the claim it was, in ``legacy_claims``);
5. every record gets a ``legacy_records`` row (its fingerprint, file, line, original
   timestamp, where it went); legacy replies and trial configs carry today's bridge's
   reading of them as suggestions, never run; trial feedback is stored as legacy
   outcomes, never as trials;
6. one ``migrate.import`` audit record names the files (with SHA-256) and the totals.

A dry run does steps 1 and the analysis in a read-only session and writes nothing.
"""

from __future__ import annotations

import json
import logging
import re
import time
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from sqlalchemy import ARRAY, Engine, String, Table, any_, bindparam, insert, select
from sqlalchemy.orm import Session

from ..db import lock_for_write
from ..db.tables import GoalRow, LegacyImportRow, LegacyRecordRow
from ..errors import InputError
from .fingerprints import fingerprint
from .readers import (
    TARGETS,
    Chat,
    FileRead,
    GoalEvent,
    Record,
    find_files,
    read_file,
)
from .report import FileReport, MigrationReport, SkippedLine, Totals

if TYPE_CHECKING:
    from ..agent.bridge import Bridge, ParseResult
    from ..app import App
    from ..audit import AuditLog
    from ..executor import UnifiedExecutor
    from ..goals import GoalSystem
    from ..memory import UnifiedMemory

__all__ = ["Migrator", "MigrationError", "open_migrator", "Progress"]

log = logging.getLogger(__name__)

Progress = Callable[[str, int, int], None]
"""``progress(stage, done, total)``: ``reading`` (bytes) then ``importing`` (records)."""

_CHUNK = 500
_CONFIG_KEYS = (
    "symbol",
    "model",
    "model_id",
    "parameters",
    "params",
    "timeframes",
    "horizon",
    "stop_loss",
    "start",
    "end",
)
_SAFE_ID = re.compile(r"[A-Za-z0-9_-]{1,32}")
_NEVER_RUN = "re-parsed by today's bridge and stored as suggestions; never run"


class MigrationError(InputError):
    """A legacy file cannot be imported as it is; nothing was imported."""

    def __init__(self, path: str, where: str, reason: str, line: int | None = None):
        self.path, self.where, self.reason, self.line = path, where, reason, line
        super().__init__(
            f"{path} {where}: {reason}; nothing was imported (fix it, or run again with "
            "--skip-bad-lines to import the rest and list every skipped line)"
        )


@dataclass
class _Goal:
    key: str
    legacy_id: str | None
    goal_id: str
    text: str | None = None
    created_at: datetime | None = None
    archived_at: datetime | None = None
    created_by: str = "legacy"
    sources: list[str] = field(default_factory=list)


@dataclass
class _Plan:
    chats: list[tuple[FileReport, Chat]] = field(default_factory=list)
    records: list[tuple[FileReport, Record]] = field(default_factory=list)
    goals: list[_Goal] = field(default_factory=list)
    current: _Goal | None = None
    goal_detail: str = ""
    goal_of: dict[str, str] = field(default_factory=dict)
    """``"<file> <where>"`` of a goal event -> ``goal:<id>`` (the legacy record's target)."""


def _legacy_goal_id(legacy_id: str | None, text: str) -> str:
    """``legacy_<id>`` for a plain legacy id, else ``legacy_<sha256 prefix>``."""
    if legacy_id and _SAFE_ID.fullmatch(legacy_id):
        return f"legacy_{legacy_id}"
    return f"legacy_{fingerprint('goal', legacy_id, text)[:16]}"


def _utc(dt: datetime | None) -> datetime | None:
    if dt is None:
        return None
    return dt.replace(tzinfo=UTC) if dt.tzinfo is None else dt.astimezone(UTC)


def _suggestions(res: ParseResult) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = [a.model_dump(mode="json") for a in res.actions]
    for plan in res.plans:
        for step in plan.model_dump(mode="json")["steps"]:
            out.append({**step, "origin": plan.origin, "plan": True})
    return out


class Migrator:
    """Imports legacy mlTrainer logs; see the module docstring.

    ``bridge``: today's :class:`~mltrainer.agent.bridge.Bridge`, or a callable that
    builds one (called only when there is a legacy reply or trial config to read).
    ``scrub``: applied to every legacy record stored (memory and audit scrub their own).
    """

    def __init__(
        self,
        engine: Engine,
        audit: AuditLog,
        memory: UnifiedMemory,
        goals: GoalSystem,
        bridge: Bridge | Callable[[], Bridge],
        scrub: Callable[[Any], Any] | None = None,
    ):
        self._engine = engine
        self._audit = audit
        self._memory = memory
        self._goals = goals
        self._bridge_source = bridge
        self._bridge: Bridge | None = None
        self._scrub = scrub or (lambda x: x)

    @property
    def bridge(self) -> Bridge:
        if self._bridge is None:
            src = self._bridge_source
            self._bridge = src if hasattr(src, "parse") else src()  # type: ignore[operator,assignment]
        assert self._bridge is not None
        return self._bridge

    # -- entry point -------------------------------------------------------------------
    def run(
        self,
        folder: str | Path,
        *,
        dry_run: bool = False,
        skip_bad_lines: bool = False,
        actor: str = "migrate",
        source: str | None = None,
        progress: Progress | None = None,
    ) -> MigrationReport:
        """Import (or, with ``dry_run``, only report) every legacy file under ``folder``."""
        t0 = time.perf_counter()
        root = Path(folder)
        if not root.is_dir():
            raise InputError(f"{root} is not a folder; give the folder that holds logs/")
        files, notes = find_files(root)
        known = [f for f in files if f.kind != "unrecognised"]
        if not known:
            raise InputError(
                f"{root} holds no legacy mlTrainer files: expected logs/ with files such as "
                "chat_history.json, goal_history.jsonl or memory/chat_memory.jsonl"
            )
        report = MigrationReport(
            source=source or str(root), dry_run=dry_run, skip_bad_lines=skip_bad_lines
        )
        reads: list[FileRead] = []
        total, done = sum(f.size for f in known), 0
        for f in files:
            if f.kind == "unrecognised":
                report.files.append(
                    FileReport(
                        path=f.rel,
                        kind="unrecognised",
                        recognised=False,
                        target="not imported",
                        status="not recognised",
                        notes=["not a known legacy file; not imported, never guessed at"],
                    )
                )
                continue
            reads.append(read_file(f))
            done += f.size
            if progress:
                progress("reading", done, total)
        for r in reads:
            for b in r.bad:
                if not b.tolerated and not skip_bad_lines:
                    raise MigrationError(r.rel, b.where, b.reason, b.line)
        by_path = {r.rel: self._file_report(r) for r in reads}
        report.files = [*by_path.values(), *report.files]
        report.notes = notes
        plan = self._plan(reads, by_path)
        if any(r.reparse is not None or r.trial_config is not None for _, r in plan.records):
            self.bridge  # noqa: B018 - built before the write lock is taken
        with Session(self._engine, expire_on_commit=False) as s:
            if dry_run:
                self._check(s, plan, report, dry_run=True)
                s.rollback()
            else:
                with s.begin():
                    lock_for_write(s, "goals")  # SQLite: BEGIN IMMEDIATE, the whole database
                    if s.get_bind().dialect.name == "postgresql":
                        lock_for_write(s, "migrate")
                    new = self._check(s, plan, report, dry_run=False)
                    if new:
                        self._apply(s, plan, report, actor, progress)
        self._finish(report, time.perf_counter() - t0)
        log.info("migrate %s: %s", report.source, report.summary)
        return report

    # -- planning ----------------------------------------------------------------------
    @staticmethod
    def _file_report(r: FileRead) -> FileReport:
        return FileReport(
            path=r.rel,
            kind=r.kind,
            sha256=r.sha256,
            target=TARGETS.get(r.kind, "legacy records"),
            read=r.read,
            skipped=[SkippedLine(where=b.where, line=b.line, reason=b.reason) for b in r.bad],
            notes=list(r.notes),
        )

    def _plan(self, reads: list[FileRead], by_path: dict[str, FileReport]) -> _Plan:
        plan = _Plan()
        seen: set[str] = set()
        for r in reads:
            fr = by_path[r.rel]
            for c in r.chats:
                if c.fingerprint in seen:
                    fr.duplicates += 1
                else:
                    seen.add(c.fingerprint)
                    plan.chats.append((fr, c))
            for rec in r.records:
                if rec.fingerprint in seen:
                    fr.duplicates += 1
                else:
                    seen.add(rec.fingerprint)
                    plan.records.append((fr, rec))
        self._plan_goals(reads, plan)
        self._cross_check(reads, by_path)
        return plan

    @staticmethod
    def _plan_goals(reads: list[FileRead], plan: _Plan) -> None:
        """One goal per legacy goal id (or per text, for goals written without one), in
        time order; the legacy current goal is the active one of ``system_goals.json``,
        else the newest goal set (``goal_history.jsonl``) or changed to
        (``memory/goal_memory.jsonl``) and never archived."""
        events = [(r, e) for r in reads for e in r.goals]
        order = {"current": 0, "set": 1, "archive": 2, "change": 3}
        events.sort(key=lambda x: (order[x[1].action], x[1].ts or datetime.max.replace(tzinfo=UTC)))
        goals: dict[str, _Goal] = {}
        by_text: dict[str, _Goal] = {}
        current: _Goal | None = None
        missing: list[str] = []

        def goal_for(e: GoalEvent) -> _Goal | None:
            if e.legacy_id is not None:
                key = f"id:{e.legacy_id}"
            elif e.text is not None:
                if e.text in by_text:
                    return by_text[e.text]
                key = f"text:{e.text}"
            else:
                return None
            if key not in goals:
                goals[key] = _Goal(key, e.legacy_id, "")
            return goals[key]

        for r, e in events:
            where = f"{r.rel} {e.where}"
            if e.action == "change" and e.legacy_id is None and e.text in by_text:
                by_text[e.text].sources.append(where)
                continue
            g = goal_for(e)
            if g is None:
                continue
            g.sources.append(where)
            if e.text and not g.text:
                g.text = e.text
            if e.action in ("current", "set", "change") and e.ts and g.created_at is None:
                g.created_at = e.ts
            if e.action == "current":
                g.created_by = e.created_by or g.created_by
                if e.status in (None, "active"):
                    current = g
            if e.action == "archive" and e.ts and g.archived_at is None:
                g.archived_at = e.ts
            if g.text:
                by_text.setdefault(g.text, g)
        for g in goals.values():
            if not g.text or g.created_at is None:
                missing.append(g.legacy_id or g.key)
                continue
            g.goal_id = _legacy_goal_id(g.legacy_id, g.text)
            plan.goals.append(g)
            plan.goal_of.update(dict.fromkeys(g.sources, f"goal:{g.goal_id}"))
        plan.goals.sort(key=lambda g: (g.created_at, g.goal_id))
        if current is None:
            open_ = [g for g in plan.goals if g.archived_at is None]
            current = open_[-1] if open_ else None  # plan.goals is in time order
        elif current.archived_at is not None:
            plan.goal_detail = (
                f"system_goals.json calls goal {current.legacy_id} active but goal_history "
                f"archived it at {current.archived_at.isoformat()}; not restored"
            )
            current = None
        plan.current = current if current is not None and current.goal_id else None
        if missing:
            plan.goal_detail = (
                (plan.goal_detail + "; " if plan.goal_detail else "")
                + f"{len(missing)} legacy goal(s) without text or time not imported: "
                + ", ".join(missing[:10])
            )

    @staticmethod
    def _cross_check(reads: list[FileRead], by_path: dict[str, FileReport]) -> None:
        """``topic_index.json`` is derived from chat memory: compare, never import."""
        topics_of: dict[str, set[str]] = {}
        for r in reads:
            if r.kind == "chat_memory":
                for c in r.chats:
                    lid = c.message.metadata.get("legacy_id")
                    if lid is not None and c.topics_given:
                        topics_of[str(lid)] = set(c.message.topics)
        for r in reads:
            if r.kind != "topic_index" or r.topic_index is None:
                continue
            unknown = wrong = 0
            for topic, ids in r.topic_index.items():
                for mid in ids:
                    if str(mid) not in topics_of:
                        unknown += 1
                    elif topic not in topics_of[str(mid)]:
                        wrong += 1
            fr = by_path[r.rel]
            fr.notes.append(
                f"cross-checked {len(r.topic_index)} topics against memory/chat_memory.jsonl: "
                f"{unknown} message ids not found, {wrong} not tagged with their topic"
            )
            fr.status = "cross-checked"

    # -- reading the database (both runs) ----------------------------------------------
    def _stored(self, s: Session, fps: list[str]) -> set[str]:
        """Which of ``fps`` are stored: chunks of ``IN``, or on PostgreSQL ``= ANY`` of one
        array parameter per 10,000 (psycopg parses every placeholder of a long ``IN``)."""
        found: set[str] = set()
        col = LegacyRecordRow.fingerprint
        if s.get_bind().dialect.name == "postgresql":
            stmt = select(col).where(col == any_(bindparam("fps", type_=ARRAY(String(64)))))
            for i in range(0, len(fps), 10_000):
                found.update(s.scalars(stmt, {"fps": fps[i : i + 10_000]}))
            return found
        for i in range(0, len(fps), _CHUNK):
            found.update(s.scalars(select(col).where(col.in_(fps[i : i + _CHUNK]))))
        return found

    def _check(self, s: Session, plan: _Plan, report: MigrationReport, *, dry_run: bool) -> bool:
        """Drop what is already stored from ``plan``, analyse the rest, fill the counts
        and the goal outcome; True when anything is new."""
        fps = [c.fingerprint for _, c in plan.chats] + [r.fingerprint for _, r in plan.records]
        stored = self._stored(s, fps)
        chats, records = [], []
        for fr, c in plan.chats:
            if c.fingerprint in stored:
                fr.already_present += 1
            else:
                fr.imported += 1
                chats.append((fr, c))
        for fr, r in plan.records:
            if r.fingerprint in stored:
                fr.already_present += 1
            else:
                fr.imported += 1
                records.append((fr, r))
        plan.chats, plan.records = chats, records
        ids = [g.goal_id for g in plan.goals]
        existing: set[str] = set()
        for i in range(0, len(ids), _CHUNK):
            existing.update(
                s.scalars(select(GoalRow.id).where(GoalRow.id.in_(ids[i : i + _CHUNK])))
            )
        goal = report.goal
        goal.history = len(plan.goals)
        goal.already_present = sum(1 for g in plan.goals if g.goal_id in existing)
        cur = plan.current
        plan.goals = [g for g in plan.goals if g.goal_id not in existing]
        goal.imported = len(plan.goals)
        self._analyse(records)
        self._count_new(plan, report.totals)
        if cur is not None:
            goal.legacy_goal_id, goal.goal_id, goal.text = cur.legacy_id, cur.goal_id, cur.text
            if cur.goal_id in existing:
                goal.outcome, goal.detail = "already_imported", "imported by an earlier migrate"
            elif dry_run:
                active = self._goals.active_in(s)
                d = self._goals.text_decision(cur.text or "")
                if active is not None:
                    goal.outcome = "archived"
                    goal.detail = f"would not be restored: goal {active.id} is already active"
                elif not d.allowed:
                    goal.outcome, goal.detail = "refused", f"would not be restored: {d.reason}"
                else:
                    goal.outcome, goal.detail = "restored", "would be restored as the active goal"
        if plan.goal_detail:
            goal.detail = f"{goal.detail}; {plan.goal_detail}" if cur else plan.goal_detail
        return bool(plan.chats or plan.records or plan.goals)

    @staticmethod
    def _count_new(plan: _Plan, t: Totals) -> None:
        t.messages, t.goals = len(plan.chats), len(plan.goals)
        for _fr, r in plan.records:
            t.audit_records += r.audit_kind is not None
            t.legacy_outcomes += r.kind == "trial_outcome"
            a = r.analysis or {}
            t.suggestions += len(a.get("suggestions", []))
            cfg = a.get("trial_config")
            if cfg is not None:
                t.suggestions += len(cfg["suggestions"])
                t.invalid_trial_configs += not cfg["valid"]

    def _analyse(self, records: Iterable[tuple[FileReport, Record]]) -> None:
        """Today's bridge reads every new legacy reply and trial config (never runs them)."""
        for _fr, r in records:
            if r.reparse is not None:
                res = self.bridge.parse(r.reparse)
                r.analysis = {
                    "suggestions": _suggestions(res),
                    "errors": [e.model_dump(mode="json") for e in res.errors],
                    "never_run": True,
                    "note": _NEVER_RUN,
                }
            elif r.trial_config is not None:
                r.analysis = {"trial_config": self._validate_trial(r.trial_config)}

    def _validate_trial(self, cfg: dict[str, Any]) -> dict[str, Any]:
        """A legacy trial config as today's bridge reads it: its errors (symbol ``FOR``,
        model ``on``...) and the suggestions it would make. Never a runnable trial."""
        fields = {k: cfg[k] for k in _CONFIG_KEYS if k in cfg}
        errors: list[str] = []
        suggestions: list[dict[str, Any]] = []
        if not fields:
            errors.append("the trial config names no symbol or model")
        else:
            res = self.bridge.parse(json.dumps(fields, default=str))
            errors = [e.message for e in res.errors]
            suggestions = _suggestions(res)
            if not errors and not suggestions:
                errors.append("today's bridge found no trial it could validate in it")
        return {
            "valid": not errors,
            "errors": errors,
            "suggestions": suggestions,
            "runnable": False,
            "note": "kept as a legacy record; " + _NEVER_RUN,
        }

    # -- writing (the real run) --------------------------------------------------------
    def _apply(
        self,
        s: Session,
        plan: _Plan,
        report: MigrationReport,
        actor: str,
        progress: Progress | None,
    ) -> None:
        now = datetime.now(UTC)
        import_id = f"mig_{uuid.uuid4().hex[:12]}"
        report.import_id = import_id
        row = LegacyImportRow(
            id=import_id,
            started_at=now,
            finished_at=now,
            source=report.source,
            actor=actor,
            records=0,
            report={},
        )
        s.add(row)
        s.flush()
        conn = s.connection()
        total = len(plan.chats) + len(plan.records) + len(plan.goals)
        done = 0
        targets: dict[str, str] = {}
        chats = sorted(plan.chats, key=lambda x: x[1].message.ts or now)
        for _fr, c in chats:
            if not c.topics_given:
                m = c.message
                m.topics = self._memory.extract_topics(m.content, m.role, m.metadata)
        for i in range(0, len(chats), 5000):
            part = chats[i : i + 5000]
            ids = self._memory.add_many_in(conn, (c.message for _, c in part), extract_topics=False)
            for (_, c), mid in zip(part, ids, strict=True):
                targets[c.fingerprint] = f"memory:{mid}"
            done += len(part)
            if progress:
                progress("importing", done, total)
        self._apply_goals(s, plan, report, actor)
        done += len(plan.goals)
        rows: list[dict[str, Any]] = []
        for n, (fr, r) in enumerate(plan.records, 1):
            target = plan.goal_of.get(f"{fr.path} {r.where}")
            data = self._scrub(r.data)
            if r.audit_kind is not None:
                payload: dict[str, Any] = {
                    "legacy": True,
                    "import_id": import_id,
                    "file": fr.path,
                    "where": r.where,
                    "legacy_ts": r.ts.isoformat() if r.ts else None,
                    "record": data,
                    "fingerprint": r.fingerprint,
                }
                if r.analysis:
                    payload.update(r.analysis)
                rec = self._audit.append_in(s, r.audit_kind, payload, actor=actor)
                target, data = f"audit:{rec.seq}", None
            rows.append(
                {
                    "fingerprint": r.fingerprint,
                    "kind": r.kind,
                    "import_id": import_id,
                    "source_file": fr.path,
                    "line": r.line,
                    "ts": r.ts,
                    "data": data,
                    "analysis": self._scrub(r.analysis) if r.analysis else None,
                    "target": target,
                }
            )
            if progress and n % 1000 == 0:
                progress("importing", done + n, total)
        chat_rows = [  # no data or analysis: the message itself is in memory (SQL NULL)
            {
                "fingerprint": c.fingerprint,
                "kind": "chat",
                "import_id": import_id,
                "source_file": fr.path,
                "line": c.line,
                "ts": c.message.ts,
                "target": targets[c.fingerprint],
            }
            for fr, c in chats
        ]
        table = cast(Table, LegacyRecordRow.__table__)
        for batch in (rows, chat_rows):
            for i in range(0, len(batch), 5000):
                conn.execute(insert(table), batch[i : i + 5000])
        if progress:
            progress("importing", total, total)
        self._finish(report, 0.0)
        summary = {
            "import_id": import_id,
            "source": report.source,
            "files": [
                {"path": f.path, "kind": f.kind, "imported": f.imported, "sha256": f.sha256}
                for f in report.files
                if f.recognised
            ],
            "totals": report.totals.model_dump(),
            "goal": report.goal.model_dump(),
        }
        self._audit.append_in(s, "migrate.import", summary, actor=actor)
        row.finished_at = datetime.now(UTC)
        row.records = report.totals.imported
        row.report = report.model_dump(mode="json")

    def _apply_goals(self, s: Session, plan: _Plan, report: MigrationReport, actor: str) -> None:
        for g in plan.goals:
            assert g.text is not None and g.created_at is not None
            self._goals.add_history_in(
                s,
                goal_id=g.goal_id,
                text=g.text,
                created_at=g.created_at,
                archived_at=g.archived_at,
                created_by=g.created_by,
                actor=actor,
                legacy={"legacy_goal_id": g.legacy_id, "read_from": g.sources[:20]},
            )
        cur = plan.current
        goal = report.goal
        if cur is None or goal.outcome == "already_imported":
            return
        restored, why = self._goals.restore_in(s, cur.goal_id, actor=actor)
        if restored is not None:
            goal.outcome = "restored"
        elif "compliance" in why:
            goal.outcome = "refused"
        else:
            goal.outcome = "archived"
        goal.detail = f"{why}; {plan.goal_detail}" if plan.goal_detail else why

    # -- the report --------------------------------------------------------------------
    @staticmethod
    def _finish(report: MigrationReport, elapsed: float) -> None:
        t = report.totals.model_copy(
            update=dict.fromkeys(
                ("files", "recognised", "unrecognised", "read", "imported")
                + ("already_present", "duplicates", "skipped"),
                0,
            )
        )
        for f in report.files:
            t.files += 1
            if not f.recognised:
                t.unrecognised += 1
                continue
            t.recognised += 1
            t.read += f.read
            t.imported += f.imported
            t.already_present += f.already_present
            t.duplicates += f.duplicates
            t.skipped += len(f.skipped)
            if not f.status:
                f.status = _status(f, report.dry_run)
        report.totals = t
        new = t.imported + report.goal.imported
        report.already_imported = new == 0 and (t.already_present + report.goal.already_present) > 0
        verb = "would import" if report.dry_run else "imported"
        if report.already_imported:
            report.summary = (
                f"already imported: nothing new; {t.already_present} records were imported "
                "by an earlier migrate"
            )
        else:
            report.summary = (
                f"{verb} {t.imported} of {t.read} records from {t.recognised} files "
                f"({t.already_present} already imported, {t.duplicates} duplicates, "
                f"{t.skipped} skipped, {t.unrecognised} files not recognised)"
            )
        if elapsed:
            report.elapsed_s = round(elapsed, 3)


def _status(f: FileReport, dry_run: bool = False) -> str:
    verb = "would import" if dry_run else "imported"
    if f.read == 0 and not f.skipped:
        return "nothing to import"
    if f.imported == 0 and f.already_present and not f.skipped:
        return "already imported"
    if f.skipped:
        return f"{verb} with {len(f.skipped)} skipped"
    return verb


def open_migrator(
    app: App,
    *,
    executor: UnifiedExecutor | None = None,
    memory: UnifiedMemory | None = None,
    goals: GoalSystem | None = None,
) -> Migrator:
    """A :class:`Migrator` over an App's database, audit log, memory, goals and bridge."""
    from ..goals import GoalSystem
    from ..memory import UnifiedMemory
    from ..models.registry import build_registry

    resolve = app.data.lookup_symbol
    if memory is None:
        ids = executor.registry.ids() if executor is not None else build_registry().ids()
        memory = UnifiedMemory(
            app.engine, known_models=ids, resolve_symbol=resolve, scrub=app.scrub
        )
    if goals is None:
        goals = GoalSystem(app.engine, app.gateway, app.audit, resolve_symbol=resolve)

    def bridge() -> Bridge:
        return build_bridge(app, executor)

    return Migrator(app.engine, app.audit, memory, goals, bridge, scrub=app.scrub)


def build_bridge(app: App, executor: UnifiedExecutor | None = None) -> Bridge:
    """Today's bridge as the chat builds it (model ids, symbols, financial ids, tool
    schemas), through its public API only."""
    from ..agent.bridge import Bridge
    from ..agent.tools import derive_tools
    from ..executor import UnifiedExecutor

    ex = executor or UnifiedExecutor(app)
    try:
        return Bridge(
            model_ids=ex.registry.ids(),
            resolve_symbol=app.data.lookup_symbol,
            financial_ids=list(ex.financial.FINANCIAL),
            tool_schemas={t.name: ex.actions[t.name].params for t in derive_tools(ex)},
            model_params={spec.id: list(spec.defaults) for spec in ex.registry},
        )
    finally:
        if executor is None:
            ex.shutdown()
