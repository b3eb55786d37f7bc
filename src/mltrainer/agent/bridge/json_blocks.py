"""Tier 2 of the bridge: JSON objects in a reply, read leniently and never evaluated.

Fenced ```json blocks, labelled objects (``TRIAL_CONFIG = {...}``, ``TRIAL_PARAMETERS:
{...}``) and bare ``{...}`` objects are found by a bracket scanner that knows strings and
comments. A small tokenizer accepts ``//`` and ``/* */`` comments, trailing commas,
single-quoted strings, unquoted keys and Python literals, rewrites them as strict JSON and
hands that to :func:`json.loads`. Nothing is evaluated.
"""

from __future__ import annotations

import contextlib
import json
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from .fields import NESTED_KEYS
from .readers import Invalid, fragment, norm_key
from .results import BridgeError

__all__ = ["FENCE_RE", "JsonFinding", "JsonScan", "scan_json", "load_jsonish", "mask", "flatten"]

FENCE_RE = re.compile(r"```[ \t]*([\w+.-]*)[^\n]*\n(.*?)```", re.S)
_JSON_LANGS = frozenset({"json", "json5", "jsonc"})
_LABEL_RE = re.compile(r"([A-Za-z_][A-Za-z0-9_]*)\s*(?:[:=]\s*)?$")
_LABEL_WORDS_RE = re.compile(r"trial|config|param|action|tool", re.I)
_QUOTED_KEY_START_RE = re.compile(r"\{\s*[\"'][\w -]{1,40}[\"']\s*:")
_OBJECT_START_RE = re.compile(r"\{\s*(?:[\"'}]|[A-Za-z_]\w*\s*:|//|/\*)")
_SCAN_RE = re.compile(r'"(?:[^"\\\n]|\\.)*"|//[^\n]*|/\*.*?\*/|[^"\'/{}\[\]]+|.', re.S)
_SQ_STRING_RE = re.compile(r"'(?:[^'\\\n]|\\.)*'")
_TOKEN_RE = re.compile(
    r"""
      (?P<space>\s+)
    | (?P<comment>//[^\n]*|/\*.*?\*/|\#[^\n]*)
    | (?P<dq>"(?:[^"\\\n]|\\.)*")
    | (?P<sq>'(?:[^'\\\n]|\\.)*')
    | (?P<number>[-+]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?%?)
    | (?P<word>[A-Za-z_$][\w$]*)
    | (?P<punct>[{}\[\]:,])
    | (?P<other>.)
    """,
    re.X | re.S,
)
_ESCAPE_RE = re.compile(r"\\(.)|\"", re.S)
_NON_SPACE_RE = re.compile(r"\S")
_PERCENT_KEY_RE = re.compile(r"%|pct|percent", re.I)
_INT_TOKEN_RE = re.compile(r"-?\d+")
_LITERALS = {
    "true": "true",
    "false": "false",
    "null": "null",
    "True": "true",
    "False": "false",
    "None": "null",
}

_LABEL_WINDOW = 80  # how far before a "{" a TRIAL_CONFIG-style label is looked for


# -- lenient JSON ------------------------------------------------------------------------------
def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not allowed")


def _requote(body: str) -> str:
    """A JSON string literal from the inside of a single- or double-quoted string."""

    def sub(m: re.Match[str]) -> str:
        if m.group(1) is None:
            return '\\"'
        return "'" if m.group(1) == "'" else m.group(0)

    return '"' + _ESCAPE_RE.sub(sub, body) + '"'


def _number_token(tok: str) -> str:
    if tok.endswith("%"):
        return json.dumps(tok)
    tok = tok.lstrip("+")
    if _INT_TOKEN_RE.fullmatch(tok):
        return str(int(tok))
    number = float(tok)
    if not math.isfinite(number):
        raise Invalid(f"number {tok} is out of range")
    return repr(number)


def _to_strict_json(src: str) -> str:
    """Rewrite JSON-ish text (comments, trailing commas, single quotes...) as strict JSON."""
    tokens: list[tuple[str, str]] = []
    for m in _TOKEN_RE.finditer(src):
        kind = m.lastgroup or "other"
        if kind in ("space", "comment"):
            continue
        if kind == "other":
            raise Invalid(f"unexpected character {m.group()!r}")
        tokens.append((kind, m.group()))
    out: list[str] = []
    for i, (kind, tok) in enumerate(tokens):
        if kind == "punct":
            if tok in "}]" and out and out[-1] == ",":
                out.pop()
            out.append(tok)
        elif kind in ("dq", "sq"):
            out.append(_requote(tok[1:-1]))
        elif kind == "number":
            out.append(_number_token(tok))
        elif tok in _LITERALS and tokens[i + 1 : i + 2] != [("punct", ":")]:
            out.append(_LITERALS[tok])
        else:
            out.append(json.dumps(tok))
    return " ".join(out)


def load_jsonish(src: str) -> Any:
    try:
        return json.loads(src, parse_constant=_reject_constant)
    except (ValueError, RecursionError):
        pass
    try:
        return json.loads(_to_strict_json(src), parse_constant=_reject_constant)
    except json.JSONDecodeError as exc:
        raise Invalid(f"malformed JSON: {exc.msg}") from None
    except (ValueError, RecursionError) as exc:
        raise Invalid(f"malformed JSON: {exc}") from None


def _balanced_end(text: str, start: int, stop: int) -> int | None:
    """Index just past the bracket that closes the one at ``start``; None if unterminated."""
    depth = 0
    pos = start
    prev = ""  # last significant character outside strings and comments
    while pos < stop:
        ch = text[pos]
        if ch in "{[":
            depth += 1
            prev = ch
            pos += 1
            continue
        if ch in "}]":
            depth -= 1
            pos += 1
            if depth == 0:
                return pos
            prev = ch
            continue
        if ch == "'" and prev in ("{", "[", ",", ":"):
            m = _SQ_STRING_RE.match(text, pos, stop)
            if m:
                pos, prev = m.end(), "'"
                continue
        m = _SCAN_RE.match(text, pos, stop)
        if m is None:  # cannot happen: the last alternative matches any character
            return None
        tok = m.group()
        pos = m.end()
        if tok.startswith(("//", "/*")) and len(tok) > 1:
            continue
        stripped = tok.rstrip()
        if stripped:
            prev = stripped[-1]
    return None


@dataclass
class JsonFinding:
    value: Any
    fragment: str
    labelled: bool


@dataclass
class JsonScan:
    findings: list[JsonFinding] = field(default_factory=list)
    problems: list[BridgeError] = field(default_factory=list)
    masked: str = ""


def scan_json(text: str) -> JsonScan:
    """Find JSON(-ish) objects in ``text``; return them and the text with them blanked."""
    scan = JsonScan()
    fences = [(m.start(2), m.end(2), m.group(1).lower()) for m in FENCE_RE.finditer(text)]
    array_starts: set[int] = set()
    for body_start, body_end, _lang in fences:
        first = _NON_SPACE_RE.search(text, body_start, body_end)
        if first and text[first.start()] == "[":
            array_starts.add(first.start())
    spans: list[tuple[int, int]] = []
    pos = 0
    n = len(text)
    while pos < n:
        brace = text.find("{", pos)
        starts = [s for s in array_starts if s >= pos]
        start = min([s for s in (brace, *starts) if s >= 0], default=-1)
        if start < 0:
            break
        fence = next(((a, b, lang) for a, b, lang in fences if a <= start < b), None)
        window = max(0, start - _LABEL_WINDOW)  # bounded, so one long line stays linear
        line_start = max(window, text.rfind("\n", window, start) + 1)
        label_m = _LABEL_RE.search(text, line_start, start)
        labelled = bool(label_m and _LABEL_WORDS_RE.search(label_m.group(1)))
        in_json_fence = bool(fence and (fence[2] in _JSON_LANGS or start in array_starts))
        if fence and not in_json_fence and not labelled:
            in_json_fence = not text[fence[0] : start].strip()
        intended = in_json_fence or labelled or bool(_QUOTED_KEY_START_RE.match(text, start))
        if not intended and not _OBJECT_START_RE.match(text, start):
            pos = start + 1
            continue
        stop = fence[1] if fence else n
        end = _balanced_end(text, start, stop)
        if end is None:
            if intended:
                scan.problems.append(
                    BridgeError(
                        message="malformed JSON: the object is never closed",
                        origin="json",
                        fragment=fragment(text[start:stop]),
                    )
                )
                spans.append((start, stop))
                if fence is None:
                    break
                pos = stop
            else:
                pos = start + 1
            continue
        candidate = text[start:end]
        try:
            value = load_jsonish(candidate)
        except Invalid as exc:
            if intended:
                scan.problems.append(
                    BridgeError(message=exc.message, origin="json", fragment=fragment(candidate))
                )
                spans.append((label_m.start() if labelled and label_m else start, end))
                pos = end
            else:
                pos = start + 1
            continue
        scan.findings.append(JsonFinding(value, fragment(candidate), labelled))
        spans.append((label_m.start() if labelled and label_m else start, end))
        pos = end
    scan.masked = mask(text, spans)
    return scan


def mask(text: str, spans: Sequence[tuple[int, int]]) -> str:
    if not spans:
        return text
    parts: list[str] = []
    last = 0
    for a, b in sorted(spans):
        if a < last:
            a = last
        parts.append(text[last:a])
        parts.append(re.sub(r"[^\n]", " ", text[a:b]))
        last = max(last, b)
    parts.append(text[last:])
    return "".join(parts)


def flatten(obj: Mapping[str, Any], depth: int = 0) -> dict[str, Any]:
    """Top-level keys plus those of nested ``parameters``/``input``/... objects (outer wins)."""
    out: dict[str, Any] = {}
    nested: list[Mapping[str, Any]] = []
    for key, value in obj.items():
        if not isinstance(key, str):
            continue
        if norm_key(key) in NESTED_KEYS and depth < 3:
            if isinstance(value, str) and value.lstrip().startswith("{"):
                with contextlib.suppress(Invalid):
                    value = load_jsonish(value)
            if isinstance(value, Mapping):
                nested.append(value)
                continue
        out[key] = value
    for inner in nested:
        for key, value in flatten(inner, depth + 1).items():
            out.setdefault(key, value)
    return out
