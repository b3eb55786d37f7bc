"""Features use data up to t only; labels are forward returns; macro data lag publication."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from mltrainer.data.bundled import BundledSource
from mltrainer.errors import TrialError
from mltrainer.features import FEATURE_SETS, MACRO_LAGS, build_features, make_labels

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


def test_macro_values_are_used_only_after_their_publication_lag():
    md = SRC.fetch("SPX", start="2010-01-01", end="2010-12-31")
    f = build_features(md, "macro", fetch=_fetch)
    cpi = SRC.fetch("CPILFESL").frame["value"]
    yoy = cpi.pct_change(12)
    day = pd.Timestamp("2010-06-14")
    known = yoy[yoy.index + MACRO_LAGS["CPILFESL"] <= day].iloc[-1]
    assert f.loc[day, "cpi_yoy"] == pytest.approx(known)
    # The May 2010 observation (dated 2010-05-01) is published 45 days later, on 06-15:
    # on 06-14 the feature still holds April's value.
    assert f.loc[day, "cpi_yoy"] == pytest.approx(yoy.loc["2010-04-01"])
    assert not np.isclose(yoy.loc["2010-04-01"], yoy.loc["2010-05-01"])
    assert f.loc[pd.Timestamp("2010-06-15"), "cpi_yoy"] == pytest.approx(yoy.loc["2010-05-01"])


def test_unknown_feature_set_is_rejected():
    with pytest.raises(TrialError, match="unknown feature set"):
        build_features(SRC.fetch("SPX", end="2000-12-31"), "everything")
