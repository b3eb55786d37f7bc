"""Factor and pair analytics on real data: CAPM, Fama-French three factors, Engle-Granger.

* ``capm``: OLS of a stock's per-bar (daily for daily data) excess returns on the market's
  (SPX by default) on the dates both trade; beta, alpha (per bar and x ``periods_per_year``,
  by default the bars per year of the aligned dates), t-statistics, R^2.
* ``fama_french_3``: OLS of a stock's **monthly** excess returns on the Fama-French market,
  size and value factors (bundled ``FF3``, monthly, published in percent and converted to
  decimals here). Stock returns are month-end to month-end closes.
* ``cointegration_engle_granger``: statsmodels ``coint`` on two price series, the OLS hedge
  ratio and the half-life of mean reversion of the spread.

Example: ``run_financial("capm", fetch, symbol="AAPL", start="2010-01-01",
end="2018-12-31", risk_free_rate=0.02)``.
"""

from __future__ import annotations

import math
from datetime import date
from typing import Literal

import numpy as np
import pandas as pd
from pydantic import Field

from ..errors import DataError
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

__all__ = ["SPECS", "monthly_returns", "half_life"]


# ------------------------------------------------------------------------------------ CAPM


class CAPMParams(Params):
    symbol: Symbol = Field("AAPL", description="stock or asset price symbol, e.g. 'AAPL'")
    market: Symbol = Field("SPX", description="market proxy price symbol (bundled SPX: 1999-2018)")
    start: date | None = Field(None, description="first date, YYYY-MM-DD (None = earliest)")
    end: date | None = Field(None, description="last date, YYYY-MM-DD (None = latest)")
    risk_free_rate: float = Field(
        0.0,
        ge=-0.5,
        le=1.0,
        description="annual risk-free rate, decimal (0.02 = 2% a year); "
        "divided by periods_per_year and subtracted from both return series",
    )
    periods_per_year: PeriodsPerYear = None


def run_capm(p: CAPMParams, fetch: Fetch) -> dict:
    import statsmodels.api as sm

    if p.symbol == p.market:
        raise DataError(f"symbol and market are both {p.symbol}; choose a different market")
    prices, hashes, notes, interval = load_price_frame(
        fetch, [p.symbol, p.market], p.start, p.end, min_rows=30
    )
    rets = prices.pct_change().iloc[1:]
    ann = annualisation(p.periods_per_year, prices.index, interval)
    ppy = ann["periods_per_year"]
    rf = p.risk_free_rate / ppy
    y = rets[p.symbol] - rf
    x = rets[p.market] - rf
    fit = sm.OLS(y.to_numpy(), sm.add_constant(x.to_numpy())).fit()
    alpha, beta = (float(v) for v in fit.params)
    if p.market in ("SPX", "NASDAQ"):
        notes.append(
            f"{p.market} is a price index without dividends while stock closes are "
            "dividend-adjusted, which biases alpha up by roughly the index dividend yield"
        )
    return {
        "beta": beta,
        "alpha_per_period": alpha,
        "alpha_annual": alpha * ppy,
        "t_stats": {"alpha": float(fit.tvalues[0]), "beta": float(fit.tvalues[1])},
        "p_values": {"alpha": float(fit.pvalues[0]), "beta": float(fit.pvalues[1])},
        "r_squared": float(fit.rsquared),
        "correlation": float(np.corrcoef(y, x)[0, 1]),
        "residual_volatility_annual": float(math.sqrt(fit.mse_resid * ppy)),
        **ann,
        "bar_interval": interval,
        "observations": int(fit.nobs),
        "first_date": rets.index[0],
        "last_date": rets.index[-1],
        "method": "statsmodels OLS of per-bar excess returns: r_i - r_f = alpha + beta (r_m - r_f)",
        "data": hashes,
        "notes": notes,
    }


# ----------------------------------------------------------------------------- Fama-French


class FF3Params(Params):
    symbol: Symbol = Field("AAPL", description="stock price symbol, e.g. 'AAPL'")
    start: date | None = Field(None, description="first date, YYYY-MM-DD (None = earliest)")
    end: date | None = Field(None, description="last date, YYYY-MM-DD (None = latest)")


def monthly_returns(close: pd.Series) -> tuple[pd.Series, str | None]:
    """Month-end to month-end simple returns labelled at calendar month end, and a note.

    A final month whose last close is more than one business day before the month's last
    business day is incomplete and is dropped (the note says so).
    """
    month_end = close.resample("ME").last().dropna()
    last = close.index[-1]
    last_bday = (last + pd.offsets.BMonthEnd(0)).normalize()
    note = None
    if np.busday_count(last.date(), last_bday.date()) > 1:
        month_end = month_end.iloc[:-1]
        note = (
            f"dropped the incomplete final month ({last.strftime('%Y-%m')}, data end {last.date()})"
        )
    return month_end.pct_change().iloc[1:], note


def run_fama_french_3(p: FF3Params, fetch: Fetch) -> dict:
    import statsmodels.api as sm

    ps = load_prices(fetch, p.symbol, p.start, p.end, min_rows=60)
    stock, note = monthly_returns(ps.close)
    ff = fetch("FF3", iso(p.start), iso(p.end))
    factors = ff.frame[["mkt_rf", "smb", "hml", "rf"]] / 100.0
    joined = pd.concat({"r": stock}, axis=1).join(factors, how="inner").dropna()
    if len(joined) < 24:
        raise DataError(
            f"{ps.symbol} and FF3 share {len(joined)} months; at least 24 are needed "
            f"(FF3 covers {ff.frame.index[0].date()}..{ff.frame.index[-1].date()})"
        )
    y = joined["r"] - joined["rf"]
    x = sm.add_constant(joined[["mkt_rf", "smb", "hml"]])
    fit = sm.OLS(y, x).fit()
    names = {"const": "alpha", "mkt_rf": "mkt_rf", "smb": "smb", "hml": "hml"}
    notes = [note] if note else []
    notes.append(
        "monthly excess returns (stock month-end return minus FF rf) regressed on mkt_rf, smb, "
        "hml; factors converted from percent to decimals"
    )
    return {
        "alpha_monthly": float(fit.params["const"]),
        "alpha_annual": float(fit.params["const"]) * 12,
        "loadings": {k: float(fit.params[k]) for k in ("mkt_rf", "smb", "hml")},
        "t_stats": {names[k]: float(v) for k, v in fit.tvalues.items()},
        "p_values": {names[k]: float(v) for k, v in fit.pvalues.items()},
        "r_squared": float(fit.rsquared),
        "adj_r_squared": float(fit.rsquared_adj),
        "months": int(fit.nobs),
        "first_month": joined.index[0],
        "last_month": joined.index[-1],
        "data": {ps.symbol: ps.sha256, ff.symbol: ff.provenance.sha256},
        "notes": notes,
    }


# -------------------------------------------------------------------------- cointegration


class CointegrationParams(Params):
    symbol_y: Symbol = Field("KO", description="dependent price symbol (y in y = a + b x)")
    symbol_x: Symbol = Field("PEP", description="independent price symbol (x)")
    start: date | None = Field(date(2015, 1, 1), description="first date, YYYY-MM-DD")
    end: date | None = Field(date(2019, 12, 31), description="last date, YYYY-MM-DD")
    log_prices: bool = Field(
        False, description="use log prices (hedge ratio becomes an elasticity)"
    )
    trend: Literal["c", "ct"] = Field(
        "c",
        description="deterministic terms in the cointegrating regression: 'c' const, 'ct' +trend",
    )
    autolag: Literal["aic", "bic", "t-stat"] | None = Field(
        "aic", description="lag selection of the ADF test on the residuals (None = maxlag)"
    )
    significance: float = Field(0.05, gt=0, lt=0.5, description="test size for 'cointegrated'")


def half_life(spread: np.ndarray) -> tuple[float, float]:
    """Half-life (in periods) of an AR(1) spread, and the AR slope ``lambda``.

    OLS ``d e_t = c + lambda e_{t-1} + u_t``; with ``phi = 1 + lambda``, the half-life is
    ``-ln 2 / ln(phi)``. NaN when ``phi`` is not in (0, 1) (no mean reversion).
    """
    lag, diff = spread[:-1], np.diff(spread)
    design = np.column_stack([np.ones_like(lag), lag])
    coef, *_ = np.linalg.lstsq(design, diff, rcond=None)
    lam = float(coef[1])
    phi = 1.0 + lam
    if not 0.0 < phi < 1.0:
        return math.nan, lam
    return -math.log(2.0) / math.log(phi), lam


def run_cointegration_engle_granger(p: CointegrationParams, fetch: Fetch) -> dict:
    import statsmodels.api as sm
    from statsmodels.tsa.stattools import coint

    if p.symbol_y == p.symbol_x:
        raise DataError("symbol_y and symbol_x must differ")
    prices, hashes, notes, _ = load_price_frame(
        fetch, [p.symbol_y, p.symbol_x], p.start, p.end, min_rows=50
    )
    if p.log_prices:
        prices = np.log(prices)
    y, x = prices[p.symbol_y].to_numpy(), prices[p.symbol_x].to_numpy()
    t_stat, p_value, crit = coint(y, x, trend=p.trend, autolag=p.autolag)
    design = sm.add_constant(x[:, None])
    if p.trend == "ct":
        design = np.column_stack([design, np.arange(len(x), dtype="float64")])
    fit = sm.OLS(y, design).fit()
    spread = fit.resid
    hl, lam = half_life(spread)
    if math.isnan(hl):
        notes.append(
            f"the spread does not mean-revert in an AR(1) fit (1 + lambda = {1 + lam:.4f}); "
            "the half-life is undefined"
        )
    sd = float(spread.std(ddof=1))
    result = {
        "t_statistic": float(t_stat),
        "p_value": float(p_value),
        "critical_values": {"1%": float(crit[0]), "5%": float(crit[1]), "10%": float(crit[2])},
        "cointegrated": bool(p_value < p.significance),
        "hedge_ratio": float(fit.params[1]),
        "intercept": float(fit.params[0]),
        "half_life_days": hl,
        "ar_lambda": lam,
        "spread_std": sd,
        "spread_zscore_last": float((spread[-1] - spread.mean()) / sd),
        "observations": len(y),
        "first_date": prices.index[0],
        "last_date": prices.index[-1],
        "method": "statsmodels coint (augmented Engle-Granger); spread = y - intercept - "
        "hedge_ratio * x from OLS",
        "data": hashes,
        "notes": notes
        + ["half_life_days counts trading days (rows); the test and fit are in-sample"],
    }
    if p.trend == "ct":
        result["trend_per_period"] = float(fit.params[2])
    return result


SPECS = [
    FinancialSpec(
        id="capm",
        category="factor",
        task="risk",
        description="CAPM beta and alpha of a stock against a market index (OLS, daily)",
        params=CAPMParams,
        run=run_capm,
        needs_data=True,
    ),
    FinancialSpec(
        id="fama_french_3",
        category="factor",
        task="risk",
        description="Fama-French three-factor loadings of a stock's monthly excess returns (OLS)",
        params=FF3Params,
        run=run_fama_french_3,
        needs_data=True,
    ),
    FinancialSpec(
        id="cointegration_engle_granger",
        category="statistics",
        task="risk",
        description="Engle-Granger cointegration test of two prices, hedge ratio and half-life",
        params=CointegrationParams,
        run=run_cointegration_engle_granger,
        needs_data=True,
    ),
]
