"""When each economic series used as a feature becomes public, and so usable.

A value may feed a feature only from the first US federal business day *after* its
publication date: the publishers (BLS, the Federal Reserve, EIA) publish on federal
business days, and a value published during a day is not assumed to be known at that
day's close. The calendar is pandas' ``USFederalHolidayCalendar``.

Dates in the bundled FRED copies are observation dates: a monthly value dated the 1st is
the value *of* that month (for BAA/AAA the average of the month's daily yields, for
CPILFESL the index for the month); a daily value is that day's. Each rule below maps an
observation date to a publication date and errs late, never early:

* ``BAA``, ``AAA`` (Moody's seasoned corporate bond yields, monthly averages of daily
  yields; FRED release "Moody's Daily Corporate Bond Yield Averages"): the average
  includes the yield of the month's last business day, which is published the next
  business day (the Fed's H.15 release gives the previous business day's rates). So the
  month's average is published on the first business day of the next month.
* ``CPILFESL`` (core CPI, BLS "Consumer Price Index" release): BLS publishes a month's
  CPI in the following month, usually in its second or third week (May 2010 on
  17 June 2010) but later after a government shutdown (September 2013 on 30 October
  2013). Modelled as published on the last business day of the following month, which
  no release in the bundled span came after.
* ``DCOILWTICO`` (WTI Cushing spot, EIA "Spot Prices"): EIA posts a day's closing spot
  price the next weekday morning, excluding federal holidays (EIA's daily prices page).
  Published the next business day.

Not modelled: revisions. The bundled copies are the latest vintage; CPILFESL's seasonal
factors are revised every February for the previous five years, so its history is not
exactly what was public at the time (that needs ALFRED vintages).
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cache
from typing import Literal

import numpy as np
import pandas as pd

from ..errors import DataError

__all__ = ["RELEASES", "published", "usable_from"]


@cache
def _holidays() -> np.ndarray:
    from pandas.tseries.holiday import USFederalHolidayCalendar

    days = USFederalHolidayCalendar().holidays("1900-01-01", "2100-12-31")
    return days.to_numpy().astype("datetime64[D]")


def _bday(
    dates: pd.DatetimeIndex, n: int, roll: Literal["forward", "backward"]
) -> pd.DatetimeIndex:
    """``np.busday_offset`` on the federal calendar; ``roll='backward', n=1`` is the first
    business day strictly after each date."""
    days = dates.to_numpy().astype("datetime64[D]")
    out = np.busday_offset(days, n, roll=roll, holidays=_holidays())
    return pd.DatetimeIndex(out.astype("datetime64[ns]"))


def _monthly_average(obs: pd.DatetimeIndex) -> pd.DatetimeIndex:
    """First business day of the month after the observed month."""
    return _bday(obs + pd.offsets.MonthEnd(0), 1, "backward")


def _next_month_end(obs: pd.DatetimeIndex) -> pd.DatetimeIndex:
    """Last business day of the month after the observed month."""
    return _bday(obs + pd.offsets.MonthEnd(0) + pd.offsets.MonthEnd(1), 0, "backward")


def _next_day(obs: pd.DatetimeIndex) -> pd.DatetimeIndex:
    """First business day after the observation day."""
    return _bday(obs, 1, "backward")


RELEASES: dict[str, Callable[[pd.DatetimeIndex], pd.DatetimeIndex]] = {
    "BAA": _monthly_average,
    "AAA": _monthly_average,
    "CPILFESL": _next_month_end,
    "DCOILWTICO": _next_day,
}


def published(symbol: str, obs: pd.DatetimeIndex) -> pd.DatetimeIndex:
    """Publication date of each observation of ``symbol`` (see the module's rules)."""
    rule = RELEASES.get(symbol)
    if rule is None:
        raise DataError(
            f"no publication schedule for '{symbol}'; known: {', '.join(sorted(RELEASES))}"
        )
    return rule(pd.DatetimeIndex(obs).normalize())


def usable_from(symbol: str, obs: pd.DatetimeIndex) -> pd.DatetimeIndex:
    """First date a feature may use each observation: the business day after publication."""
    return _bday(published(symbol, obs), 1, "backward")
