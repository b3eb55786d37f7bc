"""Signed checkpoints of the audit chain, kept in an append-only file outside the database.

A database cannot prove its own completeness: whoever can write it can delete the newest
records together with the head row, or every record. Each checkpoint line pins the chain's
head ``(seq, hash)`` at one moment, is signed with an Ed25519 key derived from the audit
key, and links to the line before it (``prev`` = SHA-256 of that line). ``AuditLog.verify``
then requires every checkpointed record to still exist with the same hash, so truncation
below the newest checkpoint, a wipe, or a re-chain (edited records, or a new key) fail.

Writing is crash-safe and concurrent-safe: one ``write`` of the whole line with
``O_APPEND``, then ``fsync``, under an exclusive ``flock``; the file is never rewritten, so
it can live on append-only (WORM) storage. A line torn by a crash is skipped and counted.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

__all__ = ["Checkpoint", "CheckpointFile", "CheckpointRead"]

_GENESIS = "0" * 64
_DOMAIN = b"mltrainer audit checkpoint v1\x00"
_FIELDS = ("v", "seq", "hash", "ts", "prev", "key", "sig")


@dataclass(frozen=True)
class Checkpoint:
    line: int
    seq: int
    hash: str
    ts: str


@dataclass(frozen=True)
class CheckpointRead:
    """What the file holds; ``problem`` names the first bad line (None when all verify)."""

    exists: bool
    checkpoints: list[Checkpoint] = field(default_factory=list)
    problem: str | None = None
    torn_lines: int = 0


def _line_hash(line: bytes) -> str:
    return hashlib.sha256(line).hexdigest()


class CheckpointFile:
    """The checkpoint file at ``path``, signed with a key derived from ``audit_key``."""

    def __init__(self, path: Path, audit_key: bytes):
        from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
        from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

        self.path = path
        seed = hashlib.sha256(_DOMAIN + audit_key).digest()
        self._signer = Ed25519PrivateKey.from_private_bytes(seed)
        self._public = self._signer.public_key()
        raw = self._public.public_bytes(Encoding.Raw, PublicFormat.Raw)
        self.public_key_hex = raw.hex()
        self.key_id = hashlib.sha256(raw).hexdigest()[:16]

    # -- writing ------------------------------------------------------------------------
    def create(self) -> None:
        """Create the empty file (and make its directory entry durable); no-op if present."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            return
        os.fsync(fd)
        os.close(fd)
        dfd = os.open(self.path.parent, os.O_RDONLY)
        try:
            os.fsync(dfd)
        finally:
            os.close(dfd)

    def write(self, head: Callable[[], tuple[int, str] | None]) -> bool:
        """Append a checkpoint of ``head()`` (read under the file lock, so lines from several
        processes stay in seq order). False when the file is missing or nothing is new."""
        try:
            fd = os.open(self.path, os.O_RDWR | os.O_APPEND)
        except FileNotFoundError:
            return False
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            current = head()
            last_seq, prev, torn = self._last(fd)
            if current is None or current[0] <= last_seq:
                return False
            body = {
                "v": 1,
                "seq": current[0],
                "hash": current[1],
                "ts": datetime.now(UTC).isoformat(timespec="microseconds"),
                "prev": prev,
                "key": self.key_id,
            }
            sig = self._signer.sign(_canonical(body)).hex()
            line = _canonical({**body, "sig": sig})
            os.write(fd, (b"\n" if torn else b"") + line + b"\n")
            os.fsync(fd)
            return True
        finally:
            os.close(fd)  # closing releases the lock

    @staticmethod
    def _last(fd: int) -> tuple[int, str, bool]:
        """(seq, line hash) of the newest complete line, and whether the file ends torn."""
        size = os.fstat(fd).st_size
        if size == 0:
            return 0, _GENESIS, False
        window = 4096
        while True:
            start = max(0, size - window)
            data = os.pread(fd, size - start, start)
            parts = data.split(b"\n")
            torn = parts[-1] != b""
            complete = parts[:-1] if start == 0 else parts[1:-1]
            for line in reversed(complete):
                rec = _parse(line)
                if rec is not None:
                    return int(rec["seq"]), _line_hash(line), torn
            if start == 0:
                return 0, _GENESIS, torn
            window *= 4

    # -- reading ------------------------------------------------------------------------
    def read(self) -> CheckpointRead:
        """Parse every line, checking signature, order and the link to the line before."""
        from cryptography.exceptions import InvalidSignature

        try:
            data = self.path.read_bytes()
        except FileNotFoundError:
            return CheckpointRead(exists=False)
        out: list[Checkpoint] = []
        prev, last_seq, torn = _GENESIS, 0, 0
        for n, line in enumerate(data.split(b"\n"), start=1):
            if not line:
                continue
            rec = _parse(line)
            if rec is None:
                torn += 1
                continue
            where = f"checkpoint file {self.path} line {n}"
            if rec["key"] != self.key_id:
                return CheckpointRead(
                    True,
                    out,
                    f"{where} was signed by key {rec['key']}, but the audit key in use signs as "
                    f"{self.key_id}: the audit key was replaced (restore the original from backup)",
                    torn,
                )
            body = {k: rec[k] for k in _FIELDS if k != "sig"}
            try:
                self._public.verify(bytes.fromhex(rec["sig"]), _canonical(body))
            except (InvalidSignature, ValueError):
                return CheckpointRead(True, out, f"{where} has an invalid signature", torn)
            if rec["prev"] != prev:
                return CheckpointRead(
                    True, out, f"{where} does not link to the checkpoint before it", torn
                )
            if rec["seq"] <= last_seq:
                return CheckpointRead(True, out, f"{where} goes back to record {rec['seq']}", torn)
            out.append(Checkpoint(n, int(rec["seq"]), str(rec["hash"]), str(rec["ts"])))
            prev, last_seq = _line_hash(line), int(rec["seq"])
        return CheckpointRead(True, out, None, torn)


def _canonical(obj: dict) -> bytes:
    return json.dumps(obj, sort_keys=True, separators=(",", ":")).encode()


def _parse(line: bytes) -> dict | None:
    """A well-formed checkpoint line as a dict, or None (torn or not a checkpoint)."""
    try:
        rec = json.loads(line)
    except ValueError:
        return None
    if not isinstance(rec, dict) or set(rec) != set(_FIELDS):
        return None
    if not isinstance(rec["seq"], int) or not all(
        isinstance(rec[k], str) for k in _FIELDS if k not in ("v", "seq")
    ):
        return None
    return rec
