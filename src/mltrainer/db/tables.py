"""Table definitions (SQLAlchemy 2 declarative). The schema itself is created by Alembic.

Rows are storage, not API: each boundary (CLI JSON, REST, agent tools) has its own
pydantic schema built from these rows.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, DateTime, Float, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

__all__ = [
    "Base",
    "AuditRecordRow",
    "AuditHeadRow",
    "TrialRow",
    "GoalRow",
    "MemoryMessageRow",
    "RunRow",
    "RunStepRow",
    "HoldoutRow",
    "WorkerRow",
    "ApiTokenRow",
    "LegacyImportRow",
    "LegacyRecordRow",
]


class Base(DeclarativeBase):
    pass


class AuditRecordRow(Base):
    __tablename__ = "audit_log"

    seq: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    ts: Mapped[str] = mapped_column(String(40))
    kind: Mapped[str] = mapped_column(String(64), index=True)
    actor: Mapped[str] = mapped_column(String(128))
    payload: Mapped[str] = mapped_column(Text)  # canonical JSON text
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64), unique=True)


class AuditHeadRow(Base):
    """The newest (seq, hash): makes truncation of the chain's tail detectable."""

    __tablename__ = "audit_head"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    seq: Mapped[int] = mapped_column(Integer)
    hash: Mapped[str] = mapped_column(String(64))


class TrialRow(Base):
    __tablename__ = "trials"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    status: Mapped[str] = mapped_column(String(16), index=True)  # queued|running|done|failed
    model_id: Mapped[str] = mapped_column(String(80), index=True)
    symbol: Mapped[str] = mapped_column(String(40), index=True)
    source: Mapped[str] = mapped_column(String(20))
    goal_id: Mapped[str | None] = mapped_column(String(40), nullable=True, index=True)
    study: Mapped[str | None] = mapped_column(String(80), nullable=True, index=True)
    spec: Mapped[dict] = mapped_column(JSON)
    spec_hash: Mapped[str] = mapped_column(String(64), index=True)
    data_hash: Mapped[str | None] = mapped_column(String(64), nullable=True)
    sharpe: Mapped[float | None] = mapped_column(Float, nullable=True)
    result: Mapped[dict | None] = mapped_column(JSON, nullable=True)
    error: Mapped[str | None] = mapped_column(Text, nullable=True)
    # The process running the trial and its latest heartbeat (migration 0004): a queued or
    # running trial whose owner died is shown as ``interrupted`` (see trials.store).
    owner_pid: Mapped[int | None] = mapped_column(Integer, nullable=True)
    owner_host: Mapped[str | None] = mapped_column(String(255), nullable=True)
    heartbeat_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)


class GoalRow(Base):
    """One research goal; at most one row has status ``active`` (see :mod:`mltrainer.goals`)."""

    __tablename__ = "goals"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    text: Mapped[str] = mapped_column(Text)
    components: Mapped[dict] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)
    created_by: Mapped[str] = mapped_column(String(128))
    status: Mapped[str] = mapped_column(String(16), index=True)  # active|archived
    archived_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)


class MemoryMessageRow(Base):
    """One remembered message. On SQLite the FTS5 table ``memory_fts`` mirrors
    ``content`` and ``topics`` through triggers (migration 0003)."""

    __tablename__ = "memory_messages"
    __table_args__ = {"sqlite_autoincrement": True}

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    ts: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)
    role: Mapped[str] = mapped_column(String(16), index=True)
    content: Mapped[str] = mapped_column(Text)
    topics: Mapped[list] = mapped_column(JSON)
    importance: Mapped[float] = mapped_column(Float)
    compliance_flags: Mapped[list] = mapped_column(JSON)
    goal_id: Mapped[str | None] = mapped_column(String(40), nullable=True, index=True)
    conversation_id: Mapped[str | None] = mapped_column(String(80), nullable=True, index=True)
    # "metadata" is reserved on declarative classes, so the attribute is ``meta``.
    meta: Mapped[dict] = mapped_column("metadata", JSON)


class RunRow(Base):
    """A unit of background work (migration 0005); see :mod:`mltrainer.runs`."""

    __tablename__ = "runs"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))  # batch|plan|search
    # proposed|queued|running|paused|cancelled|finished
    status: Mapped[str] = mapped_column(String(16), index=True)
    # goal_met|budget_spent|exhausted|cancelled|failed
    finish_reason: Mapped[str | None] = mapped_column(String(16), nullable=True)
    owner: Mapped[str] = mapped_column(String(128))
    goal_id: Mapped[str | None] = mapped_column(String(40), nullable=True, index=True)
    config: Mapped[dict] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)
    started_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    steps_total: Mapped[int] = mapped_column(Integer, default=0)
    steps_done: Mapped[int] = mapped_column(Integer, default=0)
    error: Mapped[str | None] = mapped_column(Text, nullable=True)
    summary: Mapped[dict | None] = mapped_column(JSON, nullable=True)


class RunStepRow(Base):
    """One validated action request of a run; claimed by one worker at a time."""

    __tablename__ = "run_steps"
    __table_args__ = (Index("ix_run_steps_claim", "status", "run_id", "seq"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    run_id: Mapped[str] = mapped_column(String(40), ForeignKey("runs.id"), index=True)
    seq: Mapped[int] = mapped_column(Integer)
    action: Mapped[str] = mapped_column(String(120))
    params: Mapped[dict] = mapped_column(JSON)
    # queued|running|succeeded|failed|cancelled|refused
    status: Mapped[str] = mapped_column(String(16))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    max_attempts: Mapped[int] = mapped_column(Integer)
    worker_id: Mapped[str | None] = mapped_column(String(80), nullable=True)
    worker_host: Mapped[str | None] = mapped_column(String(255), nullable=True)
    worker_pid: Mapped[int | None] = mapped_column(Integer, nullable=True)
    claimed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    heartbeat_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    started_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    progress: Mapped[dict | None] = mapped_column(JSON, nullable=True)
    outcome: Mapped[dict | None] = mapped_column(JSON, nullable=True)
    error: Mapped[str | None] = mapped_column(Text, nullable=True)
    trial_id: Mapped[str | None] = mapped_column(String(40), nullable=True)


class HoldoutRow(Base):
    """The sealed final part of one series for one search run (see research.holdout)."""

    __tablename__ = "holdouts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    run_id: Mapped[str] = mapped_column(String(40), index=True)
    symbol: Mapped[str] = mapped_column(String(40))
    source: Mapped[str] = mapped_column(String(20))
    interval: Mapped[str | None] = mapped_column(String(16), nullable=True)
    sealed_from: Mapped[str] = mapped_column(String(40))  # ISO timestamp of the first sealed bar
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class WorkerRow(Base):
    """A worker process and its latest heartbeat (live workers are found from it)."""

    __tablename__ = "workers"

    id: Mapped[str] = mapped_column(String(80), primary_key=True)
    host: Mapped[str] = mapped_column(String(255))
    pid: Mapped[int] = mapped_column(Integer)
    started_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    heartbeat_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)
    stopped_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)


class ApiTokenRow(Base):
    """A named REST API token (migration 0006): only its salted SHA-256 is stored."""

    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    scope: Mapped[str] = mapped_column(String(8))  # read|write
    salt: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64), index=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    last_used_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)


class LegacyImportRow(Base):
    """One ``mltrainer migrate`` run that stored something (migration 0007)."""

    __tablename__ = "legacy_imports"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    started_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)
    finished_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    source: Mapped[str] = mapped_column(Text)
    actor: Mapped[str] = mapped_column(String(128))
    records: Mapped[int] = mapped_column(Integer)
    report: Mapped[dict] = mapped_column(JSON)


class LegacyRecordRow(Base):
    """One record of the earlier versions' logs, kept as it was (see mltrainer.migrate).

    ``fingerprint`` is unique: importing the same logs again stores nothing twice.
    ``target`` says where the record went (``memory:<id>``, ``goal:<id>``, ``audit:<seq>``);
    ``data`` holds the record itself when it lives nowhere else, ``analysis`` what this
    system made of it (re-parsed suggestions, never run; validation errors; legacy claims).
    """

    __tablename__ = "legacy_records"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    fingerprint: Mapped[str] = mapped_column(String(64), unique=True)
    kind: Mapped[str] = mapped_column(String(32), index=True)
    import_id: Mapped[str] = mapped_column(String(40), ForeignKey("legacy_imports.id"), index=True)
    source_file: Mapped[str] = mapped_column(String(512))
    line: Mapped[int | None] = mapped_column(Integer, nullable=True)
    ts: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True, index=True)
    data: Mapped[dict | list | None] = mapped_column(JSON, nullable=True)
    analysis: Mapped[dict | None] = mapped_column(JSON, nullable=True)
    target: Mapped[str | None] = mapped_column(String(80), nullable=True)
