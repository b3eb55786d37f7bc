"""Bar intervals: ``1d``, ``1h``, ``5m``, ``1wk``, ``1mo``, ``1q`` and their vendor forms."""

from __future__ import annotations

import re

from ..errors import DataError

__all__ = ["parse_interval", "PERIODS_PER_YEAR"]

_UNITS = {
    "m": "minute",
    "min": "minute",
    "h": "hour",
    "d": "day",
    "wk": "week",
    "w": "week",
    "mo": "month",
    "q": "quarter",
}
# Bars per year used to annualise metrics (trading calendar for intraday/daily bars).
PERIODS_PER_YEAR = {
    "minute": 252 * 390,
    "hour": 252 * 6.5,
    "day": 252,
    "week": 52,
    "month": 12,
    "quarter": 4,
}


def parse_interval(interval: str) -> tuple[int, str]:
    """``'5m'`` -> ``(5, 'minute')``; raises :class:`DataError` on anything else."""
    m = re.fullmatch(r"\s*(\d+)\s*(min|mo|wk|m|h|d|w|q)\s*", interval or "")
    if not m:
        raise DataError(f"unknown interval '{interval}'; use e.g. 1d, 1h, 5m, 1wk, 1mo, 1q")
    return int(m.group(1)), _UNITS[m.group(2)]


def periods_per_year(interval: str) -> float:
    mult, unit = parse_interval(interval)
    return PERIODS_PER_YEAR[unit] / mult
