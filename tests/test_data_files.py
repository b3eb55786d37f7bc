"""The ``file`` source: importing a user's own CSV/Parquet export with a declared vendor.

Every file here is written by the test from real bundled GOOG rows (backtesting.test.GOOG);
the "bad file" cases damage those real rows in one specific way each.
"""

from __future__ import annotations

import hashlib
import warnings
from collections.abc import Callable
from pathlib import Path

import pandas as pd
import pytest

from mltrainer.app import App
from mltrainer.data import content_hash
from mltrainer.data.bundled import BundledSource
from mltrainer.data.market import normalise_frame
from mltrainer.errors import ComplianceError, DataError

VENDOR = "Yahoo Finance CSV export"


@pytest.fixture
def goog(app: App) -> pd.DataFrame:
    """150 real GOOG daily bars (2010), normalised frame with a ``timestamp`` index."""
    return app.data.fetch("GOOG", start="2010-01-01", end="2010-08-06").frame


def _vendor_csv(frame: pd.DataFrame, path: Path) -> Path:
    """Write like a typical vendor export: ``Date,Open,High,Low,Close,Volume``."""
    out = frame.rename(columns=str.title).rename_axis("Date")
    out.to_csv(path)
    return path


def _assert_nothing_stored(app: App, symbol: str) -> None:
    assert symbol not in app.data.files.symbols()
    assert not any(app.settings.imports_dir.glob(f"{symbol}*"))
    assert app.audit.tail(1000, kind="data.import") == []


def test_imported_csv_fetches_back_the_same_data(app: App, goog: pd.DataFrame, tmp_path: Path):
    path = _vendor_csv(goog, tmp_path / "goog.csv")
    app.data.import_file(path, "MYGOOG", vendor=VENDOR)
    md = app.data.fetch("MYGOOG", source="file")
    pd.testing.assert_frame_equal(md.frame, goog)
    assert md.kind == "ohlcv"
    assert md.interval == "1d"


def test_import_provenance_records_vendor_and_file_hash(
    app: App, goog: pd.DataFrame, tmp_path: Path
):
    path = _vendor_csv(goog, tmp_path / "goog.csv")
    imported = app.data.import_file(path, "MYGOOG", vendor=VENDOR)
    fetched = app.data.fetch("MYGOOG", source="file").provenance
    for p in (imported.provenance, fetched):
        assert p.source == "file"
        assert p.vendor == VENDOR
        assert p.file_sha256 == hashlib.sha256(path.read_bytes()).hexdigest()
        assert p.dataset == "goog.csv"
        assert p.sha256 == content_hash(goog)
        assert p.rows == len(goog)


def test_import_is_audited(app: App, goog: pd.DataFrame, tmp_path: Path):
    path = _vendor_csv(goog, tmp_path / "goog.csv")
    md = app.data.import_file(path, "MYGOOG", vendor=VENDOR, actor="tester")
    (rec,) = app.audit.tail(1, kind="data.import")
    assert rec.actor == "tester"
    assert rec.payload["vendor"] == VENDOR
    assert rec.payload["sha256"] == md.provenance.sha256


def test_imported_symbol_is_listed(app: App, goog: pd.DataFrame, tmp_path: Path):
    app.data.import_file(_vendor_csv(goog, tmp_path / "goog.csv"), "mygoog", vendor=VENDOR)
    assert app.data.files.symbols() == ["MYGOOG"]
    assert "MYGOOG" in app.data.local_symbols()
    entry = next(e for e in app.data.catalogue() if e.symbol == "MYGOOG")
    assert entry.source == "file"
    assert VENDOR in entry.description


def test_imported_data_can_be_sliced(app: App, goog: pd.DataFrame, tmp_path: Path):
    app.data.import_file(_vendor_csv(goog, tmp_path / "goog.csv"), "MYGOOG", vendor=VENDOR)
    md = app.data.fetch("MYGOOG", source="file", start="2010-03-01", end="2010-03-31")
    pd.testing.assert_frame_equal(md.frame, goog.loc["2010-03-01":"2010-03-31"])
    assert md.provenance.sha256 == content_hash(md.frame)


def test_parquet_import_works(app: App, goog: pd.DataFrame, tmp_path: Path):
    path = tmp_path / "goog.parquet"
    goog.rename_axis("date").to_parquet(path)
    app.data.import_file(path, "PQGOOG", vendor="Polygon flat file")
    md = app.data.fetch("PQGOOG", source="file")
    pd.testing.assert_frame_equal(md.frame, goog)
    assert md.provenance.file_sha256 == hashlib.sha256(path.read_bytes()).hexdigest()


def test_close_only_csv_imports_as_price(app: App, goog: pd.DataFrame, tmp_path: Path):
    path = tmp_path / "closes.csv"
    goog[["close"]].rename_axis("timestamp").to_csv(path)
    md = app.data.import_file(path, "GCLOSE", vendor=VENDOR)
    assert md.kind == "price"
    assert list(md.frame.columns) == ["close"]


def test_unsorted_rows_are_sorted_on_import(app: App, goog: pd.DataFrame, tmp_path: Path):
    path = _vendor_csv(goog.iloc[::-1], tmp_path / "newest_first.csv")
    md = app.data.import_file(path, "MYGOOG", vendor=VENDOR)
    pd.testing.assert_frame_equal(md.frame, goog)


@pytest.mark.parametrize("vendor", ["", "   "], ids=["empty", "blank"])
def test_import_without_vendor_is_refused(
    app: App, goog: pd.DataFrame, tmp_path: Path, vendor: str
):
    path = _vendor_csv(goog, tmp_path / "goog.csv")
    with pytest.raises(DataError, match="vendor"):
        app.data.import_file(path, "MYGOOG", vendor=vendor)
    _assert_nothing_stored(app, "MYGOOG")


def test_import_with_vendor_none_asks_for_the_vendor(app: App, goog: pd.DataFrame, tmp_path: Path):
    path = _vendor_csv(goog, tmp_path / "goog.csv")
    with pytest.raises(DataError, match="vendor"):
        app.data.import_file(path, "MYGOOG", vendor=None)  # type: ignore[arg-type]


def test_vendor_claiming_fake_data_is_refused(app: App, goog: pd.DataFrame, tmp_path: Path):
    path = _vendor_csv(goog, tmp_path / "goog.csv")
    with pytest.raises(ComplianceError):
        app.data.import_file(path, "MYGOOG", vendor="synthetic price data generator")
    _assert_nothing_stored(app, "MYGOOG")


def test_reimport_without_replace_is_refused(app: App, goog: pd.DataFrame, tmp_path: Path):
    path = _vendor_csv(goog, tmp_path / "goog.csv")
    app.data.import_file(path, "MYGOOG", vendor=VENDOR)
    with pytest.raises(DataError, match="replace"):
        app.data.import_file(path, "MYGOOG", vendor=VENDOR)


def test_reimport_with_replace_overwrites(app: App, goog: pd.DataFrame, tmp_path: Path):
    app.data.import_file(_vendor_csv(goog, tmp_path / "a.csv"), "MYGOOG", vendor=VENDOR)
    shorter = goog.iloc[:60]
    app.data.import_file(
        _vendor_csv(shorter, tmp_path / "b.csv"), "MYGOOG", vendor="Stooq", replace=True
    )
    md = app.data.fetch("MYGOOG", source="file")
    pd.testing.assert_frame_equal(md.frame, shorter)
    assert md.provenance.vendor == "Stooq"


def test_imported_file_changed_on_disk_is_refused(app: App, goog: pd.DataFrame, tmp_path: Path):
    app.data.import_file(_vendor_csv(goog, tmp_path / "goog.csv"), "MYGOOG", vendor=VENDOR)
    stored = app.settings.imports_dir / "MYGOOG.parquet"
    frame = pd.read_parquet(stored)
    frame.loc[frame.index[7], "close"] = frame["close"].iloc[8]
    frame.to_parquet(stored)
    with pytest.raises(DataError, match="changed on disk"):
        app.data.fetch("MYGOOG", source="file")


def test_fetching_a_symbol_never_imported_is_a_data_error(app: App):
    with pytest.raises(DataError, match="unknown symbol"):
        app.data.fetch("NEVERIMPORTED", source="file")


def test_invalid_symbol_is_refused(app: App, goog: pd.DataFrame, tmp_path: Path):
    with pytest.raises(DataError, match="not a valid symbol"):
        app.data.import_file(_vendor_csv(goog, tmp_path / "g.csv"), "../evil", vendor=VENDOR)


def test_missing_file_is_a_data_error(app: App, tmp_path: Path):
    with pytest.raises(DataError, match="no such file"):
        app.data.import_file(tmp_path / "absent.csv", "MYGOOG", vendor=VENDOR)


# -- one bad file per validation rule -------------------------------------------------------


def _duplicate_timestamp(goog: pd.DataFrame, d: Path) -> Path:
    return _vendor_csv(pd.concat([goog.iloc[:40], goog.iloc[[20]]]), d / "dups.csv")


def _non_positive_price(goog: pd.DataFrame, d: Path) -> Path:
    bad = goog.copy()
    bad.loc[bad.index[12], "close"] = 0.0
    return _vendor_csv(bad, d / "zero.csv")


def _negative_price(goog: pd.DataFrame, d: Path) -> Path:
    bad = goog.copy()
    bad.loc[bad.index[12], "low"] = -bad["low"].iloc[12]
    return _vendor_csv(bad, d / "negative.csv")


def _high_below_low(goog: pd.DataFrame, d: Path) -> Path:
    bad = goog.copy()
    i = bad.index[30]
    bad.loc[i, ["high", "low"]] = bad.loc[i, ["low", "high"]].to_numpy()  # swapped columns
    return _vendor_csv(bad, d / "swapped.csv")


def _all_empty_column(goog: pd.DataFrame, d: Path) -> Path:
    bad = goog.copy()
    bad["volume"] = float("nan")
    return _vendor_csv(bad, d / "no_volume.csv")


def _missing_close(goog: pd.DataFrame, d: Path) -> Path:
    bad = goog.copy()
    bad.loc[bad.index[5], "close"] = float("nan")
    return _vendor_csv(bad, d / "gap.csv")


def _garbage_bytes(goog: pd.DataFrame, d: Path) -> Path:
    path = d / "garbage.csv"
    path.write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x01\x00\xff\xfe\x00")
    return path


def _garbage_parquet(goog: pd.DataFrame, d: Path) -> Path:
    path = d / "garbage.parquet"
    path.write_text("Date,Open\n2010-01-04,313.16\n")  # CSV text under a parquet name
    return path


def _no_date_column(goog: pd.DataFrame, d: Path) -> Path:
    path = d / "no_dates.csv"
    goog.rename(columns=str.title).to_csv(path, index=False)
    return path


def _unparseable_dates(goog: pd.DataFrame, d: Path) -> Path:
    bad = goog.rename(columns=str.title).rename_axis("Date").reset_index()
    bad["Date"] = bad["Date"].astype(str)
    bad.loc[3, "Date"] = "not a date"
    path = d / "bad_dates.csv"
    bad.to_csv(path, index=False)
    return path


def _unknown_columns(goog: pd.DataFrame, d: Path) -> Path:
    path = d / "what.csv"
    goog[["volume"]].rename(columns={"volume": "shares"}).rename_axis("date").to_csv(path)
    return path


def _unsupported_type(goog: pd.DataFrame, d: Path) -> Path:
    path = d / "goog.xlsx"
    path.write_bytes(b"PK\x03\x04")
    return path


def _header_only(goog: pd.DataFrame, d: Path) -> Path:
    return _vendor_csv(goog.iloc[:0], d / "empty.csv")


BAD_FILES: dict[str, tuple[Callable[[pd.DataFrame, Path], Path], str]] = {
    "duplicate-timestamps": (_duplicate_timestamp, "duplicate timestamps"),
    "zero-price": (_non_positive_price, "non-positive 'close'"),
    "negative-price": (_negative_price, "non-positive 'low'"),
    "high-below-low": (_high_below_low, "high < low"),
    "all-empty-column": (_all_empty_column, "volume are entirely empty"),
    "missing-close": (_missing_close, "missing close"),
    "garbage-bytes": (_garbage_bytes, "garbage.csv could not be read"),
    "garbage-parquet": (_garbage_parquet, "could not be read"),
    "no-date-column": (_no_date_column, "no timestamp column"),
    "unparseable-dates": (_unparseable_dates, "timestamps could not be parsed"),
    "unknown-columns": (_unknown_columns, "cannot tell what the columns"),
    "unsupported-type": (_unsupported_type, "unsupported file type"),
    "header-only": (_header_only, "no rows"),
}


@pytest.mark.parametrize("case", list(BAD_FILES))
def test_bad_file_is_a_clear_data_error(app: App, goog: pd.DataFrame, tmp_path: Path, case: str):
    make, message = BAD_FILES[case]
    path = make(goog, tmp_path)
    with pytest.raises(DataError, match=message):
        app.data.import_file(path, "BADGOOG", vendor=VENDOR)


@pytest.mark.parametrize("case", list(BAD_FILES))
def test_failed_import_stores_nothing(app: App, goog: pd.DataFrame, tmp_path: Path, case: str):
    make, _ = BAD_FILES[case]
    with pytest.raises(DataError):
        app.data.import_file(make(goog, tmp_path), "BADGOOG", vendor=VENDOR)
    _assert_nothing_stored(app, "BADGOOG")
    with pytest.raises(DataError):
        app.data.fetch("BADGOOG", source="file")


def test_failed_replace_keeps_the_previous_import(app: App, goog: pd.DataFrame, tmp_path: Path):
    app.data.import_file(_vendor_csv(goog, tmp_path / "good.csv"), "MYGOOG", vendor=VENDOR)
    with pytest.raises(DataError):
        app.data.import_file(_high_below_low(goog, tmp_path), "MYGOOG", vendor=VENDOR, replace=True)
    pd.testing.assert_frame_equal(app.data.fetch("MYGOOG", source="file").frame, goog)


def test_yyyymmdd_integer_dates_are_not_read_as_nanoseconds(
    app: App, goog: pd.DataFrame, tmp_path: Path
):
    export = goog.rename_axis("date")
    export.index = export.index.strftime("%Y%m%d").astype(int)
    path = tmp_path / "yyyymmdd.csv"
    export.to_csv(path)
    try:
        md = app.data.import_file(path, "INTGOOG", vendor=VENDOR)
    except DataError:
        return  # refusing ambiguous numeric dates is also acceptable
    assert md.frame.index[0] == pd.Timestamp("2010-01-04")


def test_unparsable_dates_are_one_clear_error_without_a_pandas_warning() -> None:
    """pandas warned "Could not infer format ... falling back to dateutil" on stderr before
    the import's own error, so a user saw a library warning beside the message."""
    frame = BundledSource().fetch("SPX", start="2016-01-04", end="2016-01-08").frame
    frame.index = pd.Index(["notadate"] + [str(d.date()) for d in frame.index[1:]])
    with warnings.catch_warnings(record=True) as caught, pytest.raises(DataError, match="notadate"):
        warnings.simplefilter("always")
        normalise_frame(frame, "X")
    assert not [w for w in caught if "infer format" in str(w.message)]
