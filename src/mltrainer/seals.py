"""Seals: each stored trial result and goal pinned inside the audit chain.

A result row lives outside the chain, so an edit to it would go unnoticed. When a trial
finishes (``trial.seal``) or a goal is stored (``goal.seal``) an audit record takes the
SHA-256 of its canonical JSON, read back from the database exactly as later checks read
it. :func:`verify_seals` re-hashes every sealed row and names the first one that was edited
or deleted. A goal's seal covers what never changes (id, text, parsed components, creation);
archiving it is a separate audited event.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select, true
from sqlalchemy.orm import Session

from .audit import AuditLog, AuditRecord, canonical_json
from .db.tables import GoalRow, TrialRow

__all__ = [
    "SealReport",
    "check_seal",
    "content_sha256",
    "seal_goal",
    "seal_in",
    "seal_trial",
    "verify_seals",
]


def content_sha256(content: Any) -> str:
    return hashlib.sha256(canonical_json(content).encode()).hexdigest()


def _utc_iso(dt: datetime | None) -> str | None:
    if dt is None:
        return None
    return (dt.replace(tzinfo=UTC) if dt.tzinfo is None else dt.astimezone(UTC)).isoformat()


def _trial_content(row: TrialRow) -> Any:
    return row.result


def _goal_content(row: GoalRow) -> Any:
    return {
        "id": row.id,
        "text": row.text,
        "components": row.components,
        "created_at": _utc_iso(row.created_at),
        "created_by": row.created_by,
    }


@dataclass(frozen=True)
class _Kind:
    noun: str
    id_key: str
    table: Any
    content: Callable[[Any], Any]
    sealable: Callable[[Any], bool]
    stored: Any
    """Which rows must carry a seal (a WHERE clause)."""


_KINDS = {
    "trial.seal": _Kind(
        "trial",
        "trial_id",
        TrialRow,
        _trial_content,
        lambda r: r.result is not None,
        TrialRow.status == "done",
    ),
    "goal.seal": _Kind("goal", "goal_id", GoalRow, _goal_content, lambda r: True, true()),
}


def seal_in(
    session: Session, audit: AuditLog, kind: str, subject_id: str, actor: str = "system"
) -> AuditRecord:
    """Seal a row inside ``session``'s open transaction: the seal commits (or rolls back)
    with the change it pins. The row is flushed and re-read first, so the hash is taken of
    the database's own representation, exactly as later checks read it."""
    k = _KINDS[kind]
    session.flush()
    row = session.get(k.table, subject_id)
    if row is not None:
        session.refresh(row)
    if row is None or not k.sealable(row):
        raise ValueError(f"cannot seal {k.noun} '{subject_id}': nothing is stored")
    digest = content_sha256(k.content(row))
    return audit.append_in(session, kind, {k.id_key: subject_id, "sha256": digest}, actor=actor)


def _seal(audit: AuditLog, kind: str, subject_id: str, actor: str) -> AuditRecord:
    with Session(audit.engine) as s, s.begin():
        return seal_in(s, audit, kind, subject_id, actor)


def seal_trial(audit: AuditLog, trial_id: str, actor: str = "system") -> AuditRecord:
    """Seal a finished trial's stored result (call after it is committed)."""
    return _seal(audit, "trial.seal", trial_id, actor)


def seal_goal(audit: AuditLog, goal_id: str, actor: str = "system") -> AuditRecord:
    """Seal a stored goal (call after it is committed)."""
    return _seal(audit, "goal.seal", goal_id, actor)


def check_seal(audit: AuditLog, kind: str, subject_id: str) -> str:
    """``"matches"``, ``"differs"`` (or the row is gone) or ``"none"`` for one subject."""
    k = _KINDS[kind]
    recs = [r for r in audit.records((kind,)) if r.payload.get(k.id_key) == subject_id]
    if not recs:
        return "none"
    with Session(audit.engine) as s:
        row = s.get(k.table, subject_id)
        if row is None or not k.sealable(row):
            return "differs"
        same = content_sha256(k.content(row)) == recs[-1].payload.get("sha256")
    return "matches" if same else "differs"


@dataclass(frozen=True)
class SealReport:
    ok: bool
    seals: int
    """Sealed trials and goals re-hashed (the newest seal of each)."""
    problem: str | None = None
    subject: str | None = None
    """The trial or goal id of the first mismatch."""
    unsealed: list[str] = field(default_factory=list)
    """Stored results with no seal (written before sealing existed, or outside mlTrainer)."""


def verify_seals(audit: AuditLog) -> SealReport:
    """Re-hash every sealed row against its newest seal; name the first mismatch."""
    newest: dict[tuple[str, str], AuditRecord] = {}
    for rec in audit.records(tuple(_KINDS)):
        newest[(rec.kind, str(rec.payload.get(_KINDS[rec.kind].id_key)))] = rec
    checked = 0
    unsealed: list[str] = []
    with Session(audit.engine) as s:
        for (kind, sid), rec in sorted(newest.items(), key=lambda kv: kv[1].seq):
            k = _KINDS[kind]
            row = s.get(k.table, sid)
            if row is None or not k.sealable(row):
                return SealReport(
                    False,
                    checked,
                    f"{k.noun} {sid} was sealed in audit record {rec.seq} but its stored "
                    "row is gone (deleted)",
                    sid,
                )
            checked += 1
            if content_sha256(k.content(row)) != rec.payload.get("sha256"):
                return SealReport(
                    False,
                    checked,
                    f"{k.noun} {sid}: the stored {'result' if kind == 'trial.seal' else 'goal'} "
                    f"does not match its seal (audit record {rec.seq}): it was changed after "
                    "it was sealed",
                    sid,
                )
            s.expunge(row)  # results are large; keep memory flat
        for kind, k in _KINDS.items():
            ids = s.scalars(select(k.table.id).where(k.stored).order_by(k.table.id))
            unsealed += [sid for sid in ids if (kind, sid) not in newest]
    return SealReport(True, checked, unsealed=unsealed)
