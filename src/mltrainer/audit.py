"""Append-only, hash-chained audit log.

Each record is ``{seq, ts, kind, actor, payload, prev_hash, hash}`` with::

    hash = HMAC_key(prev_hash + canonical_json({seq, ts, kind, actor, payload, prev_hash}))

(plain SHA-256 when no key is configured). The first record's ``prev_hash`` is 64 zeros.
``verify`` walks the chain in ``seq`` order and names the first record whose sequence
number, link or hash is wrong, so an edit, a deletion, an insertion, a reordering or a
rewritten hash are all caught. A separate head row (newest seq and hash) also catches a
truncated tail. Without the key an attacker cannot recompute a valid chain.

The database cannot vouch for its own completeness, so signed checkpoints of the head go
to a file outside it (:mod:`mltrainer.audit_checkpoints`): ``verify`` checks the chain
against every one, which catches a truncation below the newest checkpoint, a wipe and a
re-chain with another key. :meth:`AuditLog.open` refuses to invent a new key for a log
that already has records.

A state change and its record are one unit: :meth:`AuditLog.append_in` appends inside the
caller's transaction (SQLite: under its write lock; PostgreSQL: under an advisory lock and
the head row ``FOR UPDATE``), so a crash or an error before ``COMMIT`` leaves neither and
concurrent appenders still form one chain. :meth:`AuditLog.append` is the same in a
transaction of its own. A signed checkpoint is written only after the transaction
commits (a ``Session`` ``after_commit`` hook; dropped on rollback), so it never names a
record that was rolled back; a crash between the two only leaves that record for the next
checkpoint.

Payloads are scrubbed before hashing (:mod:`mltrainer.scrub`): any key that looks like a
secret (``api_key``, ``token``, ``password``...) is replaced by ``"***"``, and so is every
configured secret's value wherever it appears (a key a server echoed into an error), so
secrets never enter the log.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import threading
import weakref
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import Engine, event, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from .audit_checkpoints import Checkpoint, CheckpointFile
from .db import lock_for_write
from .db.tables import AuditHeadRow, AuditRecordRow
from .errors import AuditError, ConfigError
from .scrub import Scrubber, scrub_secrets

if TYPE_CHECKING:
    from .settings import Settings

__all__ = ["AuditLog", "AuditRecord", "VerifyReport", "canonical_json", "scrub_secrets"]

log = logging.getLogger(__name__)

GENESIS = "0" * 64


def canonical_json(obj: Any) -> str:
    """Deterministic JSON: sorted keys, no spaces, UTF-8, non-JSON values as strings."""
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)


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
    checkpoints: int = 0
    """Signed checkpoints checked against the chain (0 when no checkpoint file is used)."""
    checkpoint_file: str | None = None
    torn_checkpoint_lines: int = 0
    """Lines a crash left half-written; skipped (they were never complete checkpoints)."""


class AuditLog:
    """The audit chain stored in the ``audit_log`` table of one database."""

    def __init__(
        self,
        engine: Engine,
        key: bytes | None = None,
        checkpoints: CheckpointFile | None = None,
        checkpoint_every: int = 1,
        scrubber: Scrubber | None = None,
    ):
        self._engine = engine
        self._key = key
        self.scrubber = (scrubber or Scrubber()).including(key)
        """Scrubs payloads by secret name and value (its own key included) before hashing."""
        self._lock = threading.Lock()
        self.checkpoints = checkpoints
        self._every = max(1, checkpoint_every)
        self._warned = False
        self._pending = [0]  # appends since this process's last checkpoint (shared with finalizer)
        if checkpoints is not None and self._every > 1:
            weakref.finalize(self, _flush, checkpoints, engine, self._pending)

    @property
    def engine(self) -> Engine:
        """The database the chain (and the rows it seals) lives in."""
        return self._engine

    @classmethod
    def open(cls, engine: Engine, settings: Settings, scrubber: Scrubber | None = None) -> AuditLog:
        """The audit log of an installation: its key, its checkpoint file.

        A missing key is generated only for a log that never had a record; otherwise it is a
        :class:`ConfigError` saying how to restore it (a new key could not verify the log).
        """
        key_path = settings.audit_key_path
        cp_path = settings.checkpoint_path
        if not key_path.exists():
            had = _had_records(engine)
            if had or (cp_path.exists() and cp_path.stat().st_size > 0):
                why = f"the audit log has {had} records" if had else f"{cp_path} holds checkpoints"
                raise ConfigError(
                    f"audit key {key_path} is missing but {why}: restore the key file from your "
                    "backup (only the original key verifies this log; keep it at mode 0600, or "
                    "point MLTRAINER_AUDIT_KEY_FILE at the backup). A new key is made only for a "
                    "new, empty log."
                )
        key = settings.audit_key()
        checkpoints = CheckpointFile(cp_path, key)
        if not cp_path.exists() and not _had_records(engine):
            checkpoints.create()  # a new log: checkpoints start with its first record
        return cls(engine, key, checkpoints, settings.audit_checkpoint_every, scrubber)

    def checkpoint(self, head: tuple[int, str] | None = None) -> bool:
        """Write a signed checkpoint of the committed head now (or of ``head``, a committed
        ``(seq, hash)``); False if nothing was new."""
        if self.checkpoints is None:
            return False
        self._pending[0] = 0
        if not self.checkpoints.path.exists():
            if not self._warned:
                self._warned = True
                log.warning(
                    "audit checkpoint file %s is missing: records are not being checkpointed; "
                    "run 'mltrainer audit verify'",
                    self.checkpoints.path,
                )
            return False
        return _write_checkpoint(self.checkpoints, self._engine, head)

    def close(self) -> None:
        """Checkpoint records appended since the last checkpoint (every N > 1 only)."""
        if self.checkpoints is not None and self._pending[0]:
            self.checkpoint()

    # -- hashing -----------------------------------------------------------------
    def _digest(self, prev_hash: str, body: dict[str, Any]) -> str:
        msg = (prev_hash + canonical_json(body)).encode()
        if self._key:
            return hmac.new(self._key, msg, hashlib.sha256).hexdigest()
        return hashlib.sha256(msg).hexdigest()

    # -- writing -----------------------------------------------------------------
    def append(self, kind: str, payload: dict[str, Any], actor: str = "system") -> AuditRecord:
        """Append one record in a transaction of its own and return it (committed).

        Only for events with no database change of their own; a change and its record go
        through :meth:`append_in` in one transaction.
        """
        for _attempt in range(20):
            try:
                with self._lock, Session(self._engine) as s, s.begin():
                    rec = self.append_in(s, kind, payload, actor)
                return rec
            except IntegrityError:  # only where no lock serialises appenders (other dialects)
                continue
        raise AuditError("could not append to the audit log: too much concurrent writing")

    def append_in(
        self, session: Session, kind: str, payload: dict[str, Any], actor: str = "system"
    ) -> AuditRecord:
        """Append one record inside ``session``'s open transaction and return it.

        The record commits or rolls back with the caller's change. Appenders are serialised
        by the database: on SQLite the transaction must hold the write lock (it is taken
        here with ``BEGIN IMMEDIATE`` when the transaction has not written yet), on
        PostgreSQL by a transaction-scoped advisory lock plus ``FOR UPDATE`` on the head
        row. So hold no other lock that an appender waits for, and commit soon.
        """
        clean = json.loads(canonical_json(self.scrubber(payload)))
        session.flush()  # the caller's own writes first: nothing waits on a row under our lock
        pg = _hold_write_lock(session)
        last = session.execute(
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
        session.add(
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
        head = session.get(AuditHeadRow, 1, with_for_update=pg or None)
        if head is None:
            session.add(AuditHeadRow(id=1, seq=seq, hash=digest))
        else:
            head.seq, head.hash = seq, digest
        session.flush()
        record = AuditRecord(seq, ts, kind, actor, clean, prev, digest)
        if self.checkpoints is not None:  # checkpointed by _checkpoint_committed, after COMMIT
            pending = session.info.setdefault(_PENDING, {})
            n = pending[id(self)][2] if id(self) in pending else 0
            pending[id(self)] = (self, record, n + 1)
        return record

    def _committed(self, record: AuditRecord, n: int) -> None:
        """After the commit of ``n`` records ending with ``record``: checkpoint when due."""
        if self.checkpoints is None:
            return
        self._pending[0] += n
        if self._pending[0] >= self._every:
            self.checkpoint(head=(record.seq, record.hash))

    # -- reading -----------------------------------------------------------------
    def records(self, kinds: tuple[str, ...]) -> list[AuditRecord]:
        """Every record of the given kinds, oldest first."""
        with Session(self._engine) as s:
            q = select(AuditRecordRow).where(AuditRecordRow.kind.in_(kinds))
            rows = list(s.scalars(q.order_by(AuditRecordRow.seq)))
        return [self._to_record(r) for r in rows]

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
        """Check the whole chain, then the chain against every signed checkpoint; report the
        first problem."""
        read = self.checkpoints.read() if self.checkpoints else None
        cps: list[Checkpoint] = read.checkpoints if read else []
        extra: dict[str, Any] = {
            "checkpoint_file": str(self.checkpoints.path) if self.checkpoints else None,
            "torn_checkpoint_lines": read.torn_lines if read else 0,
        }

        def bad(n: int, seq: int | None, problem: str, checked: int = 0) -> VerifyReport:
            return VerifyReport(False, n, seq, problem, checked, **extra)

        if read is not None and read.problem:
            return bad(0, None, read.problem)
        want = {c.seq: c for c in cps}
        expected_seq, prev, n, matched = 1, GENESIS, 0, 0
        with Session(self._engine) as s:
            rows = s.execute(select(AuditRecordRow).order_by(AuditRecordRow.seq)).scalars()
            for r in rows:
                n += 1
                if r.seq != expected_seq:
                    what = "missing (deleted)" if r.seq > expected_seq else "duplicated"
                    return bad(n, expected_seq, f"record {expected_seq} is {what}; found {r.seq}")
                if r.prev_hash != prev:
                    return bad(n, r.seq, f"record {r.seq} does not link to record {r.seq - 1}")
                try:
                    payload = json.loads(r.payload)
                except ValueError:
                    return bad(n, r.seq, f"record {r.seq} payload is not JSON")
                body = {
                    "seq": r.seq,
                    "ts": r.ts,
                    "kind": r.kind,
                    "actor": r.actor,
                    "payload": payload,
                    "prev_hash": r.prev_hash,
                }
                if not hmac.compare_digest(self._digest(prev, body), r.hash):
                    return bad(n, r.seq, f"record {r.seq} content does not match its hash")
                c = want.get(r.seq)
                if c is not None:
                    if c.hash != r.hash:
                        return bad(
                            n,
                            r.seq,
                            f"record {r.seq} is not the record signed in checkpoint line "
                            f"{c.line} ({c.ts}): the log was rewritten after that checkpoint",
                            matched,
                        )
                    matched += 1
                prev, expected_seq = r.hash, expected_seq + 1
            head = s.get(AuditHeadRow, 1)
        last = expected_seq - 1
        if read is not None and not read.exists and n > 0:
            return bad(
                n,
                None,
                f"checkpoint file {self.checkpoints.path if self.checkpoints else ''} is missing "
                f"but the log has {n} records: restore it from your backup or point "
                "MLTRAINER_AUDIT_CHECKPOINT_FILE at it (for a log written before checkpoints "
                "existed, 'mltrainer audit checkpoint' starts the file)",
            )
        if cps and cps[-1].seq > last:
            c = cps[-1]
            return bad(
                n,
                last + 1,
                f"checkpoint line {c.line} ({c.ts}) says the log had {c.seq} records, but it "
                f"ends at record {last}: records were removed from the end (truncated or wiped)",
                matched,
            )
        if head is None and n > 0:
            return bad(
                n, n, "the head record is missing: the end of the chain cannot be checked", matched
            )
        if head is not None and (head.seq != last or head.hash != prev):
            return bad(
                n,
                expected_seq,
                f"chain ends at record {last} but the head says {head.seq}: "
                "records were removed from the end",
                matched,
            )
        return VerifyReport(True, n, None, None, matched, **extra)


def _had_records(engine: Engine) -> int:
    """How many records the log has, or 1 if only its head row is left (a wiped log)."""
    with Session(engine) as s:
        n = int(s.scalar(select(func.count()).select_from(AuditRecordRow)) or 0)
        return n or (1 if s.get(AuditHeadRow, 1) is not None else 0)


def _hold_write_lock(session: Session) -> bool:
    """Make ``session``'s transaction the only audit appender until it ends (True on
    PostgreSQL, where the head row is then also locked ``FOR UPDATE``)."""
    conn = session.connection()
    if conn.dialect.name == "sqlite":
        # pysqlite opens a transaction only for a write, which takes the write lock; one
        # that has not written yet takes it now, before the head is read.
        if not getattr(conn.connection.dbapi_connection, "in_transaction", False):
            conn.exec_driver_sql("BEGIN IMMEDIATE")
        return False
    if conn.dialect.name == "postgresql":
        lock_for_write(session, "audit")
        return True
    return False


_PENDING = "mltrainer.audit.pending"
"""``session.info`` key: records appended in the open transaction, per log, to checkpoint."""


@event.listens_for(Session, "after_commit")
def _checkpoint_committed(session: Session) -> None:
    """Checkpoint what a transaction appended once it committed (never before)."""
    for audit, record, n in session.info.pop(_PENDING, {}).values():
        try:
            audit._committed(record, n)
        except Exception as e:  # the records are committed; the next append checkpoints
            log.warning("audit checkpoint after commit failed: %s", e)


@event.listens_for(Session, "after_rollback")
def _forget_rolled_back(session: Session) -> None:
    session.info.pop(_PENDING, None)


def _write_checkpoint(
    checkpoints: CheckpointFile, engine: Engine, committed: tuple[int, str] | None = None
) -> bool:
    def head() -> tuple[int, str] | None:
        if committed is not None:
            return committed
        with Session(engine) as s:
            row = s.execute(
                select(AuditRecordRow.seq, AuditRecordRow.hash)
                .order_by(AuditRecordRow.seq.desc())
                .limit(1)
            ).first()
            return (int(row[0]), str(row[1])) if row else None

    try:
        return checkpoints.write(head)
    except OSError as e:  # the record itself is committed; the next append checkpoints it
        log.warning("audit checkpoint not written to %s: %s", checkpoints.path, e)
        return False


def _flush(checkpoints: CheckpointFile, engine: Engine, pending: list[int]) -> None:
    """At exit (or when the log is dropped): checkpoint what was appended since the last."""
    if pending[0]:
        pending[0] = 0
        try:
            _write_checkpoint(checkpoints, engine)
        except Exception as e:  # never fail interpreter shutdown
            log.warning("final audit checkpoint failed: %s", e)
