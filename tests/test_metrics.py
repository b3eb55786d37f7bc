"""Metrics equal empyrical-reloaded's on the same real returns; PSR/DSR by formula."""

from __future__ import annotations

import math

import empyrical as ep
import numpy as np
import pytest
from scipy import stats

from mltrainer.data.bundled import BundledSource
from mltrainer.trials import metrics as M


@pytest.fixture(scope="module")
def returns() -> np.ndarray:
    close = BundledSource().fetch("SPX", start="2007-01-01", end="2012-12-31").frame["close"]
    return close.pct_change().dropna().to_numpy()


@pytest.mark.parametrize(
    "ours,theirs",
    [
        (lambda r: M.sharpe_ratio(r, 252), lambda r: ep.sharpe_ratio(r, annualization=252)),
        (lambda r: M.sortino_ratio(r, 252), lambda r: ep.sortino_ratio(r, annualization=252)),
        (lambda r: M.max_drawdown(r), lambda r: ep.max_drawdown(r)),
        (lambda r: M.annual_return(r, 252), lambda r: ep.annual_return(r, annualization=252)),
        (lambda r: M.calmar_ratio(r, 252), lambda r: ep.calmar_ratio(r, annualization=252)),
        (
            lambda r: M.annual_volatility(r, 252),
            lambda r: ep.annual_volatility(r, annualization=252),
        ),
    ],
    ids=["sharpe", "sortino", "max_drawdown", "cagr", "calmar", "volatility"],
)
def test_metric_equals_empyrical(returns, ours, theirs):
    assert math.isclose(ours(returns), float(theirs(returns)), rel_tol=0, abs_tol=1e-9)


def test_undefined_ratios_are_nan_not_zero():
    flat = np.zeros(50)
    assert math.isnan(M.sharpe_ratio(flat, 252))
    assert math.isnan(M.sortino_ratio(np.full(10, 0.01), 252))  # no downside
    assert math.isnan(M.calmar_ratio(np.full(10, 0.01), 252))  # no drawdown
    assert math.isnan(M.sharpe_ratio([0.01], 252))


def test_max_drawdown_by_hand():
    r = np.array([0.10, -0.50, 0.20, 0.50])  # equity 1.1, 0.55, 0.66, 0.99
    assert math.isclose(M.max_drawdown(r), 0.55 / 1.1 - 1)


def test_probabilistic_sharpe_ratio_matches_formula(returns):
    sr = returns.mean() / returns.std(ddof=1)
    g3 = stats.skew(returns, bias=False)
    g4 = stats.kurtosis(returns, fisher=False, bias=False)
    z = sr * math.sqrt(len(returns) - 1) / math.sqrt(1 - g3 * sr + (g4 - 1) / 4 * sr**2)
    assert math.isclose(M.probabilistic_sharpe_ratio(returns), stats.norm.cdf(z), rel_tol=1e-12)


def test_deflated_sharpe_falls_as_trials_grow(returns):
    dsr = [M.deflated_sharpe_ratio(returns, n) for n in (1, 10, 100, 1000)]
    assert dsr[0] == pytest.approx(M.probabilistic_sharpe_ratio(returns))
    assert all(a > b for a, b in zip(dsr, dsr[1:], strict=False))


def test_expected_max_sharpe_matches_bailey_lopez_de_prado():
    # E[max SR] for N=100 trials, V[SR]=1: (1-g) Z(1-1/N) + g Z(1-1/(N e))
    g = 0.5772156649015329
    expected = (1 - g) * stats.norm.ppf(1 - 1 / 100) + g * stats.norm.ppf(1 - 1 / (100 * math.e))
    assert math.isclose(M.expected_max_sharpe(100, 1.0), expected, rel_tol=1e-12)


def test_deflated_sharpe_matches_the_published_example():
    # Bailey & Lopez de Prado (2014), "The Deflated Sharpe Ratio", the numerical example:
    # SR 2.5 annualised over T = 1,250 daily observations (5 years of 250 days), skew -3,
    # kurtosis 10, N = 100 trials whose annualised Sharpes have variance V = 0.5.
    ppy, t = 250, 1250
    sr = 2.5 / math.sqrt(ppy)
    var = 0.5 / ppy
    assert round(M.expected_max_sharpe(100, var), 4) == 0.1132
    assert round(M.dsr_from_moments(sr, t, -3.0, 10.0, 100, var), 4) == 0.9004


def test_array_functions_use_the_moment_functions(returns):
    sr = returns.mean() / returns.std(ddof=1)
    g3 = stats.skew(returns, bias=False)
    g4 = stats.kurtosis(returns, fisher=False, bias=False)
    n = len(returns)
    assert M.probabilistic_sharpe_ratio(returns, 0.01) == M.psr_from_moments(sr, n, g3, g4, 0.01)
    others = [0.01, 0.03, -0.02]
    var = float(np.var(others, ddof=1))
    assert M.deflated_sharpe_ratio(returns, 4, others) == M.dsr_from_moments(sr, n, g3, g4, 4, var)
