"""The ``bundled`` source: real data shipped in packages, provenance, slicing and cache."""

from __future__ import annotations

import importlib
import json
from importlib.metadata import version
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from mltrainer.app import App
from mltrainer.data import content_hash
from mltrainer.data.bundled import BUNDLED, BundledSource
from mltrainer.errors import DataError

SYMBOLS = sorted(BUNDLED)
EXPECTED_COLUMNS = {
    "ohlcv": ["open", "high", "low", "close", "volume"],
    "price": ["close"],
    "economic": ["value"],
    "factors": ["mkt_rf", "smb", "hml", "rf"],
}


@pytest.fixture(scope="module")
def source() -> BundledSource:
    return BundledSource()


@pytest.mark.parametrize("symbol", SYMBOLS)
def test_bundled_symbol_has_sorted_unique_timestamp_index(source: BundledSource, symbol: str):
    idx = source.fetch(symbol).frame.index
    assert isinstance(idx, pd.DatetimeIndex)
    assert idx.name == "timestamp"
    assert idx.tz is None
    assert idx.is_monotonic_increasing
    assert idx.is_unique
    assert len(idx) > 20


@pytest.mark.parametrize("symbol", SYMBOLS)
def test_bundled_symbol_has_expected_float_columns(source: BundledSource, symbol: str):
    md = source.fetch(symbol)
    assert list(md.frame.columns) == EXPECTED_COLUMNS[md.kind]
    assert all(dt == np.float64 for dt in md.frame.dtypes)


@pytest.mark.parametrize("symbol", [s for s in SYMBOLS if BUNDLED[s].kind in ("ohlcv", "price")])
def test_bundled_prices_are_positive_and_complete(source: BundledSource, symbol: str):
    frame = source.fetch(symbol).frame
    prices = frame[[c for c in ("open", "high", "low", "close") if c in frame]]
    assert prices.notna().all().all()
    assert (prices > 0).all().all()
    if "high" in frame:
        assert (frame["high"] >= frame["low"]).all()


@pytest.mark.parametrize("symbol", SYMBOLS)
def test_bundled_provenance_hash_matches_content(source: BundledSource, symbol: str):
    md = source.fetch(symbol)
    p = md.provenance
    assert p.source == "bundled"
    assert p.symbol == symbol
    assert p.sha256 == content_hash(md.frame)
    assert p.rows == len(md.frame)
    assert p.first == md.frame.index[0].isoformat()
    assert p.last == md.frame.index[-1].isoformat()


@pytest.mark.parametrize("symbol", SYMBOLS)
def test_bundled_provenance_records_package_and_version(source: BundledSource, symbol: str):
    entry = BUNDLED[symbol]
    p = source.fetch(symbol).provenance
    assert p.package == entry.package
    assert p.package_version == version(entry.package)
    assert p.dataset == entry.dataset


def _package_file(package: str, *parts: str) -> Path:
    """A data file inside an installed package, found from the package's own location."""
    return Path(importlib.import_module(package).__file__).parent.joinpath(*parts)


def test_nasdaq_provenance_hash_is_the_hash_of_archs_own_file(source: BundledSource):
    raw = pd.read_csv(_package_file("arch.data", "nasdaq", "nasdaq.csv.gz"))
    frame = raw[["Open", "High", "Low", "Close", "Volume"]].astype("float64")
    frame.columns = ["open", "high", "low", "close", "volume"]
    frame.index = pd.DatetimeIndex(pd.to_datetime(raw["Date"], format="%m/%d/%Y"))
    frame = frame.sort_index()
    assert len(frame) == 5031
    assert source.fetch("NASDAQ").provenance.sha256 == content_hash(frame)


def test_aapl_provenance_hash_is_the_hash_of_skfolios_own_file(source: BundledSource):
    raw = pd.read_csv(_package_file("skfolio.datasets", "data", "sp500_dataset.csv.gz"))
    close = raw.set_index(pd.DatetimeIndex(pd.to_datetime(raw["Date"], format="%Y-%m-%d")))
    frame = close[["AAPL"]].rename(columns={"AAPL": "close"}).astype("float64").dropna()
    assert frame.index[0] == pd.Timestamp("1990-01-02")
    assert source.fetch("AAPL").provenance.sha256 == content_hash(frame)


def test_spx_close_on_first_day(source: BundledSource):
    frame = source.fetch("SPX").frame
    assert frame.index[0] == pd.Timestamp("1999-01-04")
    assert frame.loc["1999-01-04", "close"] == 1228.099976
    assert frame.loc["1999-01-04", "open"] == 1229.22998


def test_ff3_first_row_is_july_1926_not_1970(source: BundledSource):
    frame = source.fetch("FF3").frame
    assert frame.index[0] == pd.Timestamp("1926-07-31")
    assert frame.iloc[0]["mkt_rf"] == 2.96
    assert frame.iloc[0]["rf"] == 0.22
    assert frame.index.min().year == 1926  # not read as nanoseconds since 1970


def test_ff3_dates_are_month_ends(source: BundledSource):
    idx = source.fetch("FF3").frame.index
    assert idx.is_month_end.all()


def test_vix_has_no_missing_values(source: BundledSource):
    frame = source.fetch("VIX").frame
    assert frame["close"].notna().all()
    assert pd.Timestamp("2014-01-20") not in frame.index  # MLK day: empty row in the file


def test_wti_holidays_are_dropped_not_filled(source: BundledSource):
    frame = source.fetch("DCOILWTICO").frame
    assert frame["value"].notna().all()
    assert pd.Timestamp("1986-02-17") not in frame.index  # "." in FRED's file
    assert frame.loc["1986-01-02", "value"] == 25.56


def test_goog_starts_at_ipo(source: BundledSource):
    frame = source.fetch("GOOG").frame
    assert frame.index[0] == pd.Timestamp("2004-08-19")
    assert frame.iloc[0]["close"] == 100.34


def test_core_cpi_first_observation(source: BundledSource):
    frame = source.fetch("CPILFESL").frame
    assert frame.index[0] == pd.Timestamp("1957-01-01")
    assert frame.iloc[0]["value"] == 28.5


def test_aapl_first_close(source: BundledSource):
    frame = source.fetch("AAPL").frame
    assert frame.index[0] == pd.Timestamp("1990-01-02")
    assert frame.iloc[0]["close"] == 0.264


def test_eurusd_is_hourly(source: BundledSource):
    md = source.fetch("EURUSD")
    assert md.interval == "1h"
    assert md.frame.index.to_series().diff().min() >= pd.Timedelta(hours=1)


def test_macro_series_are_quarter_starts(source: BundledSource):
    idx = source.fetch("US_REALGDP").frame.index
    assert idx[0] == pd.Timestamp("1959-01-01")
    assert idx.is_quarter_start.all()


def test_slice_is_inclusive_at_both_ends(source: BundledSource):
    frame = source.fetch("GOOG", start="2005-01-03", end="2005-01-31").frame
    assert frame.index[0] == pd.Timestamp("2005-01-03")
    assert frame.index[-1] == pd.Timestamp("2005-01-31")
    full = source.fetch("GOOG").frame
    assert len(frame) == int(((full.index >= "2005-01-03") & (full.index <= "2005-01-31")).sum())


def test_slice_provenance_hashes_the_slice(source: BundledSource):
    md = source.fetch("GOOG", start="2005-01-03", end="2005-01-31")
    assert md.provenance.sha256 == content_hash(md.frame)
    assert md.provenance.sha256 != source.fetch("GOOG").provenance.sha256


def test_empty_range_names_the_available_span(app: App):
    with pytest.raises(DataError, match="2004-08-19 to 2013-03-01"):
        app.data.fetch("GOOG", start="1995-01-01", end="1995-12-31")


def test_start_after_end_is_a_data_error(app: App):
    with pytest.raises(DataError, match="after"):
        app.data.fetch("GOOG", start="2010-01-01", end="2009-01-01")


def test_unreadable_date_is_a_data_error(app: App):
    with pytest.raises(DataError, match="YYYY-MM-DD"):
        app.data.fetch("GOOG", start="not-a-date")


def test_wrong_interval_is_a_data_error(app: App):
    with pytest.raises(DataError, match="1d"):
        app.data.fetch("GOOG", interval="1h")


def test_unknown_symbol_suggests_the_close_match(app: App):
    with pytest.raises(DataError, match="AAPL"):
        app.data.fetch("APPL")


def test_unknown_symbol_without_close_match_points_to_the_list(app: App):
    with pytest.raises(DataError, match="data list"):
        app.data.fetch("QQQQQQQ")


@pytest.mark.parametrize(
    ("alias", "symbol"),
    [("^GSPC", "SPX"), ("sp500", "SPX"), ("^VIX", "VIX"), ("WTI", "DCOILWTICO"), ("spx", "SPX")],
)
def test_alias_resolves_to_the_bundled_symbol(app: App, alias: str, symbol: str):
    md = app.data.fetch(alias)
    assert md.symbol == symbol
    assert md.provenance.symbol == symbol


def test_fetch_writes_a_data_fetch_audit_record(app: App):
    md = app.data.fetch("GOOG", start="2010-01-01", end="2010-06-30", actor="tester")
    (rec,) = app.audit.tail(1, kind="data.fetch")
    assert rec.actor == "tester"
    assert rec.payload["symbol"] == "GOOG"
    assert rec.payload["source"] == "bundled"
    assert rec.payload["sha256"] == md.provenance.sha256
    assert rec.payload["rows"] == len(md.frame)
    assert rec.payload["cache_hit"] is False


def test_cache_hit_returns_the_same_data_and_provenance(app: App):
    first = app.data.fetch("GOOG", start="2010-01-01", end="2010-06-30")
    second = app.data.fetch("GOOG", start="2010-01-01", end="2010-06-30")
    (rec,) = app.audit.tail(1, kind="data.fetch")
    assert rec.payload["cache_hit"] is True
    assert second.provenance == first.provenance
    pd.testing.assert_frame_equal(second.frame, first.frame)


def test_tampered_cache_file_is_dropped_and_refetched(app: App):
    first = app.data.fetch("GOOG", start="2010-01-01", end="2010-06-30")
    (parquet,) = (app.settings.cache_dir / "bundled").glob("GOOG_*.parquet")
    cached = pd.read_parquet(parquet)
    cached.loc[cached.index[5], "close"] = cached["close"].iloc[6]
    cached.to_parquet(parquet)

    again = app.data.fetch("GOOG", start="2010-01-01", end="2010-06-30")
    (rec,) = app.audit.tail(1, kind="data.fetch")
    assert rec.payload["cache_hit"] is False
    assert again.provenance.sha256 == first.provenance.sha256
    pd.testing.assert_frame_equal(again.frame, first.frame)
    # The refetch rewrote a clean entry.
    assert content_hash(pd.read_parquet(parquet)) == first.provenance.sha256


def test_tampered_cache_provenance_is_dropped(app: App):
    first = app.data.fetch("GOOG", start="2010-01-01", end="2010-06-30")
    (meta,) = (app.settings.cache_dir / "bundled").glob("GOOG_*.json")
    info = json.loads(meta.read_text())
    info["provenance"]["sha256"] = "0" * 64
    meta.write_text(json.dumps(info))
    again = app.data.fetch("GOOG", start="2010-01-01", end="2010-06-30")
    assert app.audit.tail(1, kind="data.fetch")[0].payload["cache_hit"] is False
    assert again.provenance.sha256 == first.provenance.sha256


def test_unreadable_cache_file_is_dropped(app: App):
    first = app.data.fetch("GOOG", start="2010-01-01", end="2010-06-30")
    (parquet,) = (app.settings.cache_dir / "bundled").glob("GOOG_*.parquet")
    parquet.write_bytes(b"PAR1 this is not a parquet file")
    again = app.data.fetch("GOOG", start="2010-01-01", end="2010-06-30")
    assert again.provenance.sha256 == first.provenance.sha256


def test_use_cache_false_writes_no_cache(app: App):
    app.data.fetch("GOOG", start="2010-01-01", end="2010-06-30", use_cache=False)
    assert not list(app.settings.cache_dir.rglob("*.parquet"))


def test_content_hash_is_independent_of_index_resolution(source: BundledSource):
    frame = source.fetch("GOOG", start="2010-01-01", end="2010-12-31").frame
    as_seconds = frame.set_axis(frame.index.as_unit("s"))
    as_micros = frame.set_axis(frame.index.as_unit("us"))
    assert content_hash(as_seconds) == content_hash(frame) == content_hash(as_micros)


def test_content_hash_changes_when_one_price_changes(source: BundledSource):
    frame = source.fetch("GOOG", start="2010-01-01", end="2010-12-31").frame
    edited = frame.copy()
    edited.loc[edited.index[3], "close"] = edited["close"].iloc[4]
    assert content_hash(edited) != content_hash(frame)


def test_content_hash_changes_when_a_column_is_renamed(source: BundledSource):
    frame = source.fetch("GOOG", start="2010-01-01", end="2010-12-31").frame
    assert content_hash(frame.rename(columns={"close": "adj_close"})) != content_hash(frame)


def test_catalogue_lists_every_bundled_symbol(app: App):
    entries = {e.symbol: e for e in app.data.catalogue()}
    assert set(BUNDLED) <= set(entries)
    assert entries["SPX"].first == "1999-01-04"
    assert entries["GOOG"].source == "bundled"
