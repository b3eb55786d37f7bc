"""Bar intervals (``1d``, ``1h``, ``5m``, ``1wk``, ``1mo``, ``1q``) and bars per year.

:func:`bar_frequency` is the one source of the bars-per-year figure used to annualise
anything (trial metrics, risk and factor models). It is *measured* from the series' own
timestamps, because the interval alone does not say it: an hourly FX series trades 24x5
(about 6,260 bars a year), an hourly stock series 6.5 hours a day (1,638), crypto 24x7.

Measurement: ``(bars - 1) / elapsed calendar years`` (365.25-day years), where a gap
longer than ``max(7 days, 10 x the median bar spacing)`` is an outage and counts as one
median spacing, so a missing stretch of data does not lower the rate. The measured rate
is then cross-checked with the calendars of the interval's unit (US exchange, 24x5 FX,
24x7); within 3 % of the nearest one, that calendar's exact figure is used (daily stocks
stay at the conventional 252, monthly data at 12), otherwise the measured figure is.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Literal

import numpy as np
import pandas as pd

from ..errors import DataError

__all__ = ["parse_interval", "bar_frequency", "BarFrequency", "CALENDARS"]

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

_WEEKS = 365.25 / 7  # calendar weeks a year
# Bars a year for a 1-unit interval under each trading calendar (first = the fallback).
CALENDARS: dict[str, dict[str, float]] = {
    "minute": {
        "US exchange 252 x 390 min": 252 * 390,
        "FX 24x5": 120 * 60 * _WEEKS,
        "24x7": 365.25 * 24 * 60,
    },
    "hour": {
        "US exchange 252 x 6.5 h": 252 * 6.5,
        "FX 24x5": 120 * _WEEKS,
        "24x7": 365.25 * 24,
    },
    "day": {"exchange days": 252.0, "FX 24x5": 5 * _WEEKS, "24x7": 365.25},
    "week": {"weeks": 52.0},
    "month": {"months": 12.0},
    "quarter": {"quarters": 4.0},
}
SNAP_TOLERANCE = 0.03  # relative distance to a calendar figure that counts as a match
_YEAR_S = 365.25 * 86400.0
_WEEK_S = 7 * 86400.0


def parse_interval(interval: str) -> tuple[int, str]:
    """``'5m'`` -> ``(5, 'minute')``; raises :class:`DataError` on anything else."""
    m = re.fullmatch(r"\s*(\d+)\s*(min|mo|wk|m|h|d|w|q)\s*", interval or "")
    if not m or int(m.group(1)) < 1:
        raise DataError(f"unknown interval '{interval}'; use e.g. 1d, 1h, 5m, 1wk, 1mo, 1q")
    return int(m.group(1)), _UNITS[m.group(2)]


@dataclass(frozen=True)
class BarFrequency:
    """Bars per year and how that figure was obtained (recorded with every result)."""

    periods_per_year: float
    method: Literal["calendar", "measured", "nominal"]
    source: str
    measured: float | None
    bars: int


def _measure(index: pd.DatetimeIndex) -> float | None:
    """Bars per calendar year from the timestamps, outages excluded; None if unmeasurable."""
    if len(index) < 3:
        return None
    gaps = np.diff(index.asi8).astype(float) / 1e9
    median = float(np.median(gaps))
    if not median > 0:
        return None
    outage = max(_WEEK_S, 10 * median)
    elapsed = float(np.where(gaps > outage, median, gaps).sum())
    return (len(index) - 1) / (elapsed / _YEAR_S)


def _candidates(interval: str | None) -> dict[str, float]:
    if interval is None:
        return {f"{name} ({unit})": v for unit, cal in CALENDARS.items() for name, v in cal.items()}
    mult, unit = parse_interval(interval)
    return {
        (f"{name}, {interval} bars" if mult > 1 else name): v / mult
        for name, v in CALENDARS[unit].items()
    }


def bar_frequency(index: pd.Index, interval: str | None = None) -> BarFrequency:
    """Bars per year of a series with timestamps ``index`` and nominal ``interval``.

    ``interval=None`` (e.g. several series aligned on common dates) cross-checks against
    every calendar. Too few bars to measure falls back to the interval's first calendar.

    Example: the bundled EURUSD hourly bars measure 6,205 a year, within 3 % of the 24x5
    calendar, so 6,261.4 is used; SPX daily bars measure 251.6, so 252 is used.
    """
    ix = pd.DatetimeIndex(index)
    cands = _candidates(interval)
    measured = _measure(ix)
    if measured is None:
        if interval is None:
            raise DataError(f"cannot measure bars per year from {len(ix)} timestamps")
        name, value = next(iter(cands.items()))
        return BarFrequency(
            value, "nominal", f"{name}: {value:g} bars/yr (too few bars to measure)", None, len(ix)
        )
    name, value = min(cands.items(), key=lambda kv: abs(math.log(measured / kv[1])))
    span = f"measured {measured:.1f} from {len(ix)} bars {ix[0].date()}..{ix[-1].date()}"
    if abs(measured / value - 1) <= SNAP_TOLERANCE:
        return BarFrequency(
            value, "calendar", f"calendar {name}: {value:.6g} bars/yr ({span})", measured, len(ix)
        )
    return BarFrequency(measured, "measured", f"{span} (no calendar within 3%)", measured, len(ix))
