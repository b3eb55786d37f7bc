"""Long-only portfolio optimisation on real daily prices with skfolio.

Four allocators, all fitted on daily simple returns of the chosen symbols over
``start..end`` (dates common to every symbol only):

* ``portfolio_mean_variance``: maximum Sharpe ratio (skfolio ``MeanRisk`` with
  ``ObjectiveFunction.MAXIMIZE_RATIO`` on the standard deviation);
* ``portfolio_min_variance``: minimum variance (``MeanRisk``, ``MINIMIZE_RISK``);
* ``portfolio_risk_parity``: equal risk contributions (``RiskBudgeting`` on variance);
* ``portfolio_hrp``: hierarchical risk parity (``HierarchicalRiskParity``).

Expected returns and covariances are the in-sample sample estimates, so the reported
return, volatility and Sharpe ratio are **in-sample**: they describe the fitting window, not
the future. Annual figures use ``periods_per_year`` (by default the bars per year of the
aligned dates: 252 for daily stock data): return = mean per-bar return x periods_per_year,
volatility = per-bar standard deviation x sqrt(periods_per_year), Sharpe =
(return - risk_free_rate) / volatility.

Example: ``run_financial("portfolio_min_variance", fetch, symbols=["AAPL", "MSFT", "JNJ",
"KO"], start="2015-01-01", end="2019-12-31")``.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from datetime import date
from typing import Any

import numpy as np
import pandas as pd
from pydantic import Field, field_validator

from ..errors import ModelError
from .base import (
    Fetch,
    FinancialSpec,
    Params,
    PeriodsPerYear,
    Symbol,
    annualisation,
    load_price_frame,
)

__all__ = ["SPECS", "PortfolioParams", "portfolio_statistics", "risk_contributions"]

WEIGHT_TOLERANCE = 1e-6


class PortfolioParams(Params):
    """Universe, window and annualisation for the portfolio optimisers."""

    symbols: list[Symbol] = Field(
        default_factory=lambda: ["AAPL", "MSFT", "JNJ", "KO"],
        min_length=2,
        max_length=100,
        description="price symbols to allocate across (at least 2), e.g. ['AAPL', 'MSFT']",
    )
    start: date | None = Field(date(2015, 1, 1), description="first date, YYYY-MM-DD (inclusive)")
    end: date | None = Field(date(2019, 12, 31), description="last date, YYYY-MM-DD (inclusive)")
    risk_free_rate: float = Field(
        0.0,
        ge=-0.5,
        le=1.0,
        description="annual risk-free rate, simple decimal (0.02 = 2% a year); "
        "divided by periods_per_year for the per-bar rate",
    )
    periods_per_year: PeriodsPerYear = None

    @field_validator("symbols")
    @classmethod
    def _distinct(cls, v: list[str]) -> list[str]:
        if len(set(v)) != len(v):
            raise ValueError(f"symbols must be distinct (got {v})")
        return v


def risk_contributions(weights: np.ndarray, cov: np.ndarray) -> np.ndarray:
    """Fraction of portfolio variance from each asset: ``w_i (C w)_i / (w' C w)``; sums to 1."""
    total = float(weights @ cov @ weights)
    return weights * (cov @ weights) / total


def portfolio_statistics(
    weights: np.ndarray, returns: pd.DataFrame, risk_free_rate: float, periods_per_year: float
) -> dict[str, float]:
    """In-sample annual return, volatility and Sharpe ratio of fixed ``weights``.

    ``returns`` are per-period simple returns (rows = dates); the sample covariance uses
    ``ddof=1``.
    """
    mu = returns.mean().to_numpy()
    cov = np.cov(returns.to_numpy(), rowvar=False, ddof=1)
    ann_ret = float(weights @ mu) * periods_per_year
    ann_vol = math.sqrt(float(weights @ cov @ weights) * periods_per_year)
    sharpe = (ann_ret - risk_free_rate) / ann_vol if ann_vol > 0 else math.nan
    return {
        "expected_annual_return": ann_ret,
        "annual_volatility": ann_vol,
        "sharpe_ratio": sharpe,
    }


def _clean_weights(raw: np.ndarray, model_id: str) -> np.ndarray:
    """Solver weights with round-off negatives set to 0, renormalised to sum exactly 1."""
    w = np.asarray(raw, dtype="float64")
    if not np.all(np.isfinite(w)):
        raise ModelError(f"{model_id}: the optimiser returned non-finite weights")
    if w.min() < -WEIGHT_TOLERANCE or abs(w.sum() - 1.0) > 1e-4:
        raise ModelError(
            f"{model_id}: the optimiser returned weights outside the long-only budget "
            f"(min {w.min():.3g}, sum {w.sum():.6f})"
        )
    w = np.clip(w, 0.0, None)
    return w / w.sum()


def _optimise(
    model_id: str, make: Callable[[float], Any], method: str
) -> Callable[[PortfolioParams, Fetch], dict]:
    def run(p: PortfolioParams, fetch: Fetch) -> dict:
        prices, hashes, notes, interval = load_price_frame(
            fetch, p.symbols, p.start, p.end, min_rows=30
        )
        returns = prices.pct_change().iloc[1:]
        if len(returns) < 2 * len(p.symbols):
            raise ModelError(
                f"{model_id}: {len(returns)} daily returns for {len(p.symbols)} symbols is too "
                "few to estimate a covariance matrix; widen start..end"
            )
        ann = annualisation(p.periods_per_year, prices.index, interval)
        ppy = ann["periods_per_year"]
        rf_period = p.risk_free_rate / ppy
        estimator = make(rf_period)
        estimator.fit(returns)
        weights = _clean_weights(estimator.weights_, model_id)
        cov = np.cov(returns.to_numpy(), rowvar=False, ddof=1)
        stats = portfolio_statistics(weights, returns, p.risk_free_rate, ppy)
        names = list(returns.columns)
        return {
            "weights": dict(zip(names, weights.tolist(), strict=True)),
            **stats,
            "risk_contributions": dict(
                zip(names, risk_contributions(weights, cov).tolist(), strict=True)
            ),
            "method": method,
            **ann,
            "in_sample": True,
            "observations": len(returns),
            "first_date": returns.index[0],
            "last_date": returns.index[-1],
            "data": hashes,
            "notes": notes
            + [
                "return, volatility and Sharpe are in-sample estimates over the fitting window, "
                "not forecasts"
            ],
        }

    return run


def _max_sharpe(rf: float) -> Any:
    from skfolio import RiskMeasure
    from skfolio.optimization import MeanRisk, ObjectiveFunction

    return MeanRisk(
        objective_function=ObjectiveFunction.MAXIMIZE_RATIO,
        risk_measure=RiskMeasure.STANDARD_DEVIATION,
        risk_free_rate=rf,
        min_weights=0.0,
        budget=1.0,
    )


def _min_variance(rf: float) -> Any:
    from skfolio import RiskMeasure
    from skfolio.optimization import MeanRisk, ObjectiveFunction

    return MeanRisk(
        objective_function=ObjectiveFunction.MINIMIZE_RISK,
        risk_measure=RiskMeasure.VARIANCE,
        risk_free_rate=rf,
        min_weights=0.0,
        budget=1.0,
    )


def _risk_parity(rf: float) -> Any:
    from skfolio import RiskMeasure
    from skfolio.optimization import RiskBudgeting

    return RiskBudgeting(risk_measure=RiskMeasure.VARIANCE, risk_free_rate=rf, min_weights=0.0)


def _hrp(rf: float) -> Any:
    from skfolio import RiskMeasure
    from skfolio.optimization import HierarchicalRiskParity

    return HierarchicalRiskParity(risk_measure=RiskMeasure.VARIANCE, min_weights=0.0)


SPECS = [
    FinancialSpec(
        id="portfolio_mean_variance",
        category="portfolio",
        task="portfolio",
        description="Long-only maximum-Sharpe (mean-variance) weights from daily prices (skfolio)",
        params=PortfolioParams,
        run=_optimise(
            "portfolio_mean_variance",
            _max_sharpe,
            "skfolio MeanRisk, MAXIMIZE_RATIO of excess mean return to standard deviation",
        ),
        needs_data=True,
    ),
    FinancialSpec(
        id="portfolio_min_variance",
        category="portfolio",
        task="portfolio",
        description="Long-only global minimum-variance weights from daily prices (skfolio)",
        params=PortfolioParams,
        run=_optimise(
            "portfolio_min_variance", _min_variance, "skfolio MeanRisk, MINIMIZE_RISK of variance"
        ),
        needs_data=True,
    ),
    FinancialSpec(
        id="portfolio_risk_parity",
        category="portfolio",
        task="portfolio",
        description="Equal-risk-contribution (risk parity) weights from daily prices (skfolio)",
        params=PortfolioParams,
        run=_optimise(
            "portfolio_risk_parity",
            _risk_parity,
            "skfolio RiskBudgeting on variance with equal budgets",
        ),
        needs_data=True,
    ),
    FinancialSpec(
        id="portfolio_hrp",
        category="portfolio",
        task="portfolio",
        description="Hierarchical risk parity weights (Lopez de Prado) from daily prices (skfolio)",
        params=PortfolioParams,
        run=_optimise(
            "portfolio_hrp",
            _hrp,
            "skfolio HierarchicalRiskParity on variance, Pearson-correlation distance, "
            "Ward linkage (skfolio defaults)",
        ),
        needs_data=True,
    ),
]
