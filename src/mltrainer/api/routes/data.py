"""``/data``: the offline catalogue, one symbol's summary with its provenance, and the
upload of a user's own CSV/Parquet export (with its declared vendor)."""

from __future__ import annotations

import re
import shutil
import tempfile
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

from fastapi import APIRouter, File, Form, UploadFile

from ...errors import DataError
from ..deps import AppDep, TokenDep
from ..schemas import CatalogueEntryPublic, CataloguePublic, SymbolSummary

if TYPE_CHECKING:
    from ...data.market import MarketData

router = APIRouter(prefix="/data", tags=["data"])


@router.get("/catalogue", response_model=CataloguePublic)
def catalogue(app: AppDep, kind: str | None = None) -> CataloguePublic:
    """Symbols available offline; ``kind`` filters (ohlcv, price, economic, factors)."""
    rows = [e.to_dict() for e in app.data.catalogue() if kind is None or e.kind == kind]
    return CataloguePublic(data=[CatalogueEntryPublic(**r) for r in rows], count=len(rows))


@router.get("/symbols/{symbol}", response_model=SymbolSummary)
def symbol_summary(
    symbol: str,
    app: AppDep,
    token: TokenDep,
    source: str = "bundled",
    start: date | None = None,
    end: date | None = None,
) -> SymbolSummary:
    """Rows, span, return statistics and provenance of one symbol (compliance checked)."""
    md = app.data.fetch(symbol, source=source, start=start, end=end, actor=token.name)
    return _summary(md)


_UPLOAD_SUFFIXES = (".csv", ".parquet", ".pq")
_SAFE_NAME = re.compile(r"[^A-Za-z0-9._-]+")


@router.post("/upload", response_model=SymbolSummary, status_code=201)
def upload(
    app: AppDep,
    token: TokenDep,
    file: Annotated[UploadFile, File(description="a CSV or Parquet export with a date column")],
    symbol: Annotated[str, Form(min_length=1, max_length=32, description="e.g. MYFUND")],
    vendor: Annotated[
        str, Form(min_length=1, max_length=200, description="where it came from, e.g. 'Stooq'")
    ],
    replace: Annotated[bool, Form(description="overwrite an earlier upload of the symbol")] = False,
) -> SymbolSummary:
    """Import a user's own export as source ``file`` (compliance checked, audited, stored
    with its SHA-256); the same checks as ``mltrainer data import``. A file that cannot be
    read, has gaps, NaN/inf, future dates or one row is 422 and nothing is stored. The
    request body limit (``MLTRAINER_API_MAX_BODY_BYTES``) bounds the file's size."""
    name = _SAFE_NAME.sub("_", Path(file.filename or "").name)[-100:].lstrip(".")
    if not name.lower().endswith(_UPLOAD_SUFFIXES):
        raise DataError(
            f"'{name or 'the file'}': upload a .csv or .parquet file (named with its suffix)"
        )
    folder = Path(tempfile.mkdtemp(prefix="mlt-upload-"))
    try:
        path = folder / name
        with path.open("wb") as out:
            shutil.copyfileobj(file.file, out)
        md = app.data.import_file(path, symbol, vendor, replace=replace, actor=token.name)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    return _summary(md)


def _summary(md: MarketData) -> SymbolSummary:
    return SymbolSummary(**md.summary(), provenance=md.provenance.model_dump(mode="json"))
