"""Parquet cache with the provenance record beside each file.

A hit re-hashes the stored frame and compares it with the stored provenance, so a file
changed on disk is never served (it is dropped and fetched again). A hit returns the same
provenance, hash included, as the original fetch. Both files are written atomically and
together (:class:`~mltrainer.fsio.StagedFiles`), so a crash never leaves half an entry.
"""

from __future__ import annotations

import hashlib
import json
import logging
from pathlib import Path
from typing import TYPE_CHECKING

from ..fsio import StagedFiles, remove_stale_tmp
from .provenance import Kind, Provenance

if TYPE_CHECKING:
    from .market import MarketData

__all__ = ["ParquetCache"]

log = logging.getLogger(__name__)


class ParquetCache:
    def __init__(self, root: Path):
        self.root = Path(root)
        for p in remove_stale_tmp(self.root, recursive=True):
            log.info("removed %s, left by a cache write that did not finish", p.name)

    def _key(self, source: str, symbol: str, interval: str | None, start, end) -> Path:
        raw = json.dumps([source, symbol, interval, str(start), str(end)])
        digest = hashlib.sha256(raw.encode()).hexdigest()[:16]
        return self.root / source / f"{symbol}_{digest}"

    def get(self, source: str, symbol: str, interval: str | None, start, end) -> MarketData | None:
        import pandas as pd  # loaded on the first read, not when the app starts

        from .market import MarketData, content_hash

        base = self._key(source, symbol, interval, start, end)
        data, meta = base.with_suffix(".parquet"), base.with_suffix(".json")
        if not (data.exists() and meta.exists()):
            return None
        try:
            info = json.loads(meta.read_text())
            prov = Provenance.model_validate(info["provenance"])
            df = pd.read_parquet(data)
            df.index = pd.DatetimeIndex(df.index).as_unit("ns").rename("timestamp")
        except Exception as e:  # a damaged cache entry is dropped, never served
            log.warning("dropping unreadable cache entry %s: %s", base.name, e)
            self._drop(base)
            return None
        if content_hash(df) != prov.sha256:
            log.warning("dropping cache entry %s: content does not match its hash", base.name)
            self._drop(base)
            return None
        kind: Kind = info["kind"]
        return MarketData(
            symbol=symbol, kind=kind, interval=info["interval"], frame=df, provenance=prov
        )

    def put(
        self, md: MarketData, source: str, symbol: str, interval: str | None, start, end
    ) -> None:
        base = self._key(source, symbol, interval, start, end)
        base.parent.mkdir(parents=True, exist_ok=True)
        meta = {"kind": md.kind, "interval": md.interval, "provenance": md.provenance.model_dump()}
        with StagedFiles() as stage:
            md.frame.to_parquet(stage.temp_for(base.with_suffix(".parquet")))
            stage.write_text(base.with_suffix(".json"), json.dumps(meta, indent=2))

    @staticmethod
    def _drop(base: Path) -> None:
        for suffix in (".parquet", ".json"):
            base.with_suffix(suffix).unlink(missing_ok=True)

    def clear(self) -> int:
        n = 0
        for p in self.root.rglob("*.parquet"):
            p.unlink()
            p.with_suffix(".json").unlink(missing_ok=True)
            n += 1
        return n
