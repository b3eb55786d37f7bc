"""Financial models checked against published values and independent computations.

Market-related tests use real bundled data only; small hand-written numbers are used for
pure option maths. Independent computations are written out here with numpy/scipy and do
not call the code under test.
"""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm
from scipy.stats import kurtosis, norm, skew
from statsmodels.tsa.stattools import coint
from threadpoolctl import threadpool_limits

from mltrainer.data.bundled import BundledSource
from mltrainer.errors import DataError, ModelError, NotFound
from mltrainer.financial import FINANCIAL, FinancialSpec, run_financial

SRC = BundledSource()


@pytest.fixture(autouse=True, scope="module")
def _single_threaded_blas():
    """The matrices here are small; multi-threaded BLAS only fights other jobs for the cores."""
    with threadpool_limits(1):
        yield


def fetch(symbol: str, start: str | None, end: str | None):
    return SRC.fetch(symbol, start=start, end=end)


def close(symbol: str, start: str | None = None, end: str | None = None) -> pd.Series:
    return SRC.fetch(symbol, start=start, end=end).frame["close"]


ATM = {"spot": 100.0, "strike": 100.0, "rate": 0.05, "volatility": 0.2, "maturity": 1.0}
PORTFOLIO = {"symbols": ["AAPL", "MSFT", "JNJ", "KO"], "start": "2015-01-01", "end": "2019-12-31"}
PORTFOLIO_IDS = [
    "portfolio_mean_variance",
    "portfolio_min_variance",
    "portfolio_risk_parity",
    "portfolio_hrp",
]


def bs(**kw) -> float:
    return run_financial("black_scholes", fetch, **{**ATM, **kw})["price"]


# ----------------------------------------------------------------------------- registry


def test_every_spec_is_well_formed_with_documented_defaults():
    assert len(FINANCIAL) >= 18
    for model_id, spec in FINANCIAL.items():
        assert isinstance(spec, FinancialSpec) and spec.id == model_id
        assert spec.category in {"pricing", "portfolio", "risk", "factor", "statistics"}
        assert spec.task in {"pricing", "portfolio", "risk"}
        assert spec.description and "\n" not in spec.description
        for name, field in spec.params.model_fields.items():
            assert field.description, f"{model_id}.{name} has no description"
        spec.params()  # defaults validate


@pytest.mark.parametrize("model_id", sorted(FINANCIAL))
def test_default_run_is_strict_json_with_data_hashes(model_id):
    result = run_financial(model_id, fetch)
    json.dumps(result, allow_nan=False)
    assert result["model"] == model_id
    if FINANCIAL[model_id].needs_data:
        assert result["data"]
        for symbol, sha in result["data"].items():
            assert len(sha) == 64, symbol


def test_unknown_model_raises_not_found_with_suggestion():
    with pytest.raises(NotFound, match="black_scholes"):
        run_financial("black_schole", fetch)


def test_unknown_parameter_names_valid_ones_and_suggests():
    with pytest.raises(ModelError, match="volatilty") as info:
        run_financial("black_scholes", fetch, volatilty=0.2)
    assert "did you mean volatility" in str(info.value)
    assert "strike" in str(info.value)


def test_invalid_parameter_value_raises_model_error():
    with pytest.raises(ModelError, match="volatility"):
        run_financial("black_scholes", fetch, volatility=-0.1)


def test_library_failure_becomes_model_error():
    # In the 2008 crash all three banks lost money, so no portfolio has a positive Sharpe.
    with pytest.raises(ModelError, match="portfolio_mean_variance"):
        run_financial(
            "portfolio_mean_variance",
            fetch,
            symbols=["BAC", "GE", "JPM"],
            start="2008-09-01",
            end="2009-03-09",
        )


def test_data_error_from_fetch_passes_through():
    with pytest.raises(DataError, match="NOPE"):
        run_financial("var_historical", fetch, symbol="NOPE")


def test_undefined_value_is_none_with_a_note():
    result = run_financial("binomial_crr", fetch, steps=1)
    assert result["gamma"] is None
    assert any("gamma" in n for n in result["notes"])


# ------------------------------------------------------------------------------ pricing


def test_black_scholes_call_matches_published_value():
    assert bs(option_type="call") == pytest.approx(10.4506, abs=1e-4)


def test_black_scholes_put_call_parity_with_dividend_yield():
    kw = {"spot": 105.0, "strike": 95.0, "rate": 0.03, "maturity": 0.75, "dividend_yield": 0.02}
    call, put = bs(option_type="call", **kw), bs(option_type="put", **kw)
    parity = 105.0 * math.exp(-0.02 * 0.75) - 95.0 * math.exp(-0.03 * 0.75)
    assert call - put == pytest.approx(parity, abs=1e-10)


@pytest.mark.parametrize("option_type", ["call", "put"])
def test_black_scholes_greeks_match_finite_differences(option_type):
    base = {"spot": 102.0, "strike": 98.0, "rate": 0.04, "volatility": 0.25, "maturity": 0.8}
    base |= {"dividend_yield": 0.015, "option_type": option_type}
    greeks = run_financial("black_scholes", fetch, **base)

    def price(**bump) -> float:
        return run_financial("black_scholes", fetch, **{**base, **bump})["price"]

    h, k = 1e-3, 1e-4  # spot step; volatility, maturity and rate step
    s, v, t, r = base["spot"], base["volatility"], base["maturity"], base["rate"]
    up, mid, down = price(spot=s + h), price(), price(spot=s - h)
    assert greeks["delta"] == pytest.approx((up - down) / (2 * h), abs=1e-6)
    assert greeks["gamma"] == pytest.approx((up - 2 * mid + down) / h**2, abs=1e-4)
    assert greeks["vega"] == pytest.approx(
        (price(volatility=v + k) - price(volatility=v - k)) / (2 * k), rel=1e-7
    )
    # theta is the change as calendar time passes, i.e. minus the maturity derivative
    assert greeks["theta"] == pytest.approx(
        -(price(maturity=t + k) - price(maturity=t - k)) / (2 * k), rel=1e-7
    )
    assert greeks["rho"] == pytest.approx(
        (price(rate=r + k) - price(rate=r - k)) / (2 * k), rel=1e-7
    )


def test_implied_volatility_recovers_sigma_from_published_price():
    result = run_financial(
        "implied_volatility", fetch, price=10.4506, spot=100, strike=100, rate=0.05, maturity=1
    )
    assert result["implied_volatility"] == pytest.approx(0.2, abs=1e-5)


def test_implied_volatility_round_trips_put_with_dividends():
    kw = {"spot": 90.0, "strike": 100.0, "rate": 0.02, "maturity": 0.5, "dividend_yield": 0.01}
    price = bs(volatility=0.37, option_type="put", **kw)
    result = run_financial("implied_volatility", fetch, price=price, option_type="put", **kw)
    assert result["implied_volatility"] == pytest.approx(0.37, abs=1e-9)


def test_implied_volatility_rejects_price_outside_no_arbitrage_bounds():
    with pytest.raises(ModelError, match="no-arbitrage"):
        run_financial("implied_volatility", fetch, price=150.0, spot=100, strike=100)


@pytest.mark.parametrize("option_type", ["call", "put"])
def test_binomial_european_converges_to_black_scholes(option_type):
    tree = run_financial("binomial_crr", fetch, **ATM, option_type=option_type, steps=1000)
    assert tree["price"] == pytest.approx(bs(option_type=option_type), abs=0.01)


def test_binomial_american_put_is_worth_more_than_european_put():
    kw = {**ATM, "option_type": "put", "steps": 500}
    american = run_financial("binomial_crr", fetch, exercise="american", **kw)["price"]
    european = run_financial("binomial_crr", fetch, exercise="european", **kw)["price"]
    assert american > european + 0.1


def test_binomial_american_call_without_dividends_equals_european_call():
    kw = {**ATM, "option_type": "call", "steps": 500, "dividend_yield": 0.0}
    american = run_financial("binomial_crr", fetch, exercise="american", **kw)["price"]
    european = run_financial("binomial_crr", fetch, exercise="european", **kw)["price"]
    assert american == pytest.approx(european, abs=1e-10)


def test_monte_carlo_option_within_one_percent_of_black_scholes_and_labelled():
    result = run_financial("monte_carlo_option", fetch, **ATM, paths=100_000, seed=7)
    assert result["price"] == pytest.approx(bs(), rel=0.01)
    assert result["simulation"] is True
    assert result["paths"] == 100_000 and result["seed"] == 7
    assert 0 < result["std_error"] < 0.05


def test_monte_carlo_option_is_reproducible_from_its_seed():
    a = run_financial("monte_carlo_option", fetch, paths=20_000, seed=3)["price"]
    b = run_financial("monte_carlo_option", fetch, paths=20_000, seed=3)["price"]
    c = run_financial("monte_carlo_option", fetch, paths=20_000, seed=4)["price"]
    assert a == b and a != c


# ---------------------------------------------------------------------------- portfolio


@pytest.fixture(scope="module")
def portfolios() -> dict[str, dict]:
    return {mid: run_financial(mid, fetch, **PORTFOLIO) for mid in PORTFOLIO_IDS}


@pytest.fixture(scope="module")
def daily_returns() -> pd.DataFrame:
    prices = pd.concat(
        {s: close(s, "2015-01-01", "2019-12-31") for s in PORTFOLIO["symbols"]}, axis=1
    )
    return prices.dropna().pct_change().dropna()


def weights(result: dict) -> np.ndarray:
    return np.array([result["weights"][s] for s in PORTFOLIO["symbols"]])


@pytest.mark.parametrize("model_id", PORTFOLIO_IDS)
def test_portfolio_weights_are_long_only_and_sum_to_one(portfolios, model_id):
    w = weights(portfolios[model_id])
    assert w.sum() == pytest.approx(1.0, abs=1e-9)
    assert (w >= 0).all()


def test_min_variance_beats_equal_weight_and_max_sharpe_on_variance(portfolios, daily_returns):
    cov = np.cov(daily_returns.to_numpy(), rowvar=False)
    var = {mid: weights(r) @ cov @ weights(r) for mid, r in portfolios.items()}
    equal = np.full(4, 0.25)
    assert var["portfolio_min_variance"] <= equal @ cov @ equal
    assert var["portfolio_min_variance"] <= var["portfolio_mean_variance"]
    assert var["portfolio_min_variance"] == pytest.approx(min(var.values()))


def test_max_sharpe_has_the_highest_in_sample_sharpe(portfolios, daily_returns):
    mu = daily_returns.mean().to_numpy()
    cov = np.cov(daily_returns.to_numpy(), rowvar=False)

    def sharpe(w: np.ndarray) -> float:
        return (w @ mu) / math.sqrt(w @ cov @ w) * math.sqrt(252)

    best = sharpe(weights(portfolios["portfolio_mean_variance"]))
    assert best == pytest.approx(portfolios["portfolio_mean_variance"]["sharpe_ratio"], rel=1e-9)
    for mid in PORTFOLIO_IDS:
        assert best >= sharpe(weights(portfolios[mid])) - 1e-6
    assert best >= sharpe(np.full(4, 0.25))


def test_risk_parity_risk_contributions_are_equal(portfolios, daily_returns):
    w = weights(portfolios["portfolio_risk_parity"])
    cov = np.cov(daily_returns.to_numpy(), rowvar=False)
    contributions = w * (cov @ w) / (w @ cov @ w)
    np.testing.assert_allclose(contributions, 0.25, atol=1e-3)


def test_portfolio_reports_annualised_volatility_and_data_hashes(portfolios, daily_returns):
    r = portfolios["portfolio_hrp"]
    w = weights(r)
    vol = math.sqrt(w @ np.cov(daily_returns.to_numpy(), rowvar=False) @ w * 252)
    assert r["annual_volatility"] == pytest.approx(vol, rel=1e-9)
    assert r["observations"] == len(daily_returns)
    for s in PORTFOLIO["symbols"]:
        expected = SRC.fetch(s, start="2015-01-01", end="2019-12-31").provenance.sha256
        assert r["data"][s] == expected


# -------------------------------------------------------------------------------- VaR


def test_var_historical_matches_numpy_quantile():
    result = run_financial("var_historical", fetch, symbol="SPX", confidence=0.99)
    r = close("SPX").pct_change().dropna().to_numpy()
    q = np.quantile(r, 0.01)
    assert result["var"] == pytest.approx(-q, rel=1e-12)
    assert result["cvar"] == pytest.approx(-r[r <= q].mean(), rel=1e-12)
    assert result["cvar"] > result["var"] > 0


def test_var_historical_multi_day_uses_overlapping_horizon_returns():
    result = run_financial("var_historical", fetch, symbol="AAPL", horizon_days=10)
    c = close("AAPL").to_numpy()
    r10 = c[10:] / c[:-10] - 1
    assert result["var"] == pytest.approx(-np.quantile(r10, 0.05), rel=1e-12)


def test_var_parametric_matches_scipy_normal_with_sqrt_time_scaling():
    result = run_financial("var_parametric", fetch, symbol="KO", confidence=0.99, horizon_days=5)
    r = close("KO").pct_change().dropna().to_numpy()
    mu, sd = 5 * r.mean(), math.sqrt(5) * r.std(ddof=1)
    z = norm.ppf(0.01)
    assert result["var"] == pytest.approx(-(mu + sd * z), rel=1e-10)
    assert result["cvar"] == pytest.approx(-mu + sd * norm.pdf(z) / 0.01, rel=1e-10)


def test_var_cornish_fisher_matches_independent_expansion_and_closed_form_cvar():
    result = run_financial(
        "var_cornish_fisher", fetch, symbol="JNJ", start="2010-01-01", confidence=0.99
    )
    r = close("JNJ", "2010-01-01").pct_change().dropna().to_numpy()
    mu, sd = r.mean(), r.std(ddof=1)
    s, k = skew(r, bias=False), kurtosis(r, fisher=True, bias=False)
    a = 0.01
    c = norm.ppf(a)
    zcf = c + (c * c - 1) * s / 6 + (c**3 - 3 * c) * k / 24 - (2 * c**3 - 5 * c) * s * s / 36
    assert result["var"] == pytest.approx(-(mu + sd * zcf), rel=1e-10)
    # Partial moments of the standard normal below c: M_k = integral of z^k phi(z) dz.
    phi, cdf = norm.pdf(c), norm.cdf(c)
    m0, m1, m2, m3 = cdf, -phi, cdf - c * phi, -(c * c + 2) * phi
    tail = m1 + (m2 - m0) * s / 6 + (m3 - 3 * m1) * k / 24 - (2 * m3 - 5 * m1) * s * s / 36
    assert result["cvar"] == pytest.approx(-(mu * a + sd * tail) / a, rel=1e-6)


def test_monte_carlo_var_normal_is_close_to_parametric_and_labelled():
    kw = {"symbol": "SPX", "confidence": 0.99}
    mc = run_financial("monte_carlo_var", fetch, method="normal", paths=200_000, seed=1, **kw)
    param = run_financial("var_parametric", fetch, **kw)
    assert mc["simulation"] is True and mc["seed"] == 1 and mc["paths"] == 200_000
    assert mc["var"] == pytest.approx(param["var"], rel=0.02)


# ------------------------------------------------------------------------------ Kelly


def test_kelly_continuous_is_mean_excess_over_variance():
    result = run_financial(
        "kelly_fraction", fetch, symbol="MSFT", start="2010-01-01", risk_free_rate=0.01
    )
    r = close("MSFT", "2010-01-01").pct_change().dropna().to_numpy() - 0.01 / 252
    assert result["kelly_fraction"] == pytest.approx(r.mean() / r.var(ddof=1), rel=1e-10)


@pytest.mark.parametrize(("p", "b", "expected"), [(0.6, 1.0, 0.2), (0.55, 2.0, 0.325)])
def test_kelly_discrete_matches_hand_formula(p, b, expected):
    result = run_financial(
        "kelly_fraction", fetch, method="discrete", win_probability=p, payoff_ratio=b, fraction=0.5
    )
    assert result["kelly_fraction"] == pytest.approx(expected, abs=1e-12)
    assert result["recommended_fraction"] == pytest.approx(expected / 2, abs=1e-12)
    f = expected / 2
    growth = p * math.log(1 + f * b) + (1 - p) * math.log(1 - f)
    assert result["expected_log_growth_per_bet"] == pytest.approx(growth, rel=1e-12)


def test_kelly_discrete_without_edge_says_do_not_bet():
    result = run_financial(
        "kelly_fraction", fetch, method="discrete", win_probability=0.4, payoff_ratio=1.0
    )
    assert result["kelly_fraction"] == pytest.approx(-0.2)
    assert result["expected_log_growth_per_bet"] is None
    assert any("do not bet" in n for n in result["notes"])


def test_kelly_discrete_requires_probability_and_payoff():
    with pytest.raises(ModelError, match="win_probability"):
        run_financial("kelly_fraction", fetch, method="discrete")


# ---------------------------------------------------------------------- factor models


def test_capm_beta_equals_cov_over_var_and_statsmodels_slope():
    kw = {"symbol": "AAPL", "start": "2010-01-01", "end": "2018-12-31", "risk_free_rate": 0.02}
    result = run_financial("capm", fetch, **kw)
    prices = pd.concat(
        {s: close(s, "2010-01-01", "2018-12-31") for s in ("AAPL", "SPX")}, axis=1, join="inner"
    )
    rets = prices.pct_change().dropna() - 0.02 / 252
    y, x = rets["AAPL"].to_numpy(), rets["SPX"].to_numpy()
    beta = np.cov(y, x, ddof=1)[0, 1] / np.var(x, ddof=1)
    assert result["beta"] == pytest.approx(beta, rel=1e-10)
    ols = sm.OLS(y, sm.add_constant(x)).fit()
    assert result["beta"] == pytest.approx(ols.params[1], rel=1e-10)
    assert result["alpha_per_period"] == pytest.approx(ols.params[0], rel=1e-8)
    assert result["observations"] == len(y)


def test_fama_french_3_matches_numpy_lstsq():
    result = run_financial("fama_french_3", fetch, symbol="MSFT", start="2000-01-01")
    monthly = close("MSFT", "2000-01-01").resample("ME").last().pct_change().dropna()
    ff = SRC.fetch("FF3", start="2000-01-01").frame / 100.0
    df = pd.concat({"r": monthly}, axis=1).join(ff, how="inner")
    y = (df["r"] - df["rf"]).to_numpy()
    x = np.column_stack([np.ones(len(df)), df[["mkt_rf", "smb", "hml"]].to_numpy()])
    coef, *_ = np.linalg.lstsq(x, y, rcond=None)
    resid = y - x @ coef
    sigma2 = resid @ resid / (len(y) - 4)
    t = coef / np.sqrt(np.diag(sigma2 * np.linalg.inv(x.T @ x)))
    r2 = 1 - resid @ resid / ((y - y.mean()) @ (y - y.mean()))
    assert result["months"] == len(y) == 226  # 2000-02 .. 2018-11; January is the base
    assert result["alpha_monthly"] == pytest.approx(coef[0], rel=1e-8)
    got = [result["loadings"][f] for f in ("mkt_rf", "smb", "hml")]
    np.testing.assert_allclose(got, coef[1:], rtol=1e-8)
    got_t = [result["t_stats"][f] for f in ("alpha", "mkt_rf", "smb", "hml")]
    np.testing.assert_allclose(got_t, t, rtol=1e-8)
    assert result["r_squared"] == pytest.approx(r2, rel=1e-10)


def test_fama_french_3_drops_an_incomplete_final_month():
    result = run_financial(
        "fama_french_3", fetch, symbol="KO", start="2010-01-01", end="2015-06-15"
    )
    assert result["last_month"] == "2015-05-31"
    assert any("incomplete final month" in n for n in result["notes"])


def test_cointegration_matches_statsmodels_coint_and_ols_hedge_ratio():
    result = run_financial("cointegration_engle_granger", fetch, symbol_y="KO", symbol_x="PEP")
    prices = pd.concat(
        {s: close(s, "2015-01-01", "2019-12-31") for s in ("KO", "PEP")}, axis=1, join="inner"
    )
    y, x = prices["KO"].to_numpy(), prices["PEP"].to_numpy()
    t_stat, p_value, _ = coint(y, x)
    assert result["p_value"] == pytest.approx(p_value, rel=1e-12)
    assert result["t_statistic"] == pytest.approx(t_stat, rel=1e-12)
    slope, intercept = np.polyfit(x, y, 1)
    assert result["hedge_ratio"] == pytest.approx(slope, rel=1e-9)
    assert result["intercept"] == pytest.approx(intercept, rel=1e-9)
    spread = y - intercept - slope * x
    lam = np.polyfit(spread[:-1], np.diff(spread), 1)[0]
    assert result["half_life_days"] == pytest.approx(-math.log(2) / math.log(1 + lam), rel=1e-6)


# --------------------------------------------------------------------- stress, drawdown


def test_stress_covid_return_is_weighted_sum_of_asset_returns():
    w = {"AAPL": 0.4, "XOM": 0.35, "PG": 0.25}
    result = run_financial("stress_test_historical", fetch, weights=w, scenario="covid_2020")
    independent = {}
    for s in w:
        c = close(s, "2020-02-19", "2020-03-23")
        independent[s] = c.iloc[-1] / c.iloc[0] - 1
    for s in w:
        assert result["asset_returns"][s] == pytest.approx(independent[s], rel=1e-12)
    expected = sum(w[s] * independent[s] for s in w)
    assert result["portfolio_return"] == pytest.approx(expected, rel=1e-12)
    assert result["entry_date"] == "2020-02-19" and result["exit_date"] == "2020-03-23"
    assert result["max_drawdown"] <= result["portfolio_return"] < 0


def test_stress_gfc_2008_works_with_spx_and_stocks():
    w = {"SPX": 0.6, "JPM": 0.4}
    result = run_financial("stress_test_historical", fetch, weights=w, scenario="gfc_2008")
    spx = close("SPX", "2008-09-01", "2009-03-09")
    assert result["entry_date"] == "2008-09-02"  # 2008-09-01 was Labor Day
    assert result["asset_returns"]["SPX"] == pytest.approx(spx.iloc[-1] / spx.iloc[0] - 1)
    assert result["worst_day"]["return"] < -0.05


def test_stress_refuses_a_window_the_data_do_not_cover():
    with pytest.raises(DataError, match="SPX"):
        run_financial("stress_test_historical", fetch, weights={"SPX": 1.0}, scenario="covid_2020")


def test_stress_weights_must_sum_to_one():
    with pytest.raises(ModelError, match="sum to 1"):
        run_financial("stress_test_historical", fetch, weights={"AAPL": 0.5, "KO": 0.4})


def test_drawdown_max_matches_independent_cummax():
    result = run_financial("drawdown_analytics", fetch, symbol="SPX")
    c = close("SPX")
    dd = c / c.cummax() - 1
    trough = dd.idxmin()
    peak = c.loc[:trough].idxmax()
    recovery = c.loc[trough:][c.loc[trough:] >= c.loc[peak]].index[0]
    assert result["max_drawdown"] == pytest.approx(dd.min(), rel=1e-12)
    assert result["trough_date"] == trough.date().isoformat()
    assert result["peak_date"] == peak.date().isoformat()
    assert result["recovery_date"] == recovery.date().isoformat()
    assert result["duration_days"] == (recovery - peak).days


def test_drawdown_top_five_are_sorted_and_disjoint():
    top = run_financial("drawdown_analytics", fetch, symbol="KO", top_n=5)["top_drawdowns"]
    assert len(top) == 5
    depths = [d["depth"] for d in top]
    assert depths == sorted(depths)
    spans = sorted((d["peak_date"], d["recovery_date"] or "9999") for d in top)
    assert all(a[1] <= b[0] for a, b in zip(spans, spans[1:], strict=False))


def test_drawdown_not_yet_recovered_is_none_with_note():
    result = run_financial(
        "drawdown_analytics", fetch, symbol="SPX", start="2007-10-01", end="2009-12-31"
    )
    assert result["recovery_date"] is None
    assert result["trough_to_recovery_days"] is None
    assert any("had not recovered" in n for n in result["notes"])


def test_sharpe_and_psr_match_hand_formula():
    result = run_financial(
        "sharpe_ratio_stats", fetch, symbol="PG", start="2005-01-01", risk_free_rate=0.01
    )
    r = close("PG", "2005-01-01").pct_change().dropna().to_numpy() - 0.01 / 252
    sr = r.mean() / r.std(ddof=1)
    g3, g4 = skew(r, bias=False), kurtosis(r, fisher=False, bias=False)
    psr = norm.cdf(sr * math.sqrt(len(r) - 1) / math.sqrt(1 - g3 * sr + (g4 - 1) / 4 * sr**2))
    assert result["sharpe_ratio"] == pytest.approx(sr * math.sqrt(252), rel=1e-10)
    assert result["probabilistic_sharpe_ratio"] == pytest.approx(psr, rel=1e-10)
