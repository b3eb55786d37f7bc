"""Market data containers, content hashing and validation.

:class:`MarketData` is what every source returns: a normalised frame plus a
:class:`Provenance` record saying where it came from and the SHA-256 of its content.

Normalised frame: a sorted, unique, timezone-naive ``DatetimeIndex`` named ``timestamp``;
float columns ``open high low close volume`` for price series (``close`` at least),
``value`` for economic series, or named factor columns.
"""

from __future__ import annotations

import hashlib
import warnings
from datetime import UTC, date, datetime
from typing import Any, Protocol

import numpy as np
import pandas as pd
from pydantic import BaseModel

from ..errors import DataError
from .provenance import Kind, Provenance

__all__ = [
    "DataSource",
    "MarketData",
    "Provenance",
    "Kind",
    "content_hash",
    "normalise_frame",
    "validate_frame",
    "slice_frame",
    "PRICE_COLUMNS",
]

PRICE_COLUMNS = ("open", "high", "low", "close", "volume")


class MarketData(BaseModel):
    """A validated frame with its provenance."""

    model_config = {"arbitrary_types_allowed": True}

    symbol: str
    kind: Kind
    interval: str
    frame: pd.DataFrame
    provenance: Provenance

    @property
    def close(self) -> pd.Series:
        col = "close" if "close" in self.frame else "value"
        if col not in self.frame:
            raise DataError(f"{self.symbol} has no price or value column")
        return self.frame[col]

    def summary(self) -> dict[str, Any]:
        """Rows, span, last value, mean and volatility of bar returns, SHA-256: what the
        ``data_summary`` action and the API's symbol summary report."""
        close = self.close
        r = close.pct_change().dropna()
        p = self.provenance
        return {
            "symbol": self.symbol,
            "kind": self.kind,
            "rows": p.rows,
            "first": p.first,
            "last": p.last,
            "last_close": float(close.iloc[-1]) if len(close) else None,
            "mean_return": float(r.mean()) if len(r) else None,
            "volatility": float(r.std()) if len(r) > 1 else None,
            "sha256": p.sha256,
        }


class DataSource(Protocol):
    """What every source implements (``bundled``, ``polygon``, ``fred``, ``file``).

    ``fetch`` returns validated, normalised data with provenance, or raises
    :class:`~mltrainer.errors.DataError` saying what was wrong.
    """

    id: str

    def fetch(
        self, symbol: str, start=None, end=None, interval: str | None = None
    ) -> MarketData: ...


def content_hash(frame: pd.DataFrame) -> str:
    """SHA-256 of a frame's canonical bytes.

    Canonical bytes: the column names joined by commas, the index as int64 nanoseconds
    and each column as little-endian float64, all in order. Independent of pandas' string
    formatting and of the index's stored resolution, so the same data always hash alike.
    """
    h = hashlib.sha256()
    h.update(("cols:" + ",".join(map(str, frame.columns))).encode())
    idx = pd.DatetimeIndex(frame.index).as_unit("ns")
    h.update(np.ascontiguousarray(idx.asi8, dtype="<i8").tobytes())
    for col in frame.columns:
        arr = pd.to_numeric(frame[col], errors="coerce").to_numpy(dtype="<f8", na_value=np.nan)
        h.update(np.ascontiguousarray(arr).tobytes())
    return h.hexdigest()


def normalise_frame(frame: pd.DataFrame, symbol: str) -> pd.DataFrame:
    """Lower-case columns, a sorted tz-naive ns DatetimeIndex named ``timestamp``, floats.

    An unsorted index is sorted (with the rows kept); duplicate timestamps are an error,
    since silently dropping one of two prices would change the data.
    """
    df = frame.copy()
    df.columns = [str(c).strip().lower().replace(" ", "_") for c in df.columns]
    if pd.api.types.is_numeric_dtype(df.index):
        # pandas would read 20100104 as nanoseconds after 1970; accept only YYYYMMDD.
        digits = pd.Index(df.index).astype("int64").astype(str)
        if len(digits) and (digits.str.len() == 8).all():
            df.index = pd.to_datetime(digits, format="%Y%m%d", errors="coerce")
            if df.index.isna().any():
                raise DataError(f"{symbol}: some YYYYMMDD dates are not valid dates")
        else:
            raise DataError(
                f"{symbol}: numeric timestamps are ambiguous; write dates as YYYY-MM-DD"
            )
    try:
        with warnings.catch_warnings():
            # "Could not infer format, falling back to dateutil": advice for pandas users;
            # mixed formats are parsed element by element, which is what an import wants,
            # and a value that still fails is the error below.
            warnings.filterwarnings(
                "ignore", message="Could not infer format", category=UserWarning
            )
            idx = pd.DatetimeIndex(pd.to_datetime(df.index))
    except (ValueError, TypeError) as e:
        raise DataError(f"{symbol}: timestamps could not be parsed ({e})") from e
    if idx.tz is not None:
        idx = idx.tz_convert("UTC").tz_localize(None)
    df.index = idx.as_unit("ns").rename("timestamp")
    if not df.index.is_monotonic_increasing:
        df = df.sort_index(kind="mergesort")
    if df.index.has_duplicates:
        dups = df.index[df.index.duplicated()].unique()[:3]
        raise DataError(
            f"{symbol}: duplicate timestamps ({', '.join(map(str, dups))}); "
            "remove the duplicate rows and try again"
        )
    for c in df.columns:
        df[c] = pd.to_numeric(df[c], errors="coerce").astype("float64")
    return df


def validate_frame(df: pd.DataFrame, symbol: str, kind: Kind) -> None:
    """Raise :class:`DataError` naming the first problem; return None when the data are sane."""
    if df.empty:
        raise DataError(f"{symbol}: no rows")
    if not isinstance(df.index, pd.DatetimeIndex):
        raise DataError(f"{symbol}: index must be timestamps")
    if not df.index.is_monotonic_increasing or df.index.has_duplicates:
        raise DataError(f"{symbol}: timestamps must be strictly increasing")
    all_nan = [c for c in df.columns if df[c].isna().all()]
    if all_nan:
        raise DataError(f"{symbol}: column(s) {', '.join(all_nan)} are entirely empty; drop them")
    if kind in ("ohlcv", "price"):
        if "close" not in df:
            raise DataError(
                f"{symbol}: price data needs a 'close' column (found {list(df.columns)})"
            )
        for c in ("open", "high", "low", "close"):
            if c in df:
                bad = df[c].dropna() <= 0
                if bad.any():
                    raise DataError(
                        f"{symbol}: {int(bad.sum())} non-positive '{c}' prices "
                        f"(first at {bad[bad].index[0]}); prices must be > 0"
                    )
        nan_close = int(df["close"].isna().sum())
        if nan_close:
            first = df.index[df["close"].isna()][0]
            raise DataError(
                f"{symbol}: {nan_close} missing close prices (first at {first}); drop or fill them"
            )
        if "high" in df and "low" in df:
            bad = (df["high"] < df["low"]).fillna(False)
            if bad.any():
                raise DataError(
                    f"{symbol}: high < low on {int(bad.sum())} rows (first at {bad[bad].index[0]})"
                )
        if "volume" in df and (df["volume"].dropna() < 0).any():
            raise DataError(f"{symbol}: negative volume")


def _to_ts(x: str | date | datetime | pd.Timestamp | None) -> pd.Timestamp | None:
    if x is None or x == "":
        return None
    try:
        ts = pd.Timestamp(x)
    except (ValueError, TypeError) as e:
        raise DataError(f"cannot read date '{x}'; use YYYY-MM-DD") from e
    ts = ts.tz_convert("UTC").tz_localize(None) if ts.tzinfo else ts
    # series are indexed in nanoseconds; a date outside that range cannot slice them
    if not pd.Timestamp("1678-01-01") <= ts <= pd.Timestamp("2261-12-31"):
        raise DataError(f"date '{x}' is outside the range 1678-01-01 to 2261-12-31")
    return ts


def slice_frame(
    df: pd.DataFrame,
    symbol: str,
    start: str | date | datetime | None,
    end: str | date | datetime | None,
) -> pd.DataFrame:
    """Rows with ``start <= t <= end`` (both inclusive, whole days for date-only ends)."""
    s, e = _to_ts(start), _to_ts(end)
    if s is not None and e is not None and s > e:
        raise DataError(f"{symbol}: start {s.date()} is after end {e.date()}")
    if e is not None and e == e.normalize():
        e = e + pd.Timedelta(days=1) - pd.Timedelta(1, "ns")
    out = df.loc[s:e] if (s is not None or e is not None) else df
    if out.empty:
        raise DataError(
            f"{symbol}: no rows between {start or 'the beginning'} and {end or 'the end'}; "
            f"data cover {df.index[0].date()} to {df.index[-1].date()}"
        )
    return out


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def make_provenance(
    df: pd.DataFrame, *, source: str, dataset: str, symbol: str, interval: str, **extra
) -> Provenance:
    return Provenance(
        source=source,
        dataset=dataset,
        symbol=symbol,
        interval=interval,
        fetched_at=extra.pop("fetched_at", None) or now_iso(),
        sha256=content_hash(df),
        rows=len(df),
        first=df.index[0].isoformat() if len(df) else "",
        last=df.index[-1].isoformat() if len(df) else "",
        **extra,
    )
