"""The ``file`` source: a user's own CSV/Parquet export, with a declared vendor.

``import_file`` reads, normalises and validates the export (monotonic unique timestamps,
positive prices, high >= low, no all-empty columns), then stores it as Parquet under
``<home>/imports`` with a provenance record that holds the vendor, the original file name,
the SHA-256 of the original bytes and the SHA-256 of the normalised content. The two files
and the import's audit record are one unit (:class:`~mltrainer.fsio.StagedFiles`): a crash
or a failed audit append leaves the previous state, never half an import.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from ..errors import DataError
from ..fsio import StagedFiles, remove_stale_tmp
from .provenance import Kind, Provenance

if TYPE_CHECKING:  # listing imports reads JSON only; pandas loads with the first frame
    import pandas as pd

    from .market import MarketData

__all__ = ["FileSource"]

log = logging.getLogger(__name__)

_DATE_NAMES = ("timestamp", "date", "datetime", "time", "dt")
_SYMBOL_RX = re.compile(r"^[A-Z0-9][A-Z0-9._\-]{0,19}$")


def _read_any(path: Path) -> pd.DataFrame:
    import pandas as pd

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
        self._warned: set[Path] = set()
        for p in remove_stale_tmp(self.root):
            log.info("removed %s, left by an import that did not finish", p.name)

    def _paths(self, symbol: str) -> tuple[Path, Path]:
        return self.root / f"{symbol}.parquet", self.root / f"{symbol}.provenance.json"

    def symbols(self) -> list[str]:
        if not self.root.exists():
            return []
        return sorted(
            p.name.removesuffix(".provenance.json") for p in self.root.glob("*.provenance.json")
        )

    def provenance(self, symbol: str) -> Provenance | None:
        """The stored provenance, or None if absent or unreadable (warned once, by name):
        one damaged file must not break listing the others."""
        _, meta = self._paths(symbol.upper())
        try:
            return Provenance.model_validate(self._read_meta(meta))
        except FileNotFoundError:
            return None
        except DataError as e:
            reason = str(e)
        except ValueError as e:  # pydantic: JSON, but not a provenance record
            detail = "; ".join(str(e).splitlines()[:3])
            reason = f"provenance file {meta} is not a valid record ({detail}); re-import it"
        if meta not in self._warned:
            self._warned.add(meta)
            log.warning("skipping an import: %s", reason)
        return None

    @staticmethod
    def _read_meta(meta: Path) -> dict:
        """The provenance JSON of an import (with its ``kind``), or DataError naming the file."""
        try:
            info = json.loads(meta.read_text())
        except FileNotFoundError:
            raise
        except (OSError, ValueError) as e:
            raise DataError(f"provenance file {meta} is unreadable ({e}); re-import it") from e
        if not isinstance(info, dict):
            raise DataError(f"provenance file {meta} does not hold a record; re-import it")
        return info

    def check_export(
        self, path: str | Path, symbol: str, vendor: str, replace: bool = False
    ) -> tuple[pd.DataFrame, Kind, bytes]:
        """Read and validate an export, writing nothing: (frame, kind, original bytes).

        Callers run it before any compliance decision is recorded, so bad input leaves no
        trace; :meth:`import_file` calls it itself."""
        from .market import normalise_frame, validate_frame

        path = Path(path)
        symbol = (symbol or "").strip().upper()
        if not _SYMBOL_RX.match(symbol):
            raise DataError(f"'{symbol}' is not a valid symbol (letters, digits, . _ -; max 20)")
        if not vendor or not vendor.strip():
            raise DataError("declare where the file came from: --vendor 'Vendor name / export'")
        _check_path(path)
        _, meta_path = self._paths(symbol)
        if meta_path.exists() and not replace:
            raise DataError(
                f"{symbol} was already imported; use --replace to overwrite it "
                "(replace=True from Python)"
            )
        raw_bytes = path.read_bytes()
        df = normalise_frame(_read_any(path), symbol)
        df = df.rename(columns={"adj_close": "adjclose"})
        kind = _infer_kind(df)
        keep = [c for c in ("open", "high", "low", "close", "volume", "value") if c in df]
        df = df[keep]
        validate_frame(df, symbol, kind)
        _validate_import(df, symbol)
        return df, kind, raw_bytes

    def import_file(
        self,
        path: str | Path,
        symbol: str,
        vendor: str,
        replace: bool = False,
        before_publish: Callable[[MarketData], None] | None = None,
    ) -> MarketData:
        """Validate and store an export: data and provenance appear together or not at all.

        ``before_publish`` (the audit record) runs once both files are written to temps;
        if it raises, nothing is published and an earlier import stays as it was.
        """
        from .market import MarketData, make_provenance

        df, kind, raw_bytes = self.check_export(path, symbol, vendor, replace)
        path = Path(path)
        symbol = symbol.strip().upper()
        data_path, meta_path = self._paths(symbol)
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
        md = MarketData(symbol=symbol, kind=kind, interval=interval, frame=df, provenance=prov)
        self.root.mkdir(parents=True, exist_ok=True)
        # provenance last: it is what makes the symbol visible (see symbols())
        with StagedFiles() as stage:
            df.to_parquet(stage.temp_for(data_path))
            stage.write_text(meta_path, json.dumps({**prov.model_dump(), "kind": kind}, indent=2))
            if before_publish is not None:
                before_publish(md)
        return md

    def fetch(self, symbol: str, start=None, end=None, interval: str | None = None) -> MarketData:
        import pandas as pd

        from .market import MarketData, make_provenance, slice_frame

        symbol = symbol.upper()
        data_path, meta_path = self._paths(symbol)
        if not meta_path.exists():
            raise DataError(
                f"'{symbol}' has not been imported; run: mltrainer data import FILE --symbol {symbol} --vendor ..."
            )
        meta = self._read_meta(meta_path)
        kind = meta.pop("kind", "price")
        try:
            stored = Provenance.model_validate(meta)
            df = pd.read_parquet(data_path)
        except (OSError, ValueError) as e:
            raise DataError(f"the import of {symbol} is damaged ({e}); re-import it") from e
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


MIN_ROWS = 2
"""An import needs at least two bars: one bar has no return to learn from or test on."""


def _check_path(path: Path) -> None:
    """Name what is wrong with ``path``: missing, a folder, or not a regular file
    (``/dev/zero`` or a pipe would never finish reading)."""
    if not path.exists():
        raise DataError(f"no such file: {path}")
    if path.is_dir():
        raise DataError(f"{path} is a folder, not a file; name the CSV or Parquet export")
    if not path.is_file():
        raise DataError(
            f"{path} is not a regular file (a device or pipe?); name a CSV or Parquet file"
        )


def _validate_import(df: pd.DataFrame, symbol: str) -> None:
    """What an export must also satisfy beyond :func:`validate_frame`: finite numbers,
    no bars dated in the future, and enough rows to be a series."""
    import numpy as np
    import pandas as pd

    if len(df) < MIN_ROWS:
        raise DataError(f"{symbol}: {len(df)} row(s); an import needs at least {MIN_ROWS} rows")
    for c in df.columns:
        inf = np.isinf(df[c].to_numpy(dtype="float64"))
        if inf.any():
            raise DataError(
                f"{symbol}: {int(inf.sum())} infinite '{c}' value(s) (first at "
                f"{df.index[inf][0]}); every value must be a finite number"
            )
    # bars up to the end of tomorrow (UTC) pass: a day of slack for time zones
    limit = pd.Timestamp.now(tz="UTC").tz_localize(None).normalize() + pd.Timedelta(days=2)
    future = df.index >= limit
    if future.any():
        raise DataError(
            f"{symbol}: {int(future.sum())} row(s) dated in the future (first at "
            f"{df.index[future][0]}); real data cannot be dated after today"
        )


def _guess_interval(idx: pd.DatetimeIndex) -> str:
    import pandas as pd

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
