"""The migration report: per file what was read, imported, already present and skipped.

One pydantic model serves the CLI (``--json`` prints it), the REST API (the response
model of ``POST /api/v1/migrate``) and the ``legacy_imports`` row that records a run.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

__all__ = ["SkippedLine", "FileReport", "Totals", "GoalOutcome", "MigrationReport"]


class SkippedLine(BaseModel):
    """A line (or entry) that was not imported, and why."""

    where: str
    """``line 7`` in a JSON Lines file, ``messages[3]`` in a JSON file, ``file`` for all of it."""
    line: int | None = None
    reason: str


class FileReport(BaseModel):
    path: str
    """Relative to the folder given (``logs/chat_history.json``); never a server path."""
    kind: str
    """What the file was read as (``chat_history``, ``goal_history``...) or ``unrecognised``."""
    recognised: bool = True
    sha256: str = ""
    """Of the file as read (empty for files not recognised)."""
    target: str = ""
    """Where its records went: memory, goals, audit log, legacy records, or cross-check only."""
    read: int = 0
    imported: int = 0
    already_present: int = 0
    """Imported by an earlier ``mltrainer migrate`` of these logs."""
    duplicates: int = 0
    """The same record earlier in this import (another file, or an earlier line)."""
    skipped: list[SkippedLine] = Field(default_factory=list)
    notes: list[str] = Field(default_factory=list)
    status: str = ""
    """``imported``, ``already imported``, ``nothing to import``, ``not recognised``..."""


class Totals(BaseModel):
    files: int = 0
    recognised: int = 0
    unrecognised: int = 0
    read: int = 0
    imported: int = 0
    already_present: int = 0
    duplicates: int = 0
    skipped: int = 0
    messages: int = 0
    """Chat messages stored in unified memory."""
    goals: int = 0
    """Legacy goals stored in the goal history."""
    audit_records: int = 0
    """``legacy.*`` records appended to the audit chain."""
    suggestions: int = 0
    """Actions re-parsed from legacy replies and trial configs by today's bridge, stored
    beside them; never run."""
    invalid_trial_configs: int = 0
    """Legacy trial configs the bridge refused (kept with their errors, never runnable)."""
    legacy_outcomes: int = 0
    """Legacy trial feedback entries: their metrics were not computed by mlTrainer."""


class GoalOutcome(BaseModel):
    """What the legacy current goal became."""

    outcome: Literal["restored", "archived", "refused", "already_imported", "none"] = "none"
    legacy_goal_id: str | None = None
    goal_id: str | None = None
    text: str | None = None
    detail: str = "no legacy current goal found"
    history: int = 0
    """Legacy goals found (set, current or changed to) across the goal files."""
    imported: int = 0
    already_present: int = 0


class MigrationReport(BaseModel):
    source: str
    dry_run: bool
    skip_bad_lines: bool = False
    import_id: str | None = None
    """The ``legacy_imports`` row of this run (None for a dry run or when nothing was new)."""
    already_imported: bool = False
    """Everything read was imported before: this run stored nothing."""
    summary: str = ""
    notes: list[str] = Field(default_factory=list)
    """About the folder as a whole (e.g. symbolic links that were not followed)."""
    files: list[FileReport] = Field(default_factory=list)
    totals: Totals = Field(default_factory=Totals)
    goal: GoalOutcome = Field(default_factory=GoalOutcome)
    elapsed_s: float = 0.0
