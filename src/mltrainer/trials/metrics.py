"""Performance metrics, as pure functions of a return series.

Conventions follow empyrical (and are tested against empyrical-reloaded to 1e-9):
``sharpe = mean(r - rf) / std(r, ddof=1) * sqrt(ppy)``; Sortino uses the root mean square
of negative excess returns as downside risk; CAGR is ``prod(1 + r) ** (ppy / n) - 1``;
max drawdown is measured on the compounded equity curve from its running peak (the
starting capital itself is not a peak, as in empyrical); Calmar is CAGR / |max drawdown|.
An undefined ratio (zero volatility, no drawdown, too few observations) is NaN, never 0.

The probabilistic Sharpe ratio (PSR) and the deflated Sharpe ratio (DSR) follow
Bailey & López de Prado (2012, 2014): both use the per-period (not annualised) Sharpe,
the skewness and the (non-excess) kurtosis of the returns.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
from scipy import stats

__all__ = [
    "sharpe_ratio",
    "sortino_ratio",
    "annual_return",
    "annual_volatility",
    "max_drawdown",
    "calmar_ratio",
    "probabilistic_sharpe_ratio",
    "deflated_sharpe_ratio",
    "psr_from_moments",
    "dsr_from_moments",
    "expected_max_sharpe",
    "drawdown_series",
]

EULER_GAMMA = 0.5772156649015329
NAN = float("nan")


def _arr(r) -> np.ndarray:
    a = np.asarray(r, dtype=float)
    return a[~np.isnan(a)]


def annual_return(r, ppy: float) -> float:
    a = _arr(r)
    if a.size == 0:
        return NAN
    ending = float(np.prod(1.0 + a))
    if ending <= 0:
        return -1.0
    return ending ** (ppy / a.size) - 1.0


def annual_volatility(r, ppy: float) -> float:
    a = _arr(r)
    if a.size < 2:
        return NAN
    return float(np.std(a, ddof=1) * math.sqrt(ppy))


def sharpe_ratio(r, ppy: float, rf: float = 0.0) -> float:
    a = _arr(r) - rf
    if a.size < 2:
        return NAN
    sd = np.std(a, ddof=1)
    return float(np.mean(a) / sd * math.sqrt(ppy)) if sd > 0 else NAN


def sortino_ratio(r, ppy: float, required: float = 0.0) -> float:
    a = _arr(r) - required
    if a.size < 2:
        return NAN
    downside = math.sqrt(float(np.mean(np.minimum(a, 0.0) ** 2))) * math.sqrt(ppy)
    return float(np.mean(a) * ppy / downside) if downside > 0 else NAN


def drawdown_series(r) -> np.ndarray:
    """Drawdown of the compounded equity at each bar (0 at a new peak, negative below)."""
    a = np.nan_to_num(np.asarray(r, dtype=float))
    return equity_drawdown(np.cumprod(1.0 + a))


def equity_drawdown(equity) -> np.ndarray:
    """Drawdown of an equity curve (levels, not returns) at each bar: ``eq / peak - 1``."""
    eq = np.asarray(equity, dtype=float)
    return eq / np.maximum.accumulate(eq) - 1.0 if eq.size else eq


def max_drawdown(r) -> float:
    a = _arr(r)
    if a.size == 0:
        return NAN
    return float(drawdown_series(a).min())


def calmar_ratio(r, ppy: float) -> float:
    mdd = max_drawdown(r)
    if not mdd or math.isnan(mdd):
        return NAN
    return annual_return(r, ppy) / abs(mdd)


def _moments(a: np.ndarray) -> tuple[float, float, float]:
    sr = float(np.mean(a) / np.std(a, ddof=1))
    skew = float(stats.skew(a, bias=False))
    kurt = float(stats.kurtosis(a, fisher=False, bias=False))
    return sr, skew, kurt


def psr_from_moments(
    sr: float, n_obs: int, skew: float, kurtosis: float, sr_benchmark: float = 0.0
) -> float:
    """PSR from the moments themselves (per-period Sharpe, non-excess kurtosis).

    ``Phi((sr - sr*) sqrt(n - 1) / sqrt(1 - skew sr + (kurtosis - 1) / 4 sr^2))``; NaN when
    the denominator is not positive. Exposed so published examples can be checked directly.
    """
    denom = 1.0 - skew * sr + (kurtosis - 1.0) / 4.0 * sr**2
    if n_obs < 2 or denom <= 0:
        return NAN
    return float(stats.norm.cdf((sr - sr_benchmark) * math.sqrt(n_obs - 1) / math.sqrt(denom)))


def dsr_from_moments(
    sr: float, n_obs: int, skew: float, kurtosis: float, n_trials: int, sr_variance: float
) -> float:
    """DSR from the moments: PSR against :func:`expected_max_sharpe` of ``n_trials``.

    ``sr_variance`` is the variance of the per-period Sharpes across the trials. With one
    trial the hurdle is 0 and the DSR equals the PSR.
    """
    hurdle = expected_max_sharpe(n_trials, sr_variance)
    return psr_from_moments(sr, n_obs, skew, kurtosis, hurdle)


def probabilistic_sharpe_ratio(r, sr_benchmark: float = 0.0) -> float:
    """P(true per-period Sharpe > ``sr_benchmark``) given the sample's length, skew and kurtosis."""
    a = _arr(r)
    if a.size < 3 or np.std(a, ddof=1) == 0:
        return NAN
    sr, skew, kurt = _moments(a)
    return psr_from_moments(sr, a.size, skew, kurt, sr_benchmark)


def expected_max_sharpe(n_trials: int, sr_variance: float) -> float:
    """Expected maximum per-period Sharpe of ``n_trials`` unskilled trials (the DSR hurdle)."""
    if n_trials <= 1 or sr_variance <= 0:
        return 0.0
    z1 = stats.norm.ppf(1.0 - 1.0 / n_trials)
    z2 = stats.norm.ppf(1.0 - 1.0 / (n_trials * math.e))
    return math.sqrt(sr_variance) * ((1 - EULER_GAMMA) * z1 + EULER_GAMMA * z2)


def deflated_sharpe_ratio(r, n_trials: int, other_sharpes: Sequence[float] = ()) -> float:
    """PSR against the expected maximum Sharpe of ``n_trials`` trials.

    The variance of the Sharpe across trials is taken from ``other_sharpes`` (per-period
    Sharpes of the other trials counted toward ``n_trials``) when there are at least two;
    otherwise from the sampling variance of this trial's own Sharpe estimate.
    """
    a = _arr(r)
    if a.size < 3 or np.std(a, ddof=1) == 0:
        return NAN
    sr, skew, kurt = _moments(a)
    others = [s for s in other_sharpes if s is not None and math.isfinite(s)]
    if len(others) >= 2:
        var = float(np.var(others, ddof=1))
    else:
        var = (1.0 - skew * sr + (kurt - 1.0) / 4.0 * sr**2) / (a.size - 1)
    return dsr_from_moments(sr, a.size, skew, kurt, max(1, n_trials), var)
