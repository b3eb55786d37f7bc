"""Fingerprints of legacy records: what makes a second import of the same logs a no-op.

A fingerprint is the SHA-256 of the canonical JSON (:func:`mltrainer.audit.canonical_json`:
sorted keys, no spaces) of ``[kind, *identity]``. The identity is what a record *is*, not
where it was read: a chat message is its role (``mltrainer`` read as ``assistant``), text
and timestamp (UTC, microseconds), so the same message in ``chat_history.json`` and
``memory/chat_memory.jsonl`` is stored once; a log line is its whole content; a whole-file
snapshot (``mlagent_state.json``, ``baseline_*.json``) is its path under ``logs/`` and
its content.
"""

from __future__ import annotations

import hashlib
import json
from datetime import datetime
from typing import Any

__all__ = ["fingerprint", "chat_fingerprint"]

_CANONICAL = json.JSONEncoder(
    sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str
)
"""The encoder of ``canonical_json``, built once (building one per record costs more than
hashing it)."""


def fingerprint(kind: str, *identity: Any) -> str:
    """``fingerprint("compliance", record)``: 64 hex characters."""
    return hashlib.sha256(_CANONICAL.encode([kind, *identity]).encode()).hexdigest()


def chat_fingerprint(role: str, content: str, ts: datetime) -> str:
    """A chat message's fingerprint; ``ts`` must be timezone-aware (it is compared in UTC)."""
    return fingerprint("chat", role, content, ts.isoformat(timespec="microseconds"))
