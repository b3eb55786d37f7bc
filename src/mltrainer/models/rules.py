"""Rule-based trading strategies (task ``strategy``, inputs ``prices``, nothing to learn).

``fit`` only records that it was called. ``predict`` returns the target position at each
row ``t`` in [-1, 1] (long-only variants in [0, 1]) computed from ``close`` (and ``high``/
``low`` for Donchian channels, falling back to ``close``) up to and including ``t``: every
indicator is a trailing rolling window, an exponential recursion or a forward-filled state,
so no value looks ahead. The engine applies the position at ``t`` to the return of bar
``t + 1``. Rows before an indicator has enough history get position 0.

Defaults assume daily bars (252 per year for annualising volatility and the hurdle rate).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd

from .base import ModelSpec

__all__ = ["SPECS", "RuleStrategy", "RULES"]


def _close(X: pd.DataFrame) -> pd.Series:
    return X["close"].astype(float).reset_index(drop=True)


def _sign_position(signal: pd.Series, long_only: bool) -> pd.Series:
    pos = np.sign(signal)
    if long_only:
        pos = pos.clip(lower=0.0)
    return pos.fillna(0.0)


def ma_crossover(
    X: pd.DataFrame, fast: int = 10, slow: int = 20, kind: str = "sma", long_only: bool = False
) -> pd.Series:
    """Long when the fast moving average is above the slow one, short (or flat) below."""
    if not 1 <= fast < slow:
        raise ValueError("need 1 <= fast < slow")
    if kind not in ("sma", "ema"):
        raise ValueError("kind must be 'sma' or 'ema'")
    c = _close(X)
    if kind == "sma":
        f, s = c.rolling(fast).mean(), c.rolling(slow).mean()
    else:
        f = c.ewm(span=fast, adjust=False, min_periods=fast).mean()
        s = c.ewm(span=slow, adjust=False, min_periods=slow).mean()
    return _sign_position(f - s, long_only)


def trend_filter(X: pd.DataFrame, window: int = 200) -> pd.Series:
    """Long when close is above its ``window``-bar simple moving average, else flat."""
    c = _close(X)
    return _sign_position(c - c.rolling(window).mean(), long_only=True)


def tsmom(X: pd.DataFrame, lookback: int = 63, long_only: bool = False) -> pd.Series:
    """Time-series momentum: the sign of the trailing ``lookback``-bar return."""
    if lookback < 1:
        raise ValueError("lookback must be >= 1")
    c = _close(X)
    return _sign_position(c / c.shift(lookback) - 1.0, long_only)


def _rsi(c: pd.Series, window: int) -> pd.Series:
    """Wilder's RSI (exponential smoothing with alpha = 1 / window)."""
    d = c.diff()
    up = d.clip(lower=0.0).ewm(alpha=1.0 / window, adjust=False, min_periods=window).mean()
    down = (-d).clip(lower=0.0).ewm(alpha=1.0 / window, adjust=False, min_periods=window).mean()
    rs = up / down.replace(0.0, np.nan)
    rsi = 100.0 - 100.0 / (1.0 + rs)
    return rsi.where(down > 0, 100.0).where(up.notna())


def rsi_reversion(
    X: pd.DataFrame,
    window: int = 14,
    lower: float = 30.0,
    upper: float = 70.0,
    long_only: bool = False,
) -> pd.Series:
    """Long when RSI < ``lower`` (oversold), short when RSI > ``upper``, flat in between."""
    if not 0 < lower < upper < 100:
        raise ValueError("need 0 < lower < upper < 100")
    rsi = _rsi(_close(X), window)
    pos = pd.Series(0.0, index=rsi.index)
    pos[rsi < lower] = 1.0
    if not long_only:
        pos[rsi > upper] = -1.0
    return pos


def bollinger_reversion(
    X: pd.DataFrame, window: int = 20, n_std: float = 2.0, long_only: bool = False
) -> pd.Series:
    """Enter long below the lower band, short above the upper band; exit at the mean.

    The state is a forward-filled series of entry/exit events, so it is causal.
    """
    c = _close(X)
    mid = c.rolling(window).mean()
    z = (c - mid) / c.rolling(window).std()
    side = np.sign(z)
    events = pd.Series(np.nan, index=c.index)
    events[(side != side.shift(1)) & side.shift(1).notna()] = 0.0  # crossed the mean: exit
    events[z < -n_std] = 1.0
    if not long_only:
        events[z > n_std] = -1.0
    return events.ffill().fillna(0.0)


def donchian_breakout(X: pd.DataFrame, window: int = 20, long_only: bool = False) -> pd.Series:
    """Long on a close above the prior ``window``-bar high, short (or flat) on a close below
    the prior ``window``-bar low; hold until the opposite breakout."""
    c = _close(X)
    high = X["high"].astype(float).reset_index(drop=True) if "high" in X else c
    low = X["low"].astype(float).reset_index(drop=True) if "low" in X else c
    upper = high.rolling(window).max().shift(1)
    lower = low.rolling(window).min().shift(1)
    events = pd.Series(np.nan, index=c.index)
    events[c > upper] = 1.0
    events[c < lower] = 0.0 if long_only else -1.0
    return events.ffill().fillna(0.0)


def dual_momentum(
    X: pd.DataFrame, lookback: int = 252, history: int = 252, rf_annual: float = 0.0
) -> pd.Series:
    """Long when the trailing return beats the cash hurdle (absolute momentum) *and* its
    own average over the previous ``history`` bars (relative to its own history); else flat.
    ``rf_annual`` is the T-bill proxy (0 by default), prorated to the lookback."""
    c = _close(X)
    mom = c / c.shift(lookback) - 1.0
    hurdle = (1.0 + rf_annual) ** (lookback / 252.0) - 1.0
    own = mom.rolling(history).mean()
    return ((mom > hurdle) & (mom > own)).astype(float)


def vol_target(
    X: pd.DataFrame,
    window: int = 20,
    target_vol: float = 0.10,
    trend_lookback: int = 0,
    periods_per_year: int = 252,
) -> pd.Series:
    """Position = ``target_vol`` / annualised realised volatility, capped at 1.

    With ``trend_lookback > 0`` the position takes the sign of the trailing return over that
    many bars (volatility-scaled time-series momentum); otherwise it is long only.
    """
    if target_vol <= 0:
        raise ValueError("target_vol must be > 0")
    c = _close(X)
    realised = c.pct_change().rolling(window).std() * np.sqrt(periods_per_year)
    size = (target_vol / realised.replace(0.0, np.nan)).clip(upper=1.0)
    if trend_lookback > 0:
        size = size * np.sign(c / c.shift(trend_lookback) - 1.0)
    return size.fillna(0.0)


def macd(
    X: pd.DataFrame, fast: int = 12, slow: int = 26, signal: int = 9, long_only: bool = False
) -> pd.Series:
    """Long when the MACD line (EMA fast - EMA slow) is above its signal EMA, else short/flat."""
    c = _close(X)
    line = (
        c.ewm(span=fast, adjust=False, min_periods=fast).mean()
        - c.ewm(span=slow, adjust=False, min_periods=slow).mean()
    )
    sig = line.ewm(span=signal, adjust=False, min_periods=signal).mean()
    return _sign_position(line - sig, long_only)


RULES: dict[str, Callable[..., pd.Series]] = {
    "ma_crossover": ma_crossover,
    "trend_filter": trend_filter,
    "tsmom": tsmom,
    "rsi_reversion": rsi_reversion,
    "bollinger_reversion": bollinger_reversion,
    "donchian_breakout": donchian_breakout,
    "dual_momentum": dual_momentum,
    "vol_target": vol_target,
    "macd": macd,
}


class RuleStrategy:
    """Estimator wrapper around one rule in :data:`RULES` (``fit`` is a no-op)."""

    def __init__(self, rule: str, **params: Any):
        if rule not in RULES:
            raise ValueError(f"unknown rule '{rule}'")
        self.rule, self.params = rule, params
        # Fail early on bad parameters by running the rule on a one-row frame.
        RULES[rule](pd.DataFrame({"close": [1.0]}), **params)

    def fit(self, X: pd.DataFrame, y: pd.Series | None = None) -> RuleStrategy:
        self.fitted_ = True
        return self

    def predict(self, X: pd.DataFrame) -> np.ndarray:
        if len(X) == 0:
            return np.empty(0)
        pos = RULES[self.rule](X, **self.params)
        return np.clip(pos.to_numpy(dtype=float), -1.0, 1.0)


def _spec(
    id: str,
    rule: str,
    description: str,
    search_space: dict[str, tuple[Any, ...]] | None = None,
    **defaults: Any,
) -> ModelSpec:
    def factory(**params: Any) -> RuleStrategy:
        return RuleStrategy(rule, **params)

    return ModelSpec(
        id=id,
        family="rule_strategy",
        task="strategy",
        library="mltrainer",
        factory=factory,
        description=description,
        defaults=defaults,
        search_space=search_space or {},
        inputs="prices",
        sequential=True,
    )


_LS = {"long_only": (False, True)}

SPECS: list[ModelSpec] = [
    *(
        _spec(
            f"ma_crossover_{f}_{s}",
            "ma_crossover",
            f"SMA {f}/{s} crossover: long above, short below",
            _LS,
            fast=f,
            slow=s,
            kind="sma",
            long_only=False,
        )
        for f, s in ((10, 20), (20, 50), (50, 200))
    ),
    _spec(
        "ema_crossover_12_26",
        "ma_crossover",
        "EMA 12/26 crossover: long above, short below",
        _LS,
        fast=12,
        slow=26,
        kind="ema",
        long_only=False,
    ),
    _spec("sma_trend_50", "trend_filter", "Long above the 50-bar SMA, else flat", window=50),
    _spec("sma_trend_200", "trend_filter", "Long above the 200-bar SMA, else flat", window=200),
    *(
        _spec(
            f"tsmom_{lb}{'_long_only' if lo else ''}",
            "tsmom",
            f"Time-series momentum: sign of the {lb}-bar return"
            + (", long or flat" if lo else ", long or short"),
            lookback=lb,
            long_only=lo,
        )
        for lo in (False, True)
        for lb in (21, 63, 126, 252)
    ),
    _spec(
        "rsi_reversion_14",
        "rsi_reversion",
        "RSI(14) mean reversion: long below 30, short above 70",
        {"lower": (20.0, 30.0), "upper": (70.0, 80.0)},
        window=14,
        lower=30.0,
        upper=70.0,
        long_only=False,
    ),
    _spec(
        "rsi_reversion_14_long_only",
        "rsi_reversion",
        "RSI(14) mean reversion, long only: long below 30, else flat",
        window=14,
        lower=30.0,
        upper=70.0,
        long_only=True,
    ),
    _spec(
        "rsi_reversion_2",
        "rsi_reversion",
        "Short-term RSI(2) reversion: long below 10, short above 90",
        window=2,
        lower=10.0,
        upper=90.0,
        long_only=False,
    ),
    _spec(
        "bollinger_reversion_20_2",
        "bollinger_reversion",
        "Bollinger(20, 2) reversion: long below / short above the bands, exit at the mean",
        {"n_std": (1.5, 2.0, 2.5)},
        window=20,
        n_std=2.0,
        long_only=False,
    ),
    _spec(
        "bollinger_reversion_20_2_long_only",
        "bollinger_reversion",
        "Bollinger(20, 2) reversion, long only: buy below the lower band, exit at the mean",
        window=20,
        n_std=2.0,
        long_only=True,
    ),
    _spec(
        "donchian_breakout_20",
        "donchian_breakout",
        "Donchian 20-bar channel breakout, long/short, held until the opposite breakout",
        window=20,
        long_only=False,
    ),
    _spec(
        "donchian_breakout_55",
        "donchian_breakout",
        "Donchian 55-bar (turtle) channel breakout, long/short",
        window=55,
        long_only=False,
    ),
    _spec(
        "donchian_breakout_20_long_only",
        "donchian_breakout",
        "Donchian 20-bar breakout, long on upper breakout, flat on lower",
        window=20,
        long_only=True,
    ),
    _spec(
        "dual_momentum_252",
        "dual_momentum",
        "Dual momentum: long when the 12-month return > T-bill hurdle and > its 1-year average",
        {"rf_annual": (0.0, 0.02)},
        lookback=252,
        history=252,
        rf_annual=0.0,
    ),
    _spec(
        "dual_momentum_126",
        "dual_momentum",
        "Dual momentum on the 6-month return (hurdle and own 6-month average)",
        {"rf_annual": (0.0, 0.02)},
        lookback=126,
        history=126,
        rf_annual=0.0,
    ),
    _spec(
        "vol_target_20",
        "vol_target",
        "Long, sized to 10% annual volatility from 20-bar realised vol, capped at 1",
        {"target_vol": (0.05, 0.10, 0.15)},
        window=20,
        target_vol=0.10,
        trend_lookback=0,
        periods_per_year=252,
    ),
    _spec(
        "vol_target_63",
        "vol_target",
        "Long, sized to 10% annual volatility from 63-bar realised vol, capped at 1",
        {"target_vol": (0.05, 0.10, 0.15)},
        window=63,
        target_vol=0.10,
        trend_lookback=0,
        periods_per_year=252,
    ),
    _spec(
        "vol_target_tsmom_126",
        "vol_target",
        "Volatility-scaled 126-bar momentum: sign of the trend times target/realised vol",
        {"target_vol": (0.05, 0.10, 0.15)},
        window=20,
        target_vol=0.10,
        trend_lookback=126,
        periods_per_year=252,
    ),
    _spec(
        "macd_12_26_9",
        "macd",
        "MACD(12, 26, 9): long above the signal line, short below",
        _LS,
        fast=12,
        slow=26,
        signal=9,
        long_only=False,
    ),
    _spec(
        "macd_12_26_9_long_only",
        "macd",
        "MACD(12, 26, 9), long above the signal line, flat below",
        fast=12,
        slow=26,
        signal=9,
        long_only=True,
    ),
]
