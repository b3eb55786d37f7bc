"""Features use data up to t only; labels are forward returns; macro data lag publication."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from pandas.tseries.holiday import USFederalHolidayCalendar

from mltrainer.data.bundled import BundledSource
from mltrainer.errors import TrialError
from mltrainer.features import FEATURE_SETS, build_features, make_labels

SRC = BundledSource()


def _fetch(symbol):
    return SRC.fetch(symbol)


@pytest.mark.parametrize("feature_set", FEATURE_SETS)
def test_features_at_t_do_not_change_when_the_future_is_removed(feature_set):
    md = SRC.fetch("SPX", start="2010-01-01", end="2012-12-31")
    full = build_features(md, feature_set, fetch=_fetch)
    cut = md.model_copy(update={"frame": md.frame.iloc[:400]})
    part = build_features(cut, feature_set, fetch=_fetch)
    pd.testing.assert_frame_equal(full.iloc[:400], part)


def test_basic_features_include_atr_and_volume_only_when_the_source_has_them():
    assert {"atr_14", "volume_ratio_20"} <= set(
        build_features(SRC.fetch("SPX", end="2001-12-31")).columns
    )
    aapl = build_features(SRC.fetch("AAPL", end="1992-12-31"))
    assert "atr_14" not in aapl and "volume_ratio_20" not in aapl


def test_return_feature_by_hand():
    md = SRC.fetch("GOOG", end="2004-12-31")
    f = build_features(md, "returns")
    c = md.frame["close"]
    assert f["ret_5"].iloc[10] == pytest.approx(c.iloc[10] / c.iloc[5] - 1)


def test_labels_are_forward_returns_and_unknown_at_the_end():
    close = pd.Series([100.0, 110.0, 99.0, 121.0], index=pd.date_range("2020-01-01", periods=4))
    lab = make_labels(close, 2)
    assert lab.iloc[0] == pytest.approx(99 / 100 - 1) and lab.iloc[1] == pytest.approx(
        121 / 110 - 1
    )
    assert lab.iloc[2:].isna().all()


# Calendar oracle: pandas' own business-day offsets on the US federal holiday calendar.
FED_BDAY = pd.offsets.CustomBusinessDay(calendar=USFederalHolidayCalendar())
FED_BMONTH_END = pd.offsets.CustomBusinessMonthEnd(calendar=USFederalHolidayCalendar())


def _oracle_publication(symbol: str, obs: pd.Timestamp) -> pd.Timestamp:
    if symbol == "CPILFESL":  # the last business day of the following month
        return obs + 2 * FED_BMONTH_END
    if symbol in ("BAA", "AAA"):  # the first business day of the following month
        return FED_BDAY.rollforward(obs + pd.offsets.MonthBegin(1))
    return obs + FED_BDAY  # DCOILWTICO: the next business day


def _series(symbol: str) -> pd.Series:
    if symbol == "CPILFESL":
        return SRC.fetch("CPILFESL").frame["value"].pct_change(12)
    if symbol == "BAA":
        return (SRC.fetch("BAA").frame["value"] - SRC.fetch("AAA").frame["value"]).dropna()
    return SRC.fetch("DCOILWTICO").frame["value"].pct_change(20)


FEATURE_OF = {"CPILFESL": "cpi_yoy", "BAA": "credit_spread", "DCOILWTICO": "wti_ret_20"}


@pytest.fixture(scope="module")
def macro_features() -> pd.DataFrame:
    md = SRC.fetch("SPX", start="2009-06-01", end="2011-06-30")
    return build_features(md, "macro", fetch=_fetch)


@pytest.mark.parametrize(
    ("symbol", "obs", "publication"),
    [
        ("CPILFESL", "2010-05-01", "2010-06-30"),  # BLS released it on 2010-06-17
        ("CPILFESL", "2010-08-01", "2010-09-30"),
        ("BAA", "2010-05-01", "2010-06-01"),
        ("BAA", "2010-12-01", "2011-01-03"),  # 2010-12-31 was New Year's Day observed
        ("DCOILWTICO", "2010-07-01", "2010-07-02"),
        ("DCOILWTICO", "2010-07-02", "2010-07-06"),  # 2010-07-05: Independence Day observed
    ],
)
def test_macro_value_is_absent_on_its_publication_day_and_present_the_next_business_day(
    macro_features, symbol, obs, publication
):
    obs_ts, pub = pd.Timestamp(obs), pd.Timestamp(publication)
    assert _oracle_publication(symbol, obs_ts) == pub
    nxt = pub + FED_BDAY
    assert {pub, nxt} <= set(macro_features.index)  # both are trading days
    values = _series(symbol)
    before = values[values.index < obs_ts].iloc[-1]
    assert not np.isclose(before, values[obs_ts])
    feature = macro_features[FEATURE_OF[symbol]]
    assert feature[pub] == pytest.approx(before)
    assert feature[nxt] == pytest.approx(values[obs_ts])


@pytest.mark.parametrize("symbol", sorted(FEATURE_OF))
def test_every_macro_bar_holds_the_latest_value_published_before_that_day(macro_features, symbol):
    values = _series(symbol).loc["2008-01-01":"2011-06-30"].dropna()
    usable = pd.DatetimeIndex([_oracle_publication(symbol, t) + FED_BDAY for t in values.index])
    feature = macro_features[FEATURE_OF[symbol]].dropna()
    pos = usable.searchsorted(feature.index, side="right") - 1
    expected = values.to_numpy()[pos]
    np.testing.assert_allclose(feature.to_numpy(), expected, rtol=0, atol=0)


def test_intraday_bars_get_a_macro_value_only_from_the_next_business_day():
    md = SRC.fetch("EURUSD", start="2017-06-28", end="2017-07-06")
    f = build_features(md, "macro", fetch=_fetch)
    cpi = _series("CPILFESL")
    # May 2017 core CPI: published by 2017-06-30 (a Friday), usable from Monday 2017-07-03.
    on_pub = f.loc["2017-06-30", "cpi_yoy"]
    assert len(on_pub) > 5 and (on_pub == cpi["2017-04-01"]).all()
    assert (f.loc["2017-07-03", "cpi_yoy"] == cpi["2017-05-01"]).all()


def test_unknown_feature_set_is_rejected():
    with pytest.raises(TrialError, match="unknown feature set"):
        build_features(SRC.fetch("SPX", end="2000-12-31"), "everything")
