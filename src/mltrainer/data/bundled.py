"""The ``bundled`` source: real historical data shipped inside published packages.

Everything here works offline. Each symbol records the package, its version and the
dataset it came from. Where two packages hold the same symbol we prefer OHLCV over
close-only, then the longer history; :data:`ALTERNATIVES` says what was passed over.

| symbols | package / dataset | content |
|---|---|---|
| SPX, NASDAQ | ``arch.data.sp500`` / ``nasdaq`` | daily OHLCV 1999-2018 |
| VIX | ``arch.data.vix`` | daily close 2014-2019 |
| AAPL ... XOM (20) | ``skfolio.datasets.load_sp500_dataset`` | daily adjusted close 1990-2022 |
| GOOG | ``backtesting.test.GOOG`` | daily OHLCV 2004-2013 |
| EURUSD | ``backtesting.test.EURUSD`` | hourly OHLCV 2017-2018 |
| BTCUSD | ``backtesting.test.BTCUSD`` | monthly OHLCV 2012-2024 |
| CPILFESL, DCOILWTICO, AAA, BAA | ``arch.data`` (FRED copies) | economic series |
| FF3 | ``arch.data.frenchdata`` | Fama-French 3 factors, monthly, percent |
| US_REALGDP ... (statsmodels) | ``statsmodels.datasets.macrodata`` | US quarterly macro |
"""

from __future__ import annotations

import gzip
import io
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from importlib import resources
from importlib.metadata import version
from typing import TYPE_CHECKING

from ..errors import DataError

if TYPE_CHECKING:  # pandas loads with the first dataset: ``data list`` needs none of it
    import pandas as pd

    from .market import Kind, MarketData

__all__ = ["BundledSource", "BundledEntry", "BUNDLED", "ALTERNATIVES"]

SKFOLIO_STOCKS = (
    "AAPL AMD BAC BBY CVX GE HD JNJ JPM KO LLY MRK MSFT PEP PFE PG RRC UNH WMT XOM".split()
)
MACRO_COLUMNS = (
    "realgdp realcons realinv realgovt realdpi cpi m1 tbilrate unemp pop infl realint".split()
)


@dataclass(frozen=True)
class BundledEntry:
    symbol: str
    package: str
    dataset: str
    kind: Kind
    interval: str
    description: str
    loader: Callable[[], pd.DataFrame]


def _read_csv_resource(package: str, relpath: str, **kw) -> pd.DataFrame:
    """Read a gzip CSV shipped inside ``package`` (no network, no hub)."""
    import pandas as pd

    data = resources.files(package).joinpath(relpath).read_bytes()
    return pd.read_csv(io.BytesIO(gzip.decompress(data)), **kw)


@cache
def _arch(name: str) -> pd.DataFrame:
    import pandas as pd

    file = {"sp500": "sp500/sp500.csv.gz", "nasdaq": "nasdaq/nasdaq.csv.gz"}[name]
    df = _read_csv_resource("arch.data", file, index_col="Date")
    df.index = pd.to_datetime(df.index, format="%m/%d/%Y")
    # Index levels: Close equals Adj Close (no dividends in a price index), keep Close.
    return df[["Open", "High", "Low", "Close", "Volume"]]


@cache
def _arch_single(relpath: str, column: str, fmt: str) -> pd.DataFrame:
    import pandas as pd

    # FRED writes a missing observation as ".".
    df = _read_csv_resource("arch.data", relpath, index_col=0, na_values=["."])
    df.index = pd.to_datetime(df.index.astype(str), format=fmt)
    return df[[column]]


def _vix() -> pd.DataFrame:
    df = _arch_single("vix/vix.csv.gz", "vix", "%m/%d/%Y")
    # The file has empty rows on market holidays; they are not prices, so drop them.
    return df.rename(columns={"vix": "close"}).dropna()


def _fred_copy(relpath: str, column: str) -> Callable[[], pd.DataFrame]:
    def load() -> pd.DataFrame:
        df = _arch_single(relpath, column, "%m/%d/%Y")
        # FRED marks holidays as missing; an empty observation carries no value.
        return df.rename(columns={column: "value"}).dropna()

    return load


@cache
def _french() -> pd.DataFrame:
    """Fama-French monthly factors; dates are ``YYYYMM`` and are placed at month end.

    ``arch.data.frenchdata.load()`` lets pandas read ``192607`` as nanoseconds since 1970
    under pandas 3; we parse the raw file with an explicit format instead.
    """
    import pandas as pd

    df = _read_csv_resource("arch.data", "frenchdata/frenchdata.csv.gz", dtype={"Date": str})
    idx = pd.to_datetime(df.pop("Date"), format="%Y%m") + pd.offsets.MonthEnd(0)
    df.index = pd.DatetimeIndex(idx)
    df.columns = ["mkt_rf", "smb", "hml", "rf"]
    return df


@cache
def _skfolio_prices() -> pd.DataFrame:
    import pandas as pd

    df = _read_csv_resource("skfolio.datasets", "data/sp500_dataset.csv.gz", index_col="Date")
    df.index = pd.to_datetime(df.index, format="%Y-%m-%d")
    return df


def _skfolio_stock(symbol: str) -> Callable[[], pd.DataFrame]:
    def load() -> pd.DataFrame:
        return _skfolio_prices()[[symbol]].rename(columns={symbol: "close"}).dropna()

    return load


def _backtesting(name: str) -> Callable[[], pd.DataFrame]:
    def load() -> pd.DataFrame:
        import backtesting.test as bt

        return getattr(bt, name).copy()

    return load


@cache
def _macro() -> pd.DataFrame:
    import pandas as pd
    import statsmodels.api as sm

    d = sm.datasets.macrodata.load_pandas().data
    idx = pd.PeriodIndex.from_fields(
        year=d["year"].astype(int), quarter=d["quarter"].astype(int), freq="Q"
    ).to_timestamp(how="start")
    return d[list(MACRO_COLUMNS)].set_axis(idx)


def _macro_col(col: str) -> Callable[[], pd.DataFrame]:
    return lambda: _macro()[[col]].rename(columns={col: "value"})


def _entries() -> list[BundledEntry]:
    e = [
        BundledEntry(
            "SPX",
            "arch",
            "arch.data.sp500",
            "ohlcv",
            "1d",
            "S&P 500 index, daily OHLCV",
            lambda: _arch("sp500"),
        ),
        BundledEntry(
            "NASDAQ",
            "arch",
            "arch.data.nasdaq",
            "ohlcv",
            "1d",
            "NASDAQ Composite, daily OHLCV",
            lambda: _arch("nasdaq"),
        ),
        BundledEntry(
            "VIX", "arch", "arch.data.vix", "price", "1d", "CBOE VIX index, daily close", _vix
        ),
        BundledEntry(
            "GOOG",
            "backtesting",
            "backtesting.test.GOOG",
            "ohlcv",
            "1d",
            "Alphabet (Google), daily OHLCV",
            _backtesting("GOOG"),
        ),
        BundledEntry(
            "EURUSD",
            "backtesting",
            "backtesting.test.EURUSD",
            "ohlcv",
            "1h",
            "EUR/USD, hourly OHLCV",
            _backtesting("EURUSD"),
        ),
        BundledEntry(
            "BTCUSD",
            "backtesting",
            "backtesting.test.BTCUSD",
            "ohlcv",
            "1mo",
            "Bitcoin in USD, monthly OHLCV",
            _backtesting("BTCUSD"),
        ),
        BundledEntry(
            "CPILFESL",
            "arch",
            "arch.data.core_cpi",
            "economic",
            "1mo",
            "FRED CPILFESL: core CPI, index",
            _fred_copy("core_cpi/core-cpi.csv.gz", "CPILFESL"),
        ),
        BundledEntry(
            "DCOILWTICO",
            "arch",
            "arch.data.wti",
            "economic",
            "1d",
            "FRED DCOILWTICO: WTI crude, USD/bbl",
            _fred_copy("wti/wti.csv.gz", "DCOILWTICO"),
        ),
        BundledEntry(
            "AAA",
            "arch",
            "arch.data.default",
            "economic",
            "1mo",
            "FRED AAA: Moody's Aaa corporate yield, %",
            _fred_copy("default/default.csv.gz", "AAA"),
        ),
        BundledEntry(
            "BAA",
            "arch",
            "arch.data.default",
            "economic",
            "1mo",
            "FRED BAA: Moody's Baa corporate yield, %",
            _fred_copy("default/default.csv.gz", "BAA"),
        ),
        BundledEntry(
            "FF3",
            "arch",
            "arch.data.frenchdata",
            "factors",
            "1mo",
            "Fama-French factors mkt_rf, smb, hml, rf (monthly, %)",
            _french,
        ),
    ]
    e += [
        BundledEntry(
            s,
            "skfolio",
            "skfolio.datasets.sp500_dataset",
            "price",
            "1d",
            f"{s}, daily adjusted close",
            _skfolio_stock(s),
        )
        for s in SKFOLIO_STOCKS
    ]
    e += [
        BundledEntry(
            f"US_{c.upper()}",
            "statsmodels",
            "statsmodels.datasets.macrodata",
            "economic",
            "1q",
            f"US macro: {c} (quarterly)",
            _macro_col(c),
        )
        for c in MACRO_COLUMNS
    ]
    return e


BUNDLED: dict[str, BundledEntry] = {e.symbol: e for e in _entries()}
ALTERNATIVES: dict[str, str] = {
    "SPX": "skfolio.datasets.sp500_index holds S&P 500 closes 1990-2022 (close only); "
    "arch's OHLCV is preferred",
}


class BundledSource:
    """Serves :data:`BUNDLED`. ``fetch`` validates and stamps provenance."""

    id = "bundled"

    def symbols(self) -> list[str]:
        return list(BUNDLED)

    def entry(self, symbol: str) -> BundledEntry | None:
        return BUNDLED.get(symbol.upper())

    def fetch(self, symbol: str, start=None, end=None, interval: str | None = None) -> MarketData:
        from .market import (
            MarketData,
            make_provenance,
            normalise_frame,
            slice_frame,
            validate_frame,
        )

        entry = self.entry(symbol)
        if entry is None:
            raise DataError(f"'{symbol}' is not a bundled symbol")
        if interval and interval != entry.interval:
            raise DataError(
                f"{entry.symbol} is bundled at interval {entry.interval}, not {interval}; "
                f"ask for interval='{entry.interval}'"
            )
        try:
            raw = entry.loader()
        except (OSError, ValueError, KeyError) as e:
            raise DataError(f"could not load bundled {entry.dataset}: {e}") from e
        df = normalise_frame(raw, entry.symbol)
        validate_frame(df, entry.symbol, entry.kind)
        df = slice_frame(df, entry.symbol, start, end)
        prov = make_provenance(
            df,
            source=self.id,
            dataset=entry.dataset,
            symbol=entry.symbol,
            interval=entry.interval,
            package=entry.package,
            package_version=version(entry.package),
            note=ALTERNATIVES.get(entry.symbol),
        )
        return MarketData(
            symbol=entry.symbol, kind=entry.kind, interval=entry.interval, frame=df, provenance=prov
        )
