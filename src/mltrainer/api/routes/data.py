"""``/data``: the offline catalogue and one symbol's summary with its provenance."""

from __future__ import annotations

from datetime import date

from fastapi import APIRouter

from ..deps import AppDep, TokenDep
from ..schemas import CatalogueEntryPublic, CataloguePublic, SymbolSummary

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
    r = md.close.pct_change().dropna()
    return SymbolSummary(
        symbol=md.symbol,
        kind=md.kind,
        rows=md.provenance.rows,
        first=md.provenance.first,
        last=md.provenance.last,
        last_close=float(md.close.iloc[-1]) if len(md.close) else None,
        mean_return=float(r.mean()) if len(r) else None,
        volatility=float(r.std()) if len(r) > 1 else None,
        sha256=md.provenance.sha256,
        provenance=md.provenance.model_dump(mode="json"),
    )
