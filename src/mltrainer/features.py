"""Feature sets and labels for walk-forward trials.

Every feature at time ``t`` uses data up to and including ``t`` only (rolling windows,
``shift`` into the past, never ``shift(-k)``). Labels are forward returns over the
horizon, ``close[t + h] / close[t] - 1``, or their sign (1 = up, 0 = down or flat) for
classification; the last ``h`` rows have no label.

Feature sets (``TrialSpec.feature_set``):

* ``returns``: simple returns over 1, 5, 10, 20 and 60 bars.
* ``basic`` (default): ``returns`` plus price gaps to SMA 10/20/50 and EMA 12/26
  (``close / ma - 1``), RSI(14) scaled to [-1, 1], realised volatility of one-bar returns
  over 10/20/60 bars, and where the source has them ATR(14) / close and volume / its
  20-bar mean.
* ``macro``: ``basic`` plus macro series joined as of each bar, each observation used
  only from the first business day after its real publication date
  (:mod:`mltrainer.data.releases` gives each series' schedule and its source): core CPI
  year-on-year change (CPILFESL, published late in the following month), the Baa-Aaa
  credit spread (monthly averages, published on the next month's first business day)
  and the 20-day change of WTI crude (DCOILWTICO, published the next business day).
  Rows before a series exists are dropped.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd

from .data.market import MarketData
from .data.releases import usable_from
from .errors import TrialError

__all__ = ["FEATURE_SETS", "MACRO_SERIES", "build_features", "make_labels", "price_inputs"]

FEATURE_SETS = ("returns", "basic", "macro")
RETURN_LAGS = (1, 5, 10, 20, 60)
MACRO_SERIES = ("CPILFESL", "BAA", "AAA", "DCOILWTICO")

Fetch = Callable[[str], MarketData]


def _rsi(close: pd.Series, n: int = 14) -> pd.Series:
    delta = close.diff()
    up = delta.clip(lower=0).ewm(alpha=1 / n, adjust=False, min_periods=n).mean()
    down = (-delta.clip(upper=0)).ewm(alpha=1 / n, adjust=False, min_periods=n).mean()
    rs = up / down.replace(0.0, np.nan)
    rsi = 100 - 100 / (1 + rs)
    return rsi.where(down != 0, 100.0)


def _returns(close: pd.Series) -> dict[str, pd.Series]:
    return {f"ret_{k}": close.pct_change(k, fill_method=None) for k in RETURN_LAGS}


def _technical(frame: pd.DataFrame) -> dict[str, pd.Series]:
    close = frame["close"]
    r1 = close.pct_change(fill_method=None)
    out: dict[str, pd.Series] = {}
    for n in (10, 20, 50):
        out[f"sma_gap_{n}"] = close / close.rolling(n).mean() - 1
    for n in (12, 26):
        out[f"ema_gap_{n}"] = close / close.ewm(span=n, adjust=False, min_periods=n).mean() - 1
    out["rsi_14"] = (_rsi(close) - 50) / 50
    for n in (10, 20, 60):
        out[f"vol_{n}"] = r1.rolling(n).std()
    if {"high", "low"} <= set(frame.columns):
        prev = close.shift(1)
        tr = pd.concat(
            [
                frame["high"] - frame["low"],
                (frame["high"] - prev).abs(),
                (frame["low"] - prev).abs(),
            ],
            axis=1,
        ).max(axis=1)
        out["atr_14"] = tr.rolling(14).mean() / close
    if "volume" in frame and (frame["volume"] > 0).mean() > 0.95:
        out["volume_ratio_20"] = frame["volume"] / frame["volume"].rolling(20).mean()
    return out


def _macro(index: pd.DatetimeIndex, fetch: Fetch) -> dict[str, pd.Series]:
    def asof(values: pd.Series, symbol: str) -> pd.Series:
        """``values`` (by observation date) as known on each bar of ``index``."""
        s = pd.Series(values.to_numpy(), index=usable_from(symbol, values.index))
        s = s[~s.index.duplicated(keep="last")]  # two observations first usable together
        return s.reindex(index.union(s.index)).ffill().reindex(index)

    cpi = fetch("CPILFESL").frame["value"]
    baa, aaa = fetch("BAA").frame["value"], fetch("AAA").frame["value"]
    wti = fetch("DCOILWTICO").frame["value"]
    # BAA and AAA share one schedule, so their difference is published with them.
    return {
        "cpi_yoy": asof(cpi.pct_change(12, fill_method=None), "CPILFESL"),
        "credit_spread": asof((baa - aaa).dropna(), "BAA"),
        "wti_ret_20": asof(wti.pct_change(20, fill_method=None), "DCOILWTICO"),
    }


def build_features(
    md: MarketData, feature_set: str = "basic", fetch: Fetch | None = None
) -> pd.DataFrame:
    """Feature matrix aligned to ``md.frame.index`` (leading rows contain NaN)."""
    if feature_set not in FEATURE_SETS:
        raise TrialError(
            f"unknown feature set '{feature_set}'; use one of {', '.join(FEATURE_SETS)}"
        )
    if "close" not in md.frame:
        raise TrialError(
            f"{md.symbol} is a {md.kind} series without prices; trials need a price symbol"
        )
    cols = _returns(md.frame["close"])
    if feature_set in ("basic", "macro"):
        cols.update(_technical(md.frame))
    if feature_set == "macro":
        if fetch is None:
            raise TrialError("the macro feature set needs a data fetcher")
        cols.update(_macro(md.frame.index, fetch))
    feats = pd.DataFrame(cols, index=md.frame.index)
    return feats.replace([np.inf, -np.inf], np.nan)


def price_inputs(md: MarketData) -> pd.DataFrame:
    """The ``inputs="prices"`` frame: price columns plus ``ret_1`` (0 on the first row)."""
    cols = [c for c in ("open", "high", "low", "close", "volume") if c in md.frame]
    out = md.frame[cols].copy()
    out["ret_1"] = out["close"].pct_change(fill_method=None).fillna(0.0)
    return out


def make_labels(close: pd.Series, horizon: int) -> pd.Series:
    """Forward simple return over ``horizon`` bars; NaN where the future is unknown."""
    if horizon < 1:
        raise TrialError("horizon must be at least 1 bar")
    return close.shift(-horizon) / close - 1
