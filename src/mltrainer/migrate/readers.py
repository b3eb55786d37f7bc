"""Readers for every legacy file kind: bytes in, plain items out, nothing written.

:func:`find_files` lists a legacy folder (the folder holding ``logs/``, or ``logs/``
itself) and names each file's kind by its exact path (:data:`KINDS`); anything else is
``unrecognised`` and is never guessed at. Beside ``logs/`` only ``trial_feedback.json``
and ``trials/*.json`` are read. Symbolic links are not followed.

:func:`read_file` turns one file into :class:`FileRead`: chat messages for unified
memory, goal events, and legacy records (some also bound for the audit chain), plus the
lines it could not use (:class:`Bad`). The readers are lenient where the earlier versions
were sloppy and strict where a guess would change history:

* a ``.json`` file that is JSON Lines is read as JSON Lines; blank lines are ignored;
  unknown keys are kept (as message metadata, or in the legacy record);
* timestamps are ISO 8601 or Python's ``str(datetime)``; naive ones are taken as UTC and
  the original text is kept;
* the last line of a JSON Lines file that is not newline-terminated and does not parse
  is a write the earlier version never finished: it is skipped and reported (always);
* any other line that does not parse, a chat message without text, role or a readable
  timestamp, or a goal event without a timestamp is *bad*: the importer refuses the
  whole import naming file, line and reason, unless told to skip bad lines.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from ..memory import NewMessage
from .fingerprints import chat_fingerprint, fingerprint

__all__ = [
    "KINDS",
    "Bad",
    "Chat",
    "Record",
    "GoalEvent",
    "FileRead",
    "LegacyFile",
    "find_files",
    "find_root",
    "read_file",
    "parse_ts",
]

KINDS: dict[str, str] = {
    "chat_history.json": "chat_history",
    "unified_chat_history.json": "unified_chat_history",
    "memory/chat_memory.jsonl": "chat_memory",
    "memory/topic_index.json": "topic_index",
    "memory/compliance_memory.jsonl": "compliance_memory",
    "memory/goal_memory.jsonl": "goal_memory",
    "system_goals.json": "system_goals",
    "goal_history.jsonl": "goal_history",
    "mlagent_actions.jsonl": "agent_actions",
    "mlagent_state.json": "agent_state",
    "compliance_log.jsonl": "compliance_log",
    "model_registry.json": "model_registry",
    "mltrainer_audit.jsonl": "legacy_audit",
    "learning_memory.json": "learning_memory",
    "drift_log.jsonl": "drift_log",
    "drift_protection.log": "drift_protection",
    "trial_feedback.json": "trial_feedback",
}
"""Exact paths under ``logs/`` and their kinds; ``baseline_*.json`` and
``trials/<id>.json`` (under ``logs/`` or beside it) are matched by pattern."""

TARGETS: dict[str, str] = {
    "chat_history": "memory",
    "unified_chat_history": "memory",
    "chat_memory": "memory",
    "topic_index": "cross-check only (derived from chat_memory)",
    "compliance_memory": "audit log (legacy.compliance_memory)",
    "compliance_log": "audit log (legacy.compliance)",
    "model_registry": "audit log (legacy.model_registry)",
    "legacy_audit": "audit log (legacy.audit)",
    "goal_memory": "goal history + legacy records",
    "system_goals": "goal history + legacy records",
    "goal_history": "goal history + legacy records",
    "agent_actions": "legacy records + suggestions (never run)",
    "agent_state": "legacy records",
    "trial_config": "legacy records (never runnable)",
    "trial_feedback": "legacy trial outcomes",
    "learning_memory": "legacy records",
    "drift_log": "legacy records",
    "drift_protection": "legacy records",
    "baseline": "legacy records",
}

_AUDIT_KINDS = {
    "compliance_log": "legacy.compliance",
    "compliance_memory": "legacy.compliance_memory",
    "model_registry": "legacy.model_registry",
    "legacy_audit": "legacy.audit",
}
_RECORD_KINDS = {  # file kind -> legacy record kind of its entries
    "compliance_log": "compliance",
    "compliance_memory": "compliance_memory",
    "model_registry": "model_registry",
    "legacy_audit": "audit",
    "goal_history": "goal_event",
    "goal_memory": "goal_change",
    "system_goals": "goal_state",
    "agent_actions": "agent_action",
    "agent_state": "agent_state",
    "trial_config": "trial_config",
    "trial_feedback": "trial_outcome",
    "learning_memory": "learning_memory",
    "drift_log": "drift",
    "drift_protection": "drift_protection",
    "baseline": "baseline",
}
_SNAPSHOTS = frozenset({"agent_state", "trial_config", "learning_memory", "baseline"})
"""Whole-file records: their path is part of their identity."""

_ROLES = {
    "user": "user",
    "mltrainer": "assistant",
    "assistant": "assistant",
    "system": "system",
    "tool": "tool_result",
    "tool_call": "tool_call",
    "tool_result": "tool_result",
}
_CHAT_KEYS = frozenset(
    {"id", "role", "content", "timestamp", "topics", "importance", "metadata"}
    | {"goal_context", "compliance_flags"}
)
_TS_KEYS = ("timestamp", "created_at", "last_updated", "saved_at", "ts", "time")
_LOG_TS = re.compile(r"^\[?(\d{4}-\d\d-\d\d[ T]\d\d:\d\d:\d\d(?:[.,]\d+)?)")

CLAIM_NOTE = (
    "the earlier version wrote compliance_verified=true for every reply without checking "
    "anything; kept as its claim, it proves nothing"
)
OUTCOME_NOTE = (
    "legacy trial outcome: its metrics were computed by the earlier version, not by "
    "mlTrainer, and are never shown as results"
)


# -- items ------------------------------------------------------------------------------
@dataclass
class Bad:
    where: str
    line: int | None
    reason: str
    tolerated: bool = False
    """A truncated last line: skipped and reported even without ``--skip-bad-lines``."""


@dataclass
class Chat:
    """One message for unified memory."""

    where: str
    line: int | None
    fingerprint: str
    message: NewMessage
    topics_given: bool


@dataclass
class Record:
    """One legacy record; with ``audit_kind`` it is also appended to the audit chain."""

    kind: str
    where: str
    line: int | None
    ts: datetime | None
    data: Any
    fingerprint: str
    analysis: dict[str, Any] | None = None
    audit_kind: str | None = None
    reparse: str | None = None
    """A legacy reply (``raw_response``) for the bridge to re-parse."""
    trial_config: dict[str, Any] | None = None
    """A legacy trial config for the bridge to validate."""


@dataclass
class GoalEvent:
    """A goal's set, archive, current state or change, as one legacy file recorded it."""

    action: str  # set | archive | current | change
    where: str
    ts: datetime | None
    """None only for a current goal whose ``created_at`` is missing or unreadable."""
    legacy_id: str | None
    text: str | None
    created_by: str | None = None
    status: str | None = None


@dataclass
class FileRead:
    rel: str
    kind: str
    logs_rel: str = ""
    """The path under ``logs/``: part of a snapshot's identity, whichever folder was given."""
    size: int = 0
    sha256: str = ""
    read: int = 0
    chats: list[Chat] = field(default_factory=list)
    records: list[Record] = field(default_factory=list)
    goals: list[GoalEvent] = field(default_factory=list)
    bad: list[Bad] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    topic_index: dict[str, Any] | None = None


@dataclass(frozen=True)
class LegacyFile:
    path: Path
    rel: str
    """Relative to the folder given, with ``/`` (``logs/memory/chat_memory.jsonl``)."""
    logs_rel: str
    """Relative to ``logs/`` (``memory/chat_memory.jsonl``): the identity of snapshots."""
    kind: str
    size: int


class _BadLine(ValueError):
    """A line the reader cannot use; the message is the reason."""


# -- finding files -------------------------------------------------------------------------
def find_root(folder: Path) -> tuple[Path, Path]:
    """``(base, logs)``: the folder given and its ``logs/`` (the folder itself when it is
    ``logs/`` or holds the files directly)."""
    logs = folder / "logs"
    if logs.is_dir() and not logs.is_symlink():
        return folder, logs
    return folder, folder


def _kind_of(logs_rel: str) -> str | None:
    if logs_rel in KINDS:
        return KINDS[logs_rel]
    parts = logs_rel.split("/")
    if len(parts) == 1 and re.fullmatch(r"baseline_[^/]+\.json", parts[0]):
        return "baseline"
    if len(parts) == 2 and parts[0] == "trials" and parts[1].endswith(".json"):
        return "trial_config"
    return None


def find_files(folder: Path) -> tuple[list[LegacyFile], list[str]]:
    """Every file of a legacy folder with its kind (``unrecognised`` for any other file),
    in a stable order, and notes (symbolic links not followed)."""
    base, logs = find_root(folder)
    out: list[LegacyFile] = []
    notes: list[str] = []

    def rel(p: Path) -> str:
        return p.relative_to(base).as_posix()

    def walk(top: Path) -> Iterator[Path]:
        for p in sorted(top.rglob("*")):  # rglob never descends into a linked folder
            if p.is_symlink():
                notes.append(f"{rel(p)}: a symbolic link, not followed")
            elif p.is_file():
                yield p

    for p in walk(logs):
        logs_rel = p.relative_to(logs).as_posix()
        kind = _kind_of(logs_rel) or "unrecognised"
        out.append(LegacyFile(p, rel(p), logs_rel, kind, p.stat().st_size))
    if base != logs:
        beside = [base / "trial_feedback.json"]
        trials = base / "trials"
        if trials.is_dir() and not trials.is_symlink():
            beside += sorted(trials.glob("*.json"))
        for p in beside:
            if p.is_symlink():
                notes.append(f"{rel(p)}: a symbolic link, not followed")
            elif p.is_file():
                kind = "trial_feedback" if p.name == "trial_feedback.json" else "trial_config"
                out.append(LegacyFile(p, rel(p), rel(p), kind, p.stat().st_size))
    return out, notes


# -- low-level reading ---------------------------------------------------------------------
def parse_ts(value: Any) -> datetime:
    """An ISO 8601 or ``str(datetime)`` timestamp as an aware datetime (naive = UTC)."""
    if not isinstance(value, str) or not value.strip():
        raise _BadLine(f"timestamp {value!r} is not a date and time")
    try:
        dt = datetime.fromisoformat(value.strip())
    except ValueError:
        raise _BadLine(
            f"timestamp {value!r} is neither ISO 8601 nor str(datetime) "
            "(e.g. 2025-07-09T19:48:59.826522)"
        ) from None
    return dt.replace(tzinfo=UTC) if dt.tzinfo is None else dt.astimezone(UTC)


def _maybe_ts(rec: Any) -> datetime | None:
    """The first readable timestamp of a record, or None (records keep their original)."""
    if not isinstance(rec, dict):
        return None
    for key in _TS_KEYS:
        if key in rec:
            try:
                return parse_ts(rec[key])
            except _BadLine:
                return None
    return None


def _lines(data: bytes) -> Iterator[tuple[int, str | None, str, bool]]:
    """``(line number, text or None when not UTF-8, raw reason, is the unterminated last
    line)`` for every non-blank line."""
    parts = data.split(b"\n")
    last = len(parts) - 1  # parts[last] is b"" when the file ends with a newline
    for i, raw in enumerate(parts):
        if not raw.strip():
            continue
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as e:
            yield i + 1, None, f"not UTF-8 text (byte {e.start + 1})", i == last
            continue
        yield i + 1, text.strip().lstrip("\ufeff"), "", i == last


def _json_lines(data: bytes, out: FileRead) -> Iterator[tuple[str, int, Any]]:
    for n, text, why, unterminated in _lines(data):
        where = f"line {n}"
        if text is None:
            out.bad.append(Bad(where, n, why))
            continue
        try:
            yield where, n, json.loads(text)
        except ValueError as e:
            if unterminated and text[:1] in "{[":
                out.bad.append(
                    Bad(
                        where,
                        n,
                        "truncated last line (the earlier version stopped while writing it)",
                        tolerated=True,
                    )  # fmt: skip
                )
            else:
                out.bad.append(Bad(where, n, f"not valid JSON ({_json_reason(e)})"))


def _json_reason(e: ValueError) -> str:
    if isinstance(e, json.JSONDecodeError):
        return f"{e.msg} at column {e.colno}"
    return str(e)


def _looks_like_lines(data: bytes) -> bool:
    """Two or more non-blank lines, the first of which is a JSON object on its own."""
    lines = [ln for ln in data.splitlines() if ln.strip()]
    if len(lines) < 2:
        return False
    try:
        return isinstance(json.loads(lines[0]), dict)
    except ValueError:
        return False


def _values(data: bytes, kind: str, out: FileRead) -> Iterator[tuple[str, int | None, Any]]:
    """A file's JSON values: one for a JSON document, one per line for JSON Lines."""
    if kind in ("drift_protection",):
        for n, text, why, _ in _lines(data):
            if text is None:
                out.bad.append(Bad(f"line {n}", n, why))
            else:
                yield f"line {n}", n, text
        return
    if kind not in _JSON_DOCUMENT:
        yield from _json_lines(data, out)
        return
    try:
        doc = json.loads(data.decode("utf-8").lstrip("\ufeff"))
    except UnicodeDecodeError as e:
        out.bad.append(Bad("file", None, f"not UTF-8 text (byte {e.start + 1})"))
        return
    except json.JSONDecodeError as e:
        if _looks_like_lines(data):
            out.notes.append("JSON Lines despite the .json name")
            yield from _json_lines(data, out)
            return
        out.bad.append(Bad(f"line {e.lineno}", e.lineno, f"not valid JSON ({_json_reason(e)})"))
        return
    yield "file", None, doc


_JSON_DOCUMENT = frozenset(
    {
        "chat_history",
        "unified_chat_history",
        "topic_index",
        "system_goals",
        "agent_state",
        "trial_config",
        "trial_feedback",
        "learning_memory",
        "baseline",
    }
)
"""Kinds written as one JSON document (any may turn out to be JSON Lines); the rest are
JSON Lines, ``model_registry.json`` included."""


def _entries(value: Any, where: str, key: str) -> Iterator[tuple[str, Any]]:
    """The entries of a container document (``{key: [...]}`` or a bare list), or the value
    itself when it is one entry (a JSON Lines line)."""
    if where != "file":
        yield where, value
    elif isinstance(value, list):
        for i, v in enumerate(value):
            yield f"[{i}]", v
    elif isinstance(value, dict) and isinstance(value.get(key), list):
        for i, v in enumerate(value[key]):
            yield f"{key}[{i}]", v
    else:
        yield where, value


# -- chat ----------------------------------------------------------------------------------
def _chat(rec: Any, out: FileRead, where: str, line: int | None) -> Chat:
    if not isinstance(rec, dict):
        raise _BadLine("a chat message must be a JSON object")
    content = rec.get("content")
    if not isinstance(content, str):
        raise _BadLine("the message has no text ('content')")
    raw_role = rec.get("role")
    role = _ROLES.get(str(raw_role).lower()) if isinstance(raw_role, str) else None
    if role is None:
        raise _BadLine(f"unknown role {raw_role!r} (expected user, mltrainer, assistant or system)")
    if "timestamp" not in rec:
        raise _BadLine("the message has no timestamp")
    ts = parse_ts(rec["timestamp"])
    meta: dict[str, Any] = dict(rec["metadata"]) if isinstance(rec.get("metadata"), dict) else {}
    if "metadata" in rec and not isinstance(rec.get("metadata"), dict | None):
        meta["legacy_metadata"] = rec["metadata"]
    for k, v in rec.items():
        if k not in _CHAT_KEYS:
            meta[k if k not in meta else f"legacy_{k}"] = v
    meta.update(legacy=True, legacy_file=out.logs_rel, legacy_timestamp=rec["timestamp"])
    if rec.get("id") is not None:
        meta["legacy_id"] = rec["id"]
    if role != raw_role:
        meta["legacy_role"] = raw_role
    if rec.get("goal_context") is not None:
        meta["goal_context"] = rec["goal_context"]
    topics = rec.get("topics")
    topics_given = isinstance(topics, list)
    imp = rec.get("importance")
    importance = None
    if isinstance(imp, int | float) and not isinstance(imp, bool) and math.isfinite(imp):
        importance = min(1.0, max(0.0, float(imp)))
        if importance != imp:
            meta["legacy_importance"] = imp
    elif imp is not None:
        meta["legacy_importance"] = imp
    flags = rec.get("compliance_flags")
    msg = NewMessage.model_construct(  # every field checked above (100,000 lines: 2 s less)
        role=role,  # type: ignore[arg-type]  # one of ROLES, mapped above
        content=content,
        goal_id=None,
        conversation_id=f"legacy:{out.kind}",
        metadata=meta,
        compliance_flags=[str(f) for f in flags] if isinstance(flags, list) else [],
        ts=ts,
        topics=[str(t) for t in topics if isinstance(t, str | int)]
        if isinstance(topics, list)
        else [],
        importance=importance,
    )
    return Chat(where, line, chat_fingerprint(role, content, ts), msg, topics_given)


def _read_chat(data: bytes, out: FileRead) -> None:
    for where, line, value in _values(data, out.kind, out):
        if where == "file" and isinstance(value, dict) and "messages" in value:
            extra = sorted(k for k in value if k != "messages")
            if extra:
                out.notes.append(f"file keys besides messages: {', '.join(extra)}")
            if not isinstance(value["messages"], list):
                out.bad.append(Bad("messages", None, "'messages' is not a list"))
                continue
        elif where == "file" and not isinstance(value, list):
            out.bad.append(Bad("file", None, "expected a list of messages or {'messages': [...]}"))
            continue
        for w, rec in _entries(value, where, "messages"):
            try:
                out.chats.append(_chat(rec, out, w, line))
                out.read += 1
            except _BadLine as e:
                out.bad.append(Bad(w, line, str(e)))


# -- goals ---------------------------------------------------------------------------------
def _goal_text(value: Any) -> tuple[str | None, str | None]:
    """``(legacy id, text)`` of a goal written as text or as a goal object."""
    if isinstance(value, str):
        return None, value.strip() or None
    if isinstance(value, dict):
        gid = value.get("id") if isinstance(value.get("id"), str) else None
        text = value.get("text") or value.get("goal_text") or value.get("goal")
        return gid, text.strip() if isinstance(text, str) and text.strip() else None
    return None, None


def _read_goal_history(rec: Any, out: FileRead, where: str, line: int | None) -> None:
    if not isinstance(rec, dict):
        raise _BadLine("a goal history entry must be a JSON object")
    ts = parse_ts(rec.get("timestamp"))
    action = rec.get("action")
    gid = rec.get("goal_id") if isinstance(rec.get("goal_id"), str) else None
    text = rec.get("goal_text") if isinstance(rec.get("goal_text"), str) else None
    if action in ("set", "archive"):
        out.goals.append(GoalEvent(str(action), where, ts, gid, text))
    else:
        out.notes.append(f"{where}: action {action!r} kept as a record, not applied")
    _record(out, "goal_event", where, line, rec, ts)


def _read_goal_memory(rec: Any, out: FileRead, where: str, line: int | None) -> None:
    if not isinstance(rec, dict):
        raise _BadLine("a goal memory entry must be a JSON object")
    ts = parse_ts(rec.get("timestamp"))
    gid, text = _goal_text(rec.get("new_goal"))
    if text is not None or gid is not None:
        out.goals.append(GoalEvent("change", where, ts, gid, text))
    _record(out, "goal_change", where, line, rec, ts)


def _read_system_goals(rec: Any, out: FileRead, where: str, line: int | None) -> None:
    if not isinstance(rec, dict):
        raise _BadLine("system_goals must be a JSON object with 'current_goal'")
    cur = rec.get("current_goal")
    ts = _maybe_ts(rec.get("current_goal")) or _maybe_ts(rec)
    if isinstance(cur, dict):
        gid, text = _goal_text(cur)
        created = _maybe_ts(cur)
        status = cur.get("status") if isinstance(cur.get("status"), str) else None
        by = cur.get("created_by") if isinstance(cur.get("created_by"), str) else None
        out.goals.append(GoalEvent("current", where, created, gid, text, by, status))
    elif cur is not None:
        raise _BadLine("'current_goal' is not a goal object")
    _record(out, "goal_state", where, line, rec, ts)


# -- records -------------------------------------------------------------------------------
def _record(
    out: FileRead,
    kind: str,
    where: str,
    line: int | None,
    data: Any,
    ts: datetime | None = None,
    identity: str | None = None,
) -> Record:
    ident: list[Any] = [identity] if identity is not None else []
    rec = Record(
        kind, where, line, ts if ts is not None else _maybe_ts(data), data,
        fingerprint(kind, *ident, data),
    )  # fmt: skip
    out.records.append(rec)
    out.read += 1
    return rec


def _trial_config_of(data: Any) -> dict[str, Any] | None:
    if not isinstance(data, dict):
        return None
    if "symbol" in data or "model" in data:
        return data
    for key in ("trial", "config", "trial_config", "current_trial"):
        if isinstance(data.get(key), dict):
            return data[key]
    return None


def _read_agent_action(rec: Any, out: FileRead, where: str, line: int | None) -> None:
    if not isinstance(rec, dict):
        raise _BadLine("an agent action must be a JSON object")
    r = _record(out, "agent_action", where, line, rec)
    data = rec.get("data")
    if isinstance(data, dict) and isinstance(data.get("raw_response"), str):
        r.reparse = data["raw_response"]
    else:
        r.trial_config = _trial_config_of(data)


def _read_audit(rec: Any, out: FileRead, where: str, line: int | None) -> None:
    if not isinstance(rec, dict):
        raise _BadLine("an audit or compliance entry must be a JSON object")
    data, analysis = rec, None
    if out.kind == "legacy_audit" and "compliance_verified" in rec:
        data = {k: v for k, v in rec.items() if k != "compliance_verified"}
        analysis = {
            "legacy_claims": {"compliance_verified": rec["compliance_verified"]},
            "note": CLAIM_NOTE,
        }
    r = _record(out, _RECORD_KINDS[out.kind], where, line, data)
    r.fingerprint = fingerprint(r.kind, rec)  # the claim is part of what was written
    r.analysis = analysis
    r.audit_kind = _AUDIT_KINDS[out.kind]


def _read_feedback(data: bytes, out: FileRead) -> None:
    for where, line, value in _values(data, out.kind, out):
        if where == "file":
            if not isinstance(value, dict) or not isinstance(value.get("feedback_history"), list):
                out.bad.append(Bad("file", None, "expected {'feedback_history': [...]}"))
                continue
            rest = {k: v for k, v in value.items() if k != "feedback_history"}
            if rest:
                _record(out, "trial_feedback_meta", "file", None, rest, identity=out.logs_rel)
        for w, entry in _entries(value, where, "feedback_history"):
            if not isinstance(entry, dict):
                out.bad.append(Bad(w, line, "a feedback entry must be a JSON object"))
                continue
            r = _record(out, "trial_outcome", w, line, entry)
            r.analysis = {
                "legacy_outcome": True,
                "metrics_computed_by_mltrainer": False,
                "note": OUTCOME_NOTE,
            }


def _read_topic_index(data: bytes, out: FileRead) -> None:
    for where, _line, value in _values(data, out.kind, out):
        if not isinstance(value, dict) or not all(isinstance(v, list) for v in value.values()):
            out.bad.append(Bad(where, None, "expected {topic: [message id, ...]}"))
            continue
        out.topic_index = {**(out.topic_index or {}), **value}
        out.read += len(value)


def _read_drift_log(text: str, out: FileRead, where: str, line: int | None) -> None:
    m = _LOG_TS.match(text)
    ts = None
    if m:
        try:
            ts = parse_ts(m.group(1).replace(",", "."))
        except _BadLine:
            ts = None
    _record(out, "drift_protection", where, line, {"text": text}, ts)


_LINE_READERS = {
    "goal_history": _read_goal_history,
    "goal_memory": _read_goal_memory,
    "system_goals": _read_system_goals,
    "agent_actions": _read_agent_action,
    "compliance_log": _read_audit,
    "compliance_memory": _read_audit,
    "model_registry": _read_audit,
    "legacy_audit": _read_audit,
}


def _read_records(data: bytes, out: FileRead) -> None:
    reader = _LINE_READERS.get(out.kind)
    for where, line, value in _values(data, out.kind, out):
        try:
            if out.kind == "drift_protection":
                _read_drift_log(value, out, where, line)
            elif reader is not None:
                reader(value, out, where, line)
            elif out.kind in _SNAPSHOTS:
                ident = out.logs_rel if where == "file" else None
                r = _record(out, _RECORD_KINDS[out.kind], where, line, value, identity=ident)
                if out.kind == "agent_state" and isinstance(value, dict):
                    cur = value.get("current_trial")
                    r.trial_config = cur if isinstance(cur, dict) else None
                elif out.kind == "trial_config":
                    r.trial_config = value if isinstance(value, dict) else None
            else:  # drift_log
                if not isinstance(value, dict):
                    raise _BadLine("a drift log entry must be a JSON object")
                _record(out, "drift", where, line, value)
        except _BadLine as e:
            out.bad.append(Bad(where, line, str(e)))


def read_file(f: LegacyFile) -> FileRead:
    """Read one recognised legacy file (see the module docstring for the rules)."""
    data = f.path.read_bytes()
    out = FileRead(f.rel, f.kind, f.logs_rel, len(data), hashlib.sha256(data).hexdigest())
    if not data.strip():
        out.notes.append("empty file")
        return out
    if f.kind in ("chat_history", "unified_chat_history", "chat_memory"):
        _read_chat(data, out)
    elif f.kind == "trial_feedback":
        _read_feedback(data, out)
    elif f.kind == "topic_index":
        _read_topic_index(data, out)
    else:
        _read_records(data, out)
    return out
