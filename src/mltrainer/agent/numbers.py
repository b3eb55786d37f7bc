"""Checks that metric numbers in a reply come from results produced in the conversation.

A number is checked when a metric word (Sharpe, drawdown, return, accuracy...) stands a
few words before it in the same clause. It must equal, after rounding to the decimals
shown (directly or as a percentage: ``12.3%`` matches ``0.1234``), a result value whose
key names that metric (a Sharpe is compared with ``sharpe`` values, a drawdown with
``max_drawdown``...). Losses may be stated as magnitudes ("a drawdown of 43%" for
-0.43); other numbers must match in sign. Numbers that match nothing are flagged to the
user; nothing is silently corrected.

Only the assistant's claims about results are checked. Two kinds of number are not
claims: a number inside quotation marks (an example, such as the help text's
``"Sharpe above 1"``), and a threshold the user wrote, in the message or in the goal:
a statement with a comparison word ("above", "under", ``>``...) whose metric, direction
and value all appear in such a statement of the user's. A bare "Sharpe 1.5" is always a
claim, even when the goal's threshold is 1.5.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable
from typing import Any

__all__ = ["check_numbers", "collect_numbers"]

# metric word in text -> key fragments of the result values it may be compared with
_KEYS = {
    "sharpe": ("sharpe", "psr", "dsr"),
    "sortino": ("sortino",),
    "calmar": ("calmar",),
    "drawdown": ("drawdown",),
    "return": ("return", "cagr"),
    "cagr": ("cagr",),
    "volatility": ("volatility", "vol"),
    "vol": ("volatility", "vol"),
    "accuracy": ("accuracy",),
    "auc": ("auc",),
    "hit rate": ("hit_rate",),
    "ic": ("ic",),
    "rank ic": ("rank_ic",),
    "turnover": ("turnover",),
    "exposure": ("exposure",),
    "psr": ("psr",),
    "dsr": ("dsr",),
    "alpha": ("alpha",),
    "beta": ("beta",),
    "var": ("var",),
    "cvar": ("cvar",),
    "price": ("price",),
    "weight": ("weight", "weights"),
}
_METRIC = r"(sharpe|sortino|calmar|draw\s*down|return|cagr|volatility|vol|accuracy|auc|hit\s+rate|rank\s+ic|ic|turnover|exposure|psr|dsr|alpha|beta|cvar|var|price|weight)"
# The number must follow the metric within a few words, in the same clause (no comma,
# semicolon or bracket between them), and must not be part of a token like "1d".
_STATEMENT = re.compile(
    rf"\b{_METRIC}s?\b[^0-9\n,;()\[\]]{{0,30}}?(-?\d+(?:\.\d+)?)(?!\w|\.\d)\s*(%?)", re.IGNORECASE
)


_QUOTED = re.compile(r'"[^"\n]*"|\u201c[^\u201d\n]*\u201d')
_ABOVE = re.compile(
    r">|\b(?:above|over|greater|more|higher|at\s+least|exceeds?|beyond|min(?:imum)?)\b", re.I
)
_BELOW = re.compile(
    r"<|\b(?:below|under|less|lower|at\s+most|within|no\s+more|max(?:imum)?)\b", re.I
)


def _metric_name(raw: str) -> str:
    return re.sub(r"\s+", " ", raw.lower()).replace("draw down", "drawdown")


def _direction(between: str) -> str | None:
    """``'>'`` or ``'<'`` when the words between a metric and its number compare."""
    above, below = _ABOVE.search(between), _BELOW.search(between)
    if bool(above) == bool(below):
        return None
    return ">" if above else "<"


def _thresholds(texts: Iterable[str]) -> set[tuple[str, str, float]]:
    """(metric key, direction, value) of every comparison stated in ``texts``; a
    percentage is kept as a fraction (``5%`` -> 0.05)."""
    out: set[tuple[str, str, float]] = set()
    for t in texts:
        for m in _STATEMENT.finditer(t or ""):
            d = _direction(t[m.end(1) : m.start(2)])
            if d is None:
                continue
            key = _KEYS.get(_metric_name(m.group(1)), ("",))[0]
            x = float(m.group(2))
            out.add((key, d, x / 100 if m.group(3) == "%" else x))
    return out


def collect_numbers(
    obj: Any, out: list[tuple[str, float]] | None = None, key: str = ""
) -> list[tuple[str, float]]:
    """Every finite number inside nested results, with its lower-cased key path."""
    out = [] if out is None else out
    if isinstance(obj, bool):
        return out
    if isinstance(obj, int | float):
        if math.isfinite(obj):
            out.append((key, float(obj)))
    elif isinstance(obj, dict):
        for k, v in obj.items():
            collect_numbers(v, out, f"{key}.{str(k).lower()}")
    elif isinstance(obj, list | tuple):
        for v in obj:
            collect_numbers(v, out, key)
    return out


def _matches(shown: str, pct: bool, values: Iterable[float], magnitude_ok: bool) -> bool:
    x = float(shown)
    decimals = len(shown.split(".")[1]) if "." in shown else 0
    tol = 0.5 * 10 ** (-decimals) + 1e-12
    for v in values:
        for c in (v * 100,) if pct else (v, v * 100):
            target = abs(c) if magnitude_ok and x >= 0 else c
            if abs(x - target) <= tol:
                return True
    return False


def _names(key_path: str, fragment: str) -> bool:
    """Whether a segment of ``key_path`` holds ``fragment`` as whole ``_``-separated words."""
    want = fragment.split("_")
    for seg in key_path.split("."):
        toks = seg.split("_")
        if any(toks[i : i + len(want)] == want for i in range(len(toks) - len(want) + 1)):
            return True
    return False


def check_numbers(text: str, results: Iterable[Any], given: Iterable[str] = ()) -> list[str]:
    """Flags for metric numbers in ``text`` that match no value in ``results``.

    ``given`` holds the user's own texts (the message, the goal): thresholds stated there
    are not the assistant's claims (see the module docstring)."""
    values: list[tuple[str, float]] = []
    for r in results:
        collect_numbers(r, values)
    quoted = [q.span() for q in _QUOTED.finditer(text)]
    user_thresholds = _thresholds(given)
    flags = []
    for m in _STATEMENT.finditer(text):
        if any(a <= m.start() < b for a, b in quoted):
            continue
        metric = _metric_name(m.group(1))
        number, pct = m.group(2), m.group(3) == "%"
        frags = _KEYS.get(metric, ())
        direction = _direction(text[m.end(1) : m.start(2)])
        shown = float(number) / (100 if pct else 1)
        if direction and any(
            d == direction and k in frags[:1] and math.isclose(v, shown, abs_tol=1e-12)
            for k, d, v in user_thresholds
        ):
            continue
        candidates = [v for k, v in values if any(_names(k, f) for f in frags)]
        loss = metric in ("drawdown", "var", "cvar")
        if not _matches(number, pct, candidates, magnitude_ok=loss):
            flags.append(
                f"'{m.group(0).strip()}' states a {metric} that no result in this conversation produced"
            )
    return flags
