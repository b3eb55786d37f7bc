"""Risk analytics on real prices: value at risk, Kelly sizing, stress tests, drawdowns, Sharpe.

Returns are per-bar **simple** returns of closing prices, ``r_t = P_t / P_{t-1} - 1``, in
the data's own interval (daily for daily data, monthly for BTCUSD's monthly bars).
Value at risk (VaR) and conditional value at risk (CVaR, also called expected shortfall)
are reported as **positive loss fractions** of the position: ``var=0.021`` at
``confidence=0.95`` means a one-in-twenty bad bar (day, for daily data) loses at least
2.1 %; ``cvar`` is the average loss on those bars. Multiply by ``position_value`` for
currency amounts.

Horizons (``horizon_bars``, in bars of the data; ``horizon_days`` is an accepted alias):
the historical method uses overlapping ``h``-bar returns ``P_{t+h}/P_t - 1``; the
parametric and Cornish-Fisher methods aggregate i.i.d. per-bar moments (mean ``h*mu``,
standard deviation ``sqrt(h)*sigma``, skewness ``S/sqrt(h)``, excess kurtosis ``K/h``).
Results state the horizon as ``horizon_bars``, ``bar_interval`` and text (``"1 month"``).

Annualised figures (Kelly, Sharpe) use ``periods_per_year`` from the data unless given
(see :func:`mltrainer.financial.base.annualisation`).

Example: ``run_financial("var_historical", fetch, symbol="SPX", confidence=0.99)``.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from datetime import date
from typing import Any, Literal

import numpy as np
import pandas as pd
from pydantic import AliasChoices, Field, field_validator, model_validator
from scipy import integrate
from scipy.stats import kurtosis, norm, skew

from ..data.intervals import parse_interval
from ..errors import DataError, ModelError
from .base import (
    Fetch,
    FinancialSpec,
    Params,
    PeriodsPerYear,
    Symbol,
    annualisation,
    iso,
    load_price_frame,
    load_prices,
)

__all__ = [
    "SPECS",
    "cornish_fisher_z",
    "drawdown_table",
    "probabilistic_sharpe_ratio",
    "STRESS_WINDOWS",
]


class WindowParams(Params):
    """One symbol over a date window."""

    symbol: Symbol = Field("SPX", description="price symbol, e.g. 'SPX' or 'AAPL'")
    start: date | None = Field(None, description="first date, YYYY-MM-DD (None = earliest)")
    end: date | None = Field(None, description="last date, YYYY-MM-DD (None = latest)")


class VaRParams(WindowParams):
    confidence: float = Field(
        0.95, gt=0.5, lt=1.0, description="confidence level, decimal (0.95 or 0.99)"
    )
    horizon_bars: int = Field(
        1,
        ge=1,
        le=252,
        validation_alias=AliasChoices("horizon_bars", "horizon_days"),
        description="holding period in bars of the data (trading days for daily data, "
        "months for monthly data); horizon_days is accepted as an alias",
    )
    position_value: float = Field(
        1.0, gt=0, description="position size in currency; var_amount = var * position_value"
    )


def _bar_returns(close: pd.Series) -> pd.Series:
    return close.pct_change().iloc[1:]


def _var_frame(p: VaRParams, fetch: Fetch, min_rows: int = 30):
    ps = load_prices(fetch, p.symbol, p.start, p.end, min_rows=min_rows)
    r = _bar_returns(ps.close)
    return ps, r


def horizon_text(bars: int, interval: str) -> str:
    """``(1, "1mo") -> "1 month"``, ``(10, "1d") -> "10 days"``, ``(3, "4h") -> "12 hours"``."""
    mult, unit = parse_interval(interval)
    n = bars * mult
    return f"{n} {unit}{'' if n == 1 else 's'}"


def _var_result(
    p: VaRParams, ps, r: pd.Series, var: float, cvar: float, method: str, **extra
) -> dict:
    notes = extra.pop("notes", [])
    return {
        "var": var,
        "cvar": cvar,
        "var_amount": var * p.position_value,
        "cvar_amount": cvar * p.position_value,
        "confidence": p.confidence,
        "horizon_bars": p.horizon_bars,
        "bar_interval": ps.data.interval,
        "horizon": horizon_text(p.horizon_bars, ps.data.interval),
        "method": method,
        "observations": len(r),
        "first_date": r.index[0],
        "last_date": r.index[-1],
        **extra,
        "data": {ps.symbol: ps.sha256},
        "notes": [
            "var and cvar are positive loss fractions of the position value; "
            "cvar is the expected shortfall (mean loss beyond the VaR)",
            *notes,
        ],
    }


def run_var_historical(p: VaRParams, fetch: Fetch) -> dict:
    ps, r = _var_frame(p, fetch)
    h = p.horizon_bars
    rh = ps.close.pct_change(h).iloc[h:] if h > 1 else r
    if len(rh) < 20:
        raise DataError(f"{ps.symbol}: only {len(rh)} {h}-bar returns; widen start..end")
    alpha = 1.0 - p.confidence
    q = float(np.quantile(rh.to_numpy(), alpha))
    tail = rh.to_numpy()[rh.to_numpy() <= q]
    notes = []
    if h > 1:
        notes.append(f"{h}-bar returns overlap (one per bar), so they are not independent")
    if len(tail) < 10:
        notes.append(f"only {len(tail)} returns in the tail: the CVaR estimate is very noisy")
    return _var_result(
        p,
        ps,
        r,
        -q,
        -float(tail.mean()),
        "empirical quantile (numpy linear interpolation) of historical returns",
        horizon_returns=len(rh),
        tail_observations=len(tail),
        notes=notes,
    )


def _moments(r: pd.Series) -> tuple[float, float, float, float]:
    x = r.to_numpy()
    return (
        float(x.mean()),
        float(x.std(ddof=1)),
        float(skew(x, bias=False)),
        float(kurtosis(x, fisher=True, bias=False)),
    )


def run_var_parametric(p: VaRParams, fetch: Fetch) -> dict:
    ps, r = _var_frame(p, fetch)
    mu, sigma, _, _ = _moments(r)
    h = p.horizon_bars
    mu_h, sd_h = mu * h, sigma * math.sqrt(h)
    alpha = 1.0 - p.confidence
    z = float(norm.ppf(alpha))
    var = -(mu_h + sd_h * z)
    cvar = -mu_h + sd_h * float(norm.pdf(z)) / alpha
    return _var_result(
        p,
        ps,
        r,
        var,
        cvar,
        "normal (variance-covariance): VaR = -(mu_h + sigma_h * z), "
        "CVaR = -mu_h + sigma_h * pdf(z) / alpha",
        mean_per_bar=mu,
        volatility_per_bar=sigma,
        z=z,
    )


def cornish_fisher_z(z: np.ndarray | float, s: float, k: float) -> np.ndarray | float:
    """Cornish-Fisher quantile of a standardised variable with skewness ``s``, excess kurtosis ``k``.

    ``z + (z^2-1) s/6 + (z^3-3z) k/24 - (2z^3-5z) s^2/36``; equals ``z`` when ``s = k = 0``.
    """
    return z + (z**2 - 1) * s / 6 + (z**3 - 3 * z) * k / 24 - (2 * z**3 - 5 * z) * s**2 / 36


def run_var_cornish_fisher(p: VaRParams, fetch: Fetch) -> dict:
    ps, r = _var_frame(p, fetch)
    mu, sigma, s1, k1 = _moments(r)
    h = p.horizon_bars
    mu_h, sd_h, s_h, k_h = mu * h, sigma * math.sqrt(h), s1 / math.sqrt(h), k1 / h
    alpha = 1.0 - p.confidence
    z = float(norm.ppf(alpha))
    z_cf = float(cornish_fisher_z(z, s_h, k_h))
    var = -(mu_h + sd_h * z_cf)

    def quantile(u: float) -> float:
        return mu_h + sd_h * float(cornish_fisher_z(norm.ppf(u), s_h, k_h))

    # CVaR: the mean of the Cornish-Fisher quantile function over the tail (0, alpha).
    integral, _ = integrate.quad(quantile, 0.0, alpha, limit=200)
    cvar = -integral / alpha
    notes = []
    grid = norm.ppf(np.linspace(1e-6, alpha, 2001))
    if np.any(np.diff(cornish_fisher_z(grid, s_h, k_h)) < 0):
        notes.append(
            "the Cornish-Fisher expansion is not monotone in the tail for this skewness and "
            "kurtosis, so its quantiles (and the CVaR) are unreliable"
        )
    return _var_result(
        p,
        ps,
        r,
        var,
        cvar,
        "Cornish-Fisher expansion of the normal quantile with sample skewness and excess "
        "kurtosis; CVaR integrates the expanded quantile over the tail",
        mean_per_bar=mu,
        volatility_per_bar=sigma,
        skewness=s1,
        excess_kurtosis=k1,
        z=z,
        z_cornish_fisher=z_cf,
        notes=notes,
    )


class MonteCarloVaRParams(VaRParams):
    method: Literal["normal", "bootstrap"] = Field(
        "bootstrap",
        description="'normal': per-bar returns drawn from N(mean, sd) of the history; "
        "'bootstrap': historical per-bar returns resampled with replacement",
    )
    paths: int = Field(100_000, ge=1_000, le=1_000_000, description="simulated horizon returns")
    seed: int = Field(12345, ge=0, description="seed for numpy.random.default_rng")

    @model_validator(mode="after")
    def _size(self) -> MonteCarloVaRParams:
        if self.paths * self.horizon_bars > 20_000_000:
            raise ValueError("paths * horizon_bars must be at most 20,000,000")
        return self


def run_monte_carlo_var(p: MonteCarloVaRParams, fetch: Fetch) -> dict:
    ps, r = _var_frame(p, fetch)
    rng = np.random.default_rng(p.seed)
    x = r.to_numpy()
    shape = (p.paths, p.horizon_bars)
    if p.method == "normal":
        daily = rng.normal(x.mean(), x.std(ddof=1), size=shape)
    else:
        daily = x[rng.integers(0, len(x), size=shape)]
    sims = np.prod(1.0 + daily, axis=1) - 1.0
    alpha = 1.0 - p.confidence
    q = float(np.quantile(sims, alpha))
    tail = sims[sims <= q]
    return _var_result(
        p,
        ps,
        r,
        -q,
        -float(tail.mean()),
        f"Monte Carlo ({p.method}) of compounded {p.horizon_bars}-bar returns",
        simulation=True,
        paths=p.paths,
        seed=p.seed,
        generator="numpy.random.default_rng (PCG64)",
        notes=["simulated estimate from the historical returns; not market data"],
    )


# ------------------------------------------------------------------------------------ Kelly


class KellyParams(WindowParams):
    method: Literal["continuous", "discrete"] = Field(
        "continuous",
        description="'continuous': f* = (mu - r_f) / sigma^2 from the symbol's returns; "
        "'discrete': f* = p - (1 - p) / b for a bet with win probability p and payoff b",
    )
    risk_free_rate: float = Field(
        0.0, ge=-0.5, le=1.0, description="annual risk-free rate, decimal (0.02 = 2% a year)"
    )
    periods_per_year: PeriodsPerYear = None
    win_probability: float | None = Field(
        None, gt=0, lt=1, description="discrete method: probability of winning a bet (0.55)"
    )
    payoff_ratio: float | None = Field(
        None, gt=0, description="discrete method: net gain per 1 unit staked when winning (1.0)"
    )
    fraction: float = Field(
        1.0, gt=0, le=1.0, description="fractional Kelly multiplier (0.5 = half Kelly)"
    )

    @model_validator(mode="after")
    def _inputs(self) -> KellyParams:
        if self.method == "discrete" and (
            self.win_probability is None or self.payoff_ratio is None
        ):
            raise ValueError("the discrete method needs win_probability and payoff_ratio")
        return self


def run_kelly_fraction(p: KellyParams, fetch: Fetch) -> dict:
    notes: list[str] = []
    if p.method == "discrete":
        prob, b = float(p.win_probability), float(p.payoff_ratio)  # type: ignore[arg-type]
        f_star = prob - (1.0 - prob) / b
        f = p.fraction * f_star
        if f > 0:
            growth = prob * math.log1p(f * b) + (1.0 - prob) * math.log1p(-f)
        else:
            growth = math.nan
            notes.append(
                "the bet has no positive edge (p*b <= 1-p): Kelly says do not bet, and "
                "expected_log_growth_per_bet is undefined for a fraction <= 0"
            )
        return {
            "kelly_fraction": f_star,
            "recommended_fraction": f,
            "expected_log_growth_per_bet": growth,
            "method": "discrete: f* = p - (1 - p) / b",
            "notes": notes,
        }
    ps = load_prices(fetch, p.symbol, p.start, p.end, min_rows=30)
    r = _bar_returns(ps.close)
    ann = annualisation(p.periods_per_year, ps.close.index, ps.data.interval)
    ppy = ann["periods_per_year"]
    rf = p.risk_free_rate / ppy
    excess = r.to_numpy() - rf
    mu, var = float(excess.mean()), float(excess.var(ddof=1))
    f_star = mu / var
    f = p.fraction * f_star
    # Continuous-time growth of wealth with a constant fraction f: r + f*mu - f^2 sigma^2 / 2.
    growth = (rf + f * mu - 0.5 * f * f * var) * ppy
    if f_star <= 0:
        notes.append("the mean excess return is not positive: Kelly says hold none (f* <= 0)")
    if f_star > 1:
        notes.append("f* > 1 means borrowing to hold more than the capital in the asset")
    notes.append(
        "in-sample estimate: the mean return is estimated with large error, so f* is too; "
        "fractional Kelly (fraction < 1) is the usual hedge"
    )
    return {
        "kelly_fraction": f_star,
        "recommended_fraction": f,
        "expected_annual_log_growth": growth,
        "mean_excess_return_annual": mu * ppy,
        "volatility_annual": math.sqrt(var * ppy),
        "method": "continuous: f* = mean excess return / variance of returns (per period)",
        **ann,
        "bar_interval": ps.data.interval,
        "observations": len(r),
        "first_date": r.index[0],
        "last_date": r.index[-1],
        "data": {ps.symbol: ps.sha256},
        "notes": notes,
    }


# ------------------------------------------------------------------------------ stress test

STRESS_WINDOWS: dict[str, tuple[date, date, str]] = {
    "gfc_2008": (date(2008, 9, 1), date(2009, 3, 9), "Lehman failure to the March 2009 low"),
    "covid_2020": (date(2020, 2, 19), date(2020, 3, 23), "COVID-19 crash, S&P 500 peak to low"),
}


class StressParams(Params):
    weights: dict[str, float] = Field(
        default_factory=lambda: {"AAPL": 0.25, "JNJ": 0.25, "KO": 0.25, "XOM": 0.25},
        description="long-only portfolio {symbol: weight}, weights >= 0 summing to 1",
    )
    scenario: Literal["gfc_2008", "covid_2020", "custom"] = Field(
        "covid_2020",
        description="'gfc_2008' (2008-09-01..2009-03-09), 'covid_2020' (2020-02-19..2020-03-23) "
        "or 'custom' (give start and end)",
    )
    start: date | None = Field(None, description="custom scenario only: first date, YYYY-MM-DD")
    end: date | None = Field(None, description="custom scenario only: last date, YYYY-MM-DD")

    @field_validator("weights")
    @classmethod
    def _weights(cls, v: dict[str, float]) -> dict[str, float]:
        out = {k.strip().upper(): float(w) for k, w in v.items()}
        if not out:
            raise ValueError("give at least one {symbol: weight}")
        if len(out) != len(v):
            raise ValueError("each symbol may appear once")
        if any(not math.isfinite(w) or w < 0 for w in out.values()):
            raise ValueError("weights must be finite and >= 0 (long-only buy-and-hold)")
        if abs(sum(out.values()) - 1.0) > 1e-6:
            raise ValueError(f"weights must sum to 1 (they sum to {sum(out.values()):.6f})")
        return out

    @model_validator(mode="after")
    def _window(self) -> StressParams:
        custom = self.scenario == "custom"
        if custom and (self.start is None or self.end is None):
            raise ValueError("the custom scenario needs start and end")
        if not custom and (self.start is not None or self.end is not None):
            raise ValueError(f"start/end apply to scenario='custom' only, not '{self.scenario}'")
        if custom and self.start >= self.end:  # type: ignore[operator]
            raise ValueError("start must be before end")
        return self


def _max_drawdown(values: pd.Series) -> float:
    return float((values / values.cummax() - 1.0).min())


def run_stress_test_historical(p: StressParams, fetch: Fetch) -> dict:
    if p.scenario == "custom":
        start, end, label = p.start, p.end, "custom window"
    else:
        start, end, label = STRESS_WINDOWS[p.scenario]
    symbols = list(p.weights)
    prices, hashes, notes, _ = load_price_frame(fetch, symbols, start, end, min_rows=2)
    first, last = prices.index[0].date(), prices.index[-1].date()
    if (first - start).days > 7 or (end - last).days > 7:  # type: ignore[operator]
        raise DataError(
            f"the common data of {', '.join(symbols)} cover {first}..{last}, not the whole "
            f"window {start}..{end}; choose symbols with prices over the window"
        )
    w = pd.Series(p.weights)[prices.columns]
    growth = prices / prices.iloc[0]
    value = growth @ w
    asset_returns = growth.iloc[-1] - 1.0
    daily = value.pct_change().iloc[1:]  # stress windows hold daily prices
    worst = daily.idxmin() if len(daily) else None
    return {
        "scenario": p.scenario,
        "description": label,
        "window": {"start": iso(start), "end": iso(end)},
        "entry_date": prices.index[0],
        "exit_date": prices.index[-1],
        "trading_days": len(prices),
        "portfolio_return": float(value.iloc[-1] - 1.0),
        "max_drawdown": _max_drawdown(value),
        "worst_day": {
            "date": worst,
            "return": float(daily.loc[worst]) if worst is not None else math.nan,
        },
        "asset_returns": asset_returns.to_dict(),
        "asset_max_drawdowns": {c: _max_drawdown(prices[c]) for c in prices.columns},
        "weights": dict(p.weights),
        "data": hashes,
        "notes": notes
        + [
            "buy-and-hold: bought at the close of the first trading day on or after the window "
            "start, held without rebalancing to the last close on or before its end",
            "stock prices are dividend-adjusted closes; index levels (SPX, NASDAQ) exclude "
            "dividends",
        ],
    }


# -------------------------------------------------------------------------------- drawdowns


class DrawdownParams(WindowParams):
    top_n: int = Field(5, ge=1, le=50, description="how many of the deepest drawdowns to list")


def drawdown_table(close: pd.Series) -> pd.DataFrame:
    """Every drawdown episode: peak, trough, recovery (NaT if none), depth (negative fraction).

    An episode starts on the last new high before prices fall below it and ends on the
    first close at or above that high.
    """
    dd = (close / close.cummax() - 1.0).to_numpy()
    under = dd < 0
    edges = np.diff(np.concatenate([[0], under.astype(np.int8), [0]]))
    starts, stops = np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)
    idx = close.index
    rows = []
    for a, b in zip(starts, stops, strict=True):  # under water on rows a .. b-1
        trough = a + int(np.argmin(dd[a:b]))
        rows.append(
            {
                "peak_date": idx[a - 1],
                "trough_date": idx[trough],
                "recovery_date": idx[b] if b < len(idx) else pd.NaT,
                "depth": float(dd[trough]),
                "peak_price": float(close.iloc[a - 1]),
                "trough_price": float(close.iloc[trough]),
            }
        )
    cols = ["peak_date", "trough_date", "recovery_date", "depth", "peak_price", "trough_price"]
    return pd.DataFrame(rows, columns=cols)


def _days(a: pd.Timestamp, b: pd.Timestamp | None) -> float:
    return math.nan if b is None or pd.isna(b) else float((b - a).days)


def run_drawdown_analytics(p: DrawdownParams, fetch: Fetch) -> dict:
    ps = load_prices(fetch, p.symbol, p.start, p.end, min_rows=2)
    close = ps.close
    table = drawdown_table(close)
    last = close.index[-1]
    notes: list[str] = ["drawdowns are negative fractions (-0.25 = 25% below the prior peak)"]
    episodes = []
    for row in table.sort_values("depth").head(p.top_n).itertuples(index=False):
        rec = None if pd.isna(row.recovery_date) else row.recovery_date
        episodes.append(
            {
                "peak_date": row.peak_date,
                "trough_date": row.trough_date,
                "recovery_date": rec,
                "depth": row.depth,
                "peak_to_trough_days": _days(row.peak_date, row.trough_date),
                "trough_to_recovery_days": _days(row.trough_date, rec),
                "duration_days": _days(row.peak_date, rec if rec is not None else last),
                "recovered": rec is not None,
            }
        )
    if table.empty:
        notes.append("prices never fell below a previous high in this window")
        return {
            "max_drawdown": 0.0,
            "top_drawdowns": [],
            "current_drawdown": 0.0,
            "observations": len(close),
            "data": {ps.symbol: ps.sha256},
            "notes": notes,
        }
    worst = episodes[0]
    if pd.isna(table["recovery_date"].iloc[-1]):
        peak = table["peak_date"].iloc[-1].date()
        notes.append(
            f"the drawdown from the {peak} peak had not recovered by {last.date()}: its "
            "recovery_date and trough_to_recovery_days are undefined and its duration_days "
            "runs to the last date"
        )
    ends = table["recovery_date"].fillna(last)
    longest = int(np.argmax((ends - table["peak_date"]).dt.days.to_numpy()))
    return {
        "max_drawdown": worst["depth"],
        "peak_date": worst["peak_date"],
        "trough_date": worst["trough_date"],
        "recovery_date": worst["recovery_date"],
        "peak_to_trough_days": worst["peak_to_trough_days"],
        "trough_to_recovery_days": worst["trough_to_recovery_days"],
        "duration_days": worst["duration_days"],
        "longest_drawdown_days": float((ends - table["peak_date"]).dt.days.iloc[longest]),
        "longest_drawdown_peak_date": table["peak_date"].iloc[longest],
        "current_drawdown": float(close.iloc[-1] / close.max() - 1.0),
        "drawdown_count": len(table),
        "top_drawdowns": episodes,
        "observations": len(close),
        "first_date": close.index[0],
        "last_date": last,
        "data": {ps.symbol: ps.sha256},
        "notes": notes + ["durations are calendar days"],
    }


# --------------------------------------------------------------------------- Sharpe ratio


class SharpeParams(WindowParams):
    risk_free_rate: float = Field(
        0.0, ge=-0.5, le=1.0, description="annual risk-free rate, decimal (0.02 = 2% a year)"
    )
    periods_per_year: PeriodsPerYear = None
    benchmark_sharpe: float = Field(
        0.0, description="annual Sharpe ratio to beat in the probabilistic Sharpe ratio (0.0)"
    )


def probabilistic_sharpe_ratio(
    sr: float, sr_benchmark: float, n: int, skewness: float, kurt: float
) -> tuple[float, float]:
    """PSR and the Sharpe ratio's standard error (Bailey and Lopez de Prado, 2012).

    ``sr`` and ``sr_benchmark`` are per period (not annualised); ``kurt`` is Pearson kurtosis
    (3 for a normal). ``PSR = Phi((sr - sr*) sqrt(n-1) / sqrt(1 - g3 sr + (g4-1)/4 sr^2))``.
    Both are NaN when the variance term is not positive.
    """
    v = 1.0 - skewness * sr + (kurt - 1.0) / 4.0 * sr * sr
    if v <= 0 or n < 2:
        return math.nan, math.nan
    se = math.sqrt(v / (n - 1))
    return float(norm.cdf((sr - sr_benchmark) / se)), se


def run_sharpe_ratio_stats(p: SharpeParams, fetch: Fetch) -> dict:
    ps = load_prices(fetch, p.symbol, p.start, p.end, min_rows=30)
    r = _bar_returns(ps.close)
    ann = annualisation(p.periods_per_year, ps.close.index, ps.data.interval)
    ppy = ann["periods_per_year"]
    excess = r.to_numpy() - p.risk_free_rate / ppy
    sd = float(excess.std(ddof=1))
    if sd == 0:
        raise ModelError(f"{ps.symbol}: returns have zero variance; the Sharpe ratio is undefined")
    sr = float(excess.mean()) / sd
    g3 = float(skew(excess, bias=False))
    g4 = float(kurtosis(excess, fisher=False, bias=False))
    root = math.sqrt(ppy)
    psr, se = probabilistic_sharpe_ratio(sr, p.benchmark_sharpe / root, len(excess), g3, g4)
    notes = []
    if math.isnan(psr):
        notes.append(
            "1 - skew*SR + (kurtosis-1)/4*SR^2 is not positive: the PSR and standard error are "
            "undefined"
        )
    return {
        "sharpe_ratio": sr * root,
        "sharpe_ratio_per_period": sr,
        "standard_error": se * root,
        "probabilistic_sharpe_ratio": psr,
        "benchmark_sharpe": p.benchmark_sharpe,
        "skewness": g3,
        "kurtosis": g4,
        **ann,
        "bar_interval": ps.data.interval,
        "observations": len(excess),
        "first_date": r.index[0],
        "last_date": r.index[-1],
        "data": {ps.symbol: ps.sha256},
        "notes": notes
        + [
            "Sharpe = mean / sd of per-period excess returns x sqrt(periods_per_year); PSR is the "
            "probability the true Sharpe exceeds benchmark_sharpe"
        ],
    }


def _spec(id_: str, cat: str, desc: str, params: type, run: Callable) -> FinancialSpec[Any]:
    return FinancialSpec(
        id=id_, category=cat, task="risk", description=desc, params=params, run=run, needs_data=True
    )


SPECS = [
    _spec(
        "var_historical",
        "risk",
        "Historical-simulation value at risk and CVaR (expected shortfall) of a symbol",
        VaRParams,
        run_var_historical,
    ),
    _spec(
        "var_parametric",
        "risk",
        "Normal (variance-covariance) value at risk and CVaR of a symbol's returns",
        VaRParams,
        run_var_parametric,
    ),
    _spec(
        "var_cornish_fisher",
        "risk",
        "Cornish-Fisher (skew/kurtosis-adjusted) value at risk and CVaR of a symbol",
        VaRParams,
        run_var_cornish_fisher,
    ),
    _spec(
        "monte_carlo_var",
        "risk",
        "Seeded Monte Carlo value at risk and CVaR (normal or bootstrap), labelled simulation",
        MonteCarloVaRParams,
        run_monte_carlo_var,
    ),
    _spec(
        "kelly_fraction",
        "risk",
        "Kelly bet size: mu/sigma^2 from a symbol's returns, or p - (1-p)/b for a discrete bet",
        KellyParams,
        run_kelly_fraction,
    ),
    _spec(
        "stress_test_historical",
        "risk",
        "Replay a real crisis window (2008 GFC, 2020 COVID or custom) on a buy-and-hold portfolio",
        StressParams,
        run_stress_test_historical,
    ),
    _spec(
        "drawdown_analytics",
        "risk",
        "Maximum drawdown, its duration and recovery, and the deepest drawdowns of a symbol",
        DrawdownParams,
        run_drawdown_analytics,
    ),
    _spec(
        "sharpe_ratio_stats",
        "statistics",
        "Annualised Sharpe ratio with standard error and probabilistic Sharpe ratio (PSR)",
        SharpeParams,
        run_sharpe_ratio_stats,
    ),
]
