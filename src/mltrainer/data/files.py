"""The ``file`` source: a user's own CSV/Parquet export, with a declared vendor.

``import_file`` reads, normalises and validates the export (monotonic unique timestamps,
positive prices, high >= low, no all-empty columns), then stores it as Parquet under
``<home>/imports`` with a provenance record that holds the vendor, the original file name,
the SHA-256 of the original bytes and the SHA-256 of the normalised content.
"""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path

import pandas as pd

from ..errors import DataError
from .market import (
    Kind,
    MarketData,
    Provenance,
    make_provenance,
    normalise_frame,
    slice_frame,
    validate_frame,
)

__all__ = ["FileSource"]

_DATE_NAMES = ("timestamp", "date", "datetime", "time", "dt")
_SYMBOL_RX = re.compile(r"^[A-Z0-9][A-Z0-9._\-]{0,19}$")


def _read_any(path: Path) -> pd.DataFrame:
    suffix = path.suffix.lower()
    try:
        if suffix in (".parquet", ".pq"):
            df = pd.read_parquet(path)
        elif suffix in (".csv", ".txt", ".gz"):
            df = pd.read_csv(path)
        else:
            raise DataError(f"{path.name}: unsupported file type '{suffix}'; use .csv or .parquet")
    except DataError:
        raise
    except Exception as e:
        raise DataError(f"{path.name} could not be read: {e}") from e
    if isinstance(df.index, pd.DatetimeIndex):
        return df
    cols = {str(c).strip().lower(): c for c in df.columns}
    for name in _DATE_NAMES:
        if name in cols:
            return df.set_index(cols[name])
    raise DataError(
        f"{path.name}: no timestamp column; name one of {', '.join(_DATE_NAMES)} "
        f"(found {', '.join(map(str, df.columns))})"
    )


def _infer_kind(df: pd.DataFrame) -> Kind:
    cols = set(df.columns)
    if {"open", "high", "low", "close"} <= cols:
        return "ohlcv"
    if "close" in cols:
        return "price"
    if cols == {"value"}:
        return "economic"
    raise DataError(
        f"cannot tell what the columns {sorted(cols)} hold; provide open/high/low/close[/volume], "
        "close, or a single value column"
    )


class FileSource:
    id = "file"

    def __init__(self, root: Path):
        self.root = Path(root)

    def _paths(self, symbol: str) -> tuple[Path, Path]:
        return self.root / f"{symbol}.parquet", self.root / f"{symbol}.provenance.json"

    def symbols(self) -> list[str]:
        if not self.root.exists():
            return []
        return sorted(
            p.name.removesuffix(".provenance.json") for p in self.root.glob("*.provenance.json")
        )

    def provenance(self, symbol: str) -> Provenance | None:
        _, meta = self._paths(symbol.upper())
        if not meta.exists():
            return None
        return Provenance.model_validate_json(meta.read_text())

    def import_file(
        self, path: str | Path, symbol: str, vendor: str, replace: bool = False
    ) -> MarketData:
        path = Path(path)
        symbol = (symbol or "").strip().upper()
        if not _SYMBOL_RX.match(symbol):
            raise DataError(f"'{symbol}' is not a valid symbol (letters, digits, . _ -; max 20)")
        if not vendor or not vendor.strip():
            raise DataError("declare where the file came from: --vendor 'Vendor name / export'")
        if not path.is_file():
            raise DataError(f"no such file: {path}")
        data_path, meta_path = self._paths(symbol)
        if meta_path.exists() and not replace:
            raise DataError(
                f"{symbol} was already imported; pass replace=True (--replace) to overwrite it"
            )
        raw_bytes = path.read_bytes()
        df = normalise_frame(_read_any(path), symbol)
        df = df.rename(columns={"adj_close": "adjclose"})
        kind = _infer_kind(df)
        keep = [c for c in ("open", "high", "low", "close", "volume", "value") if c in df]
        df = df[keep]
        validate_frame(df, symbol, kind)
        interval = _guess_interval(df.index)
        prov = make_provenance(
            df,
            source=self.id,
            dataset=path.name,
            symbol=symbol,
            interval=interval,
            vendor=vendor.strip(),
            file_sha256=hashlib.sha256(raw_bytes).hexdigest(),
        )
        self.root.mkdir(parents=True, exist_ok=True)
        tmp = data_path.with_suffix(".parquet.tmp")
        df.to_parquet(tmp)
        tmp.replace(data_path)
        meta_path.write_text(json.dumps({**prov.model_dump(), "kind": kind}, indent=2))
        return MarketData(symbol=symbol, kind=kind, interval=interval, frame=df, provenance=prov)

    def fetch(self, symbol: str, start=None, end=None, interval: str | None = None) -> MarketData:
        symbol = symbol.upper()
        data_path, meta_path = self._paths(symbol)
        if not meta_path.exists():
            raise DataError(
                f"'{symbol}' has not been imported; run: mltrainer data import FILE --symbol {symbol} --vendor ..."
            )
        meta = json.loads(meta_path.read_text())
        kind = meta.pop("kind", "price")
        stored = Provenance.model_validate(meta)
        df = pd.read_parquet(data_path)
        df.index = pd.DatetimeIndex(df.index).as_unit("ns").rename("timestamp")
        full = make_provenance(
            df, source=self.id, dataset=stored.dataset, symbol=symbol, interval=stored.interval
        )
        if full.sha256 != stored.sha256:
            raise DataError(
                f"imported data for {symbol} changed on disk since import (hash mismatch); re-import it"
            )
        if interval and interval != stored.interval:
            raise DataError(f"{symbol} was imported at interval {stored.interval}, not {interval}")
        df = slice_frame(df, symbol, start, end)
        prov = make_provenance(
            df,
            source=self.id,
            dataset=stored.dataset,
            symbol=symbol,
            interval=stored.interval,
            vendor=stored.vendor,
            file_sha256=stored.file_sha256,
            fetched_at=stored.fetched_at,
        )
        return MarketData(
            symbol=symbol, kind=kind, interval=stored.interval, frame=df, provenance=prov
        )


def _guess_interval(idx: pd.DatetimeIndex) -> str:
    if len(idx) < 3:
        return "1d"
    step = pd.Series(idx).diff().median()
    if step <= pd.Timedelta(minutes=1):
        return "1m"
    if step < pd.Timedelta(hours=1):
        return f"{max(1, round(step / pd.Timedelta(minutes=1)))}m"
    if step < pd.Timedelta(days=1):
        return "1h"
    if step <= pd.Timedelta(days=4):
        return "1d"
    if step <= pd.Timedelta(days=8):
        return "1wk"
    if step <= pd.Timedelta(days=40):
        return "1mo"
    return "1q"
