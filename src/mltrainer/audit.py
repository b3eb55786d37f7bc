"""Append-only, hash-chained audit log.

Each record is ``{seq, ts, kind, actor, payload, prev_hash, hash}`` with::

    hash = HMAC_key(prev_hash + canonical_json({seq, ts, kind, actor, payload, prev_hash}))

(plain SHA-256 when no key is configured). The first record's ``prev_hash`` is 64 zeros.
``verify`` walks the chain in ``seq`` order and names the first record whose sequence
number, link or hash is wrong, so an edit, a deletion, an insertion, a reordering or a
rewritten hash are all caught. A separate head row (newest seq and hash) also catches a
truncated tail. Without the key an attacker cannot recompute a valid chain.

Payloads are scrubbed before hashing: any key that looks like a secret (``api_key``,
``token``, ``password``...) is replaced by ``"***"``, so secrets never enter the log.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import threading
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Engine, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from .db.tables import AuditHeadRow, AuditRecordRow
from .errors import AuditError

__all__ = ["AuditLog", "AuditRecord", "VerifyReport", "canonical_json", "scrub_secrets"]

GENESIS = "0" * 64
_SECRET_KEY = re.compile(r"(api[_-]?key|secret|token|password|passwd|authorization)", re.I)


def canonical_json(obj: Any) -> str:
    """Deterministic JSON: sorted keys, no spaces, UTF-8, non-JSON values as strings."""
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)


def scrub_secrets(obj: Any) -> Any:
    """Return a copy of ``obj`` with the values of secret-looking keys replaced by ``***``."""
    if isinstance(obj, dict):
        return {
            k: ("***" if isinstance(k, str) and _SECRET_KEY.search(k) else scrub_secrets(v))
            for k, v in obj.items()
        }
    if isinstance(obj, list | tuple):
        return [scrub_secrets(v) for v in obj]
    return obj


@dataclass(frozen=True)
class AuditRecord:
    seq: int
    ts: str
    kind: str
    actor: str
    payload: dict[str, Any]
    prev_hash: str
    hash: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "seq": self.seq,
            "ts": self.ts,
            "kind": self.kind,
            "actor": self.actor,
            "payload": self.payload,
            "prev_hash": self.prev_hash,
            "hash": self.hash,
        }


@dataclass(frozen=True)
class VerifyReport:
    ok: bool
    records: int
    first_bad_seq: int | None = None
    problem: str | None = None


class AuditLog:
    """The audit chain stored in the ``audit_log`` table of one database."""

    def __init__(self, engine: Engine, key: bytes | None = None):
        self._engine = engine
        self._key = key
        self._lock = threading.Lock()

    # -- hashing -----------------------------------------------------------------
    def _digest(self, prev_hash: str, body: dict[str, Any]) -> str:
        msg = (prev_hash + canonical_json(body)).encode()
        if self._key:
            return hmac.new(self._key, msg, hashlib.sha256).hexdigest()
        return hashlib.sha256(msg).hexdigest()

    # -- writing -----------------------------------------------------------------
    def append(self, kind: str, payload: dict[str, Any], actor: str = "system") -> AuditRecord:
        """Append one record and return it. Retries if another process appended first."""
        clean = json.loads(canonical_json(scrub_secrets(payload)))
        for _attempt in range(20):
            with self._lock, Session(self._engine) as s, s.begin():
                last = s.execute(
                    select(AuditRecordRow.seq, AuditRecordRow.hash)
                    .order_by(AuditRecordRow.seq.desc())
                    .limit(1)
                ).first()
                seq = (last[0] + 1) if last else 1
                prev = last[1] if last else GENESIS
                ts = datetime.now(UTC).isoformat(timespec="microseconds")
                body = {
                    "seq": seq,
                    "ts": ts,
                    "kind": kind,
                    "actor": actor,
                    "payload": clean,
                    "prev_hash": prev,
                }
                digest = self._digest(prev, body)
                try:
                    s.add(
                        AuditRecordRow(
                            seq=seq,
                            ts=ts,
                            kind=kind,
                            actor=actor,
                            payload=canonical_json(clean),
                            prev_hash=prev,
                            hash=digest,
                        )
                    )
                    head = s.get(AuditHeadRow, 1)
                    if head is None:
                        s.add(AuditHeadRow(id=1, seq=seq, hash=digest))
                    else:
                        head.seq, head.hash = seq, digest
                    s.flush()
                except IntegrityError:
                    s.rollback()
                    continue
            return AuditRecord(seq, ts, kind, actor, clean, prev, digest)
        raise AuditError("could not append to the audit log: too much concurrent writing")

    # -- reading -----------------------------------------------------------------
    def tail(self, n: int = 20, kind: str | None = None) -> list[AuditRecord]:
        with Session(self._engine) as s:
            q = select(AuditRecordRow).order_by(AuditRecordRow.seq.desc()).limit(n)
            if kind:
                q = q.where(AuditRecordRow.kind == kind)
            rows = list(s.scalars(q))
        return [self._to_record(r) for r in reversed(rows)]

    def count(self) -> int:
        with Session(self._engine) as s:
            return int(s.scalar(select(func.count()).select_from(AuditRecordRow)) or 0)

    @staticmethod
    def _to_record(r: AuditRecordRow) -> AuditRecord:
        return AuditRecord(r.seq, r.ts, r.kind, r.actor, json.loads(r.payload), r.prev_hash, r.hash)

    def verify(self) -> VerifyReport:
        """Check the whole chain; report the first broken record."""
        expected_seq, prev, n = 1, GENESIS, 0
        with Session(self._engine) as s:
            rows = s.execute(select(AuditRecordRow).order_by(AuditRecordRow.seq)).scalars()
            for r in rows:
                n += 1
                if r.seq != expected_seq:
                    what = "missing (deleted)" if r.seq > expected_seq else "duplicated"
                    return VerifyReport(
                        False, n, expected_seq, f"record {expected_seq} is {what}; found {r.seq}"
                    )
                if r.prev_hash != prev:
                    return VerifyReport(
                        False, n, r.seq, f"record {r.seq} does not link to record {r.seq - 1}"
                    )
                try:
                    payload = json.loads(r.payload)
                except ValueError:
                    return VerifyReport(False, n, r.seq, f"record {r.seq} payload is not JSON")
                body = {
                    "seq": r.seq,
                    "ts": r.ts,
                    "kind": r.kind,
                    "actor": r.actor,
                    "payload": payload,
                    "prev_hash": r.prev_hash,
                }
                if not hmac.compare_digest(self._digest(prev, body), r.hash):
                    return VerifyReport(
                        False, n, r.seq, f"record {r.seq} content does not match its hash"
                    )
                prev, expected_seq = r.hash, expected_seq + 1
            head = s.get(AuditHeadRow, 1)
        if head is None and n > 0:
            return VerifyReport(
                False, n, n, "the head record is missing: the end of the chain cannot be checked"
            )
        if head is not None and (head.seq != expected_seq - 1 or head.hash != prev):
            return VerifyReport(
                False,
                n,
                expected_seq,
                f"chain ends at record {expected_seq - 1} but the head says {head.seq}: "
                "records were removed from the end",
            )
        return VerifyReport(True, n)
