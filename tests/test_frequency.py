"""Bars per year come from the data's own timestamps, in trials and in the financial models.

Oracles: calendar time (elapsed days of the equity curve, 365.25-day years), pandas
timestamp arithmetic and empyrical's monthly annualisation.
"""

from __future__ import annotations

import json
import math

import empyrical as ep
import numpy as np
import pandas as pd
import pytest

from mltrainer.data.bundled import BundledSource
from mltrainer.data.intervals import bar_frequency
from mltrainer.financial import run_financial
from mltrainer.models.registry import build_registry
from mltrainer.trials import TrialSpec, WalkForwardEngine
from mltrainer.trials.report import write_report

SRC = BundledSource()
YEAR = pd.Timedelta(days=365.25)


def fetch(symbol: str, start: str | None, end: str | None):
    return SRC.fetch(symbol, start=start, end=end)


def _naive_rate(index: pd.DatetimeIndex) -> float:
    return (len(index) - 1) / ((index[-1] - index[0]) / YEAR)


# ------------------------------------------------------------------------ bar_frequency


def test_hourly_fx_is_measured_near_6200_and_uses_the_24x5_calendar():
    ix = SRC.fetch("EURUSD").frame.index
    f = bar_frequency(ix, "1h")
    assert f.measured == pytest.approx(_naive_rate(ix), rel=1e-9)  # no outage in these data
    assert 6100 < f.measured < 6300
    assert f.method == "calendar" and f.periods_per_year == pytest.approx(120 * 365.25 / 7)
    assert "24x5" in f.source


@pytest.mark.parametrize(("symbol", "expected"), [("SPX", 252.0), ("BTCUSD", 12.0)])
def test_daily_stocks_stay_252_and_monthly_is_12(symbol, expected):
    md = SRC.fetch(symbol)
    f = bar_frequency(md.frame.index, md.interval)
    assert f.method == "calendar" and f.periods_per_year == expected
    assert f.measured == pytest.approx(expected, rel=0.01)


def test_an_outage_does_not_lower_the_measured_rate():
    ix = SRC.fetch("SPX").frame.index
    gappy = ix[(ix < "2008-01-01") | (ix >= "2009-07-01")]  # 18 months missing
    assert _naive_rate(gappy) < 0.95 * _naive_rate(ix)
    f = bar_frequency(gappy, "1d")
    assert f.measured == pytest.approx(_naive_rate(ix), rel=0.005)
    assert f.periods_per_year == 252.0


def test_a_rate_matching_no_calendar_is_used_as_measured():
    ix = SRC.fetch("SPX").frame.index[::2]  # every other trading day: ~126 bars a year
    f = bar_frequency(ix, "1d")
    assert f.method == "measured" and f.periods_per_year == pytest.approx(_naive_rate(ix))
    assert 120 < f.periods_per_year < 130


def test_too_few_bars_fall_back_to_the_nominal_calendar():
    f = bar_frequency(SRC.fetch("SPX").frame.index[:2], "1d")
    assert f.method == "nominal" and f.periods_per_year == 252.0


# ------------------------------------------------------------------------------ trials


@pytest.fixture(scope="module")
def registry():
    return build_registry()


def _calendar_check(res, close: pd.Series) -> None:
    """CAGR, volatility and Sharpe agree with calendar time over the equity's own span."""
    eq = np.array([e[1] for e in res.equity])
    r = eq / np.concatenate([[1.0], eq[:-1]]) - 1
    ix = close.index
    first_exit = ix.get_loc(pd.Timestamp(res.equity[0][0]))
    start, end = ix[first_exit - 1], pd.Timestamp(res.equity[-1][0])
    years = (end - start) / YEAR
    calendar_cagr = eq[-1] ** (1 / years) - 1
    bars_per_year = len(r) / years
    assert res.metrics["cagr"] == pytest.approx(calendar_cagr, rel=0.03)
    assert res.metrics["volatility"] == pytest.approx(
        np.std(r, ddof=1) * math.sqrt(bars_per_year), rel=0.03
    )
    assert res.metrics["sharpe"] == pytest.approx(
        np.mean(r) / np.std(r, ddof=1) * math.sqrt(bars_per_year), rel=0.03
    )


def test_hourly_fx_trial_annualises_in_calendar_time(app, registry, tmp_path):
    spec = TrialSpec(
        model_id="ridge",
        symbol="EURUSD",
        horizon=24,
        window="rolling",
        window_size=1000,
        refit_every=500,
    )
    res = WalkForwardEngine(registry, app.data.fetch).run(spec)
    assert res.periods_per_year == pytest.approx(120 * 365.25 / 7)
    assert "24x5" in (res.frequency or "")
    _calendar_check(res, SRC.fetch("EURUSD").frame["close"])
    html, js = write_report(res, "t_eurusd", tmp_path)
    assert "bars/yr" in html.read_text() and "24x5" in html.read_text()
    assert json.loads(js.read_text())["periods_per_year"] == res.periods_per_year


def test_monthly_crypto_trial_annualises_in_calendar_time(app, registry):
    spec = TrialSpec(
        model_id="ridge",
        symbol="BTCUSD",
        horizon=1,
        feature_set="returns",
        window_size=30,
        refit_every=6,
    )
    res = WalkForwardEngine(registry, app.data.fetch).run(spec)
    assert res.periods_per_year == 12.0
    _calendar_check(res, SRC.fetch("BTCUSD").frame["close"])


def test_daily_stock_trial_records_252(app, registry):
    spec = TrialSpec(
        model_id="ridge", symbol="SPX", start="2009-01-01", end="2012-12-31", max_folds=3
    )
    res = WalkForwardEngine(registry, app.data.fetch).run(spec)
    assert res.periods_per_year == 252.0 and "exchange days" in (res.frequency or "")


# ------------------------------------------------------------------- financial models


def test_monthly_sharpe_matches_empyrical_monthly_annualisation():
    result = run_financial("sharpe_ratio_stats", fetch, symbol="BTCUSD")
    r = SRC.fetch("BTCUSD").frame["close"].pct_change().dropna()
    assert result["sharpe_ratio"] == pytest.approx(ep.sharpe_ratio(r, period="monthly"), rel=1e-10)
    assert result["sharpe_ratio"] == pytest.approx(0.86, abs=0.01)
    assert result["periods_per_year"] == 12.0 and result["bar_interval"] == "1mo"
    given = run_financial("sharpe_ratio_stats", fetch, symbol="BTCUSD", periods_per_year=252)
    assert given["periods_per_year_source"] == "given"
    assert given["sharpe_ratio"] == pytest.approx(result["sharpe_ratio"] * math.sqrt(21))


def test_hourly_sharpe_uses_the_fx_calendar():
    result = run_financial("sharpe_ratio_stats", fetch, symbol="EURUSD")
    r = SRC.fetch("EURUSD").frame["close"].pct_change().dropna()
    assert result["periods_per_year"] == pytest.approx(120 * 365.25 / 7)
    expected = ep.sharpe_ratio(r, annualization=120 * 365.25 / 7)
    assert result["sharpe_ratio"] == pytest.approx(expected, rel=1e-10)


@pytest.mark.parametrize("model_id", ["var_historical", "var_parametric", "var_cornish_fisher"])
def test_var_horizon_is_labelled_in_the_data_units(model_id):
    monthly = run_financial(model_id, fetch, symbol="BTCUSD")
    assert "horizon_days" not in monthly
    assert monthly["horizon_bars"] == 1 and monthly["bar_interval"] == "1mo"
    assert monthly["horizon"] == "1 month"
    daily = run_financial(model_id, fetch, symbol="SPX", horizon_days=5)  # the old name
    assert daily["horizon_bars"] == 5 and daily["horizon"] == "5 days"


def test_kelly_and_capm_annualise_with_the_data_frequency():
    kelly = run_financial("kelly_fraction", fetch, symbol="BTCUSD")
    r = SRC.fetch("BTCUSD").frame["close"].pct_change().dropna().to_numpy()
    assert kelly["volatility_annual"] == pytest.approx(r.std(ddof=1) * math.sqrt(12), rel=1e-10)
    capm = run_financial("capm", fetch, symbol="AAPL", start="2010-01-01", end="2018-12-31")
    assert capm["periods_per_year"] == 252.0
    assert capm["alpha_annual"] == pytest.approx(capm["alpha_per_period"] * 252, rel=1e-12)
