"""``mltrainer data``: the catalogue, one symbol with provenance, imports."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.table import Table

from ._common import console, fmt, make_app, print_json

data_app = typer.Typer(help="Market data: catalogue, inspection, imports.", no_args_is_help=True)


@data_app.command("list")
def list_(
    kind: str | None = typer.Option(
        None, help="Only this kind: ohlcv, price, economic, factors, imported."
    ),
    as_json: bool = typer.Option(False, "--json", help="Print JSON only."),
) -> None:
    """List every symbol that can be used offline (bundled and imported)."""
    app = make_app()
    entries = [e for e in app.data.catalogue() if kind is None or e.kind == kind]
    if as_json:
        print_json([e.to_dict() for e in entries])
        return
    t = Table(title=f"Data catalogue ({len(entries)} symbols)")
    for col in ("symbol", "source", "kind", "interval", "first", "last", "rows", "description"):
        t.add_column(col, justify="right" if col == "rows" else "left")
    for e in entries:
        desc = e.description + (f" [dim]({e.note})[/]" if e.note else "")
        t.add_row(e.symbol, e.source, e.kind, e.interval, e.first, e.last, str(e.rows), desc)
    console.print(t)


@data_app.command("show")
def show(
    symbol: str,
    source: str = typer.Option("bundled", help="bundled, polygon, fred or file."),
    start: str | None = typer.Option(None, help="First date, YYYY-MM-DD (inclusive)."),
    end: str | None = typer.Option(None, help="Last date, YYYY-MM-DD (inclusive)."),
    interval: str | None = typer.Option(
        None, help="Bar interval (1d, 1h, ...); default: the source's."
    ),
    as_json: bool = typer.Option(False, "--json", help="Print JSON only."),
) -> None:
    """Summary statistics and provenance of one symbol."""
    app = make_app()
    md = app.data.fetch(symbol, source=source, start=start, end=end, interval=interval, actor="cli")
    desc = md.frame.describe().T
    rets = md.close.pct_change().dropna()
    summary = {
        "symbol": md.symbol,
        "kind": md.kind,
        "interval": md.interval,
        "provenance": md.provenance.model_dump(),
        "columns": {c: {k: float(v) for k, v in desc.loc[c].items()} for c in desc.index},
        "returns": {
            "mean": float(rets.mean()) if len(rets) else None,
            "std": float(rets.std()) if len(rets) > 1 else None,
            "min": float(rets.min()) if len(rets) else None,
            "max": float(rets.max()) if len(rets) else None,
        },
    }
    if as_json:
        print_json(summary)
        return
    p = md.provenance
    console.print(
        f"[bold]{md.symbol}[/] ({md.kind}, {md.interval}) from [cyan]{p.source}[/]: {p.dataset}"
    )
    t = Table(title="Summary statistics")
    t.add_column("column")
    for stat in ("count", "mean", "std", "min", "max"):
        t.add_column(stat, justify="right")
    for c in desc.index:
        t.add_row(c, *(fmt(float(desc.loc[c, s])) for s in ("count", "mean", "std", "min", "max")))
    console.print(t)
    pt = Table(title="Provenance", show_header=False)
    for k, v in p.model_dump().items():
        if v is not None:
            pt.add_row(k, str(v))
    console.print(pt)


@data_app.command("import")
def import_(
    path: Path = typer.Argument(..., help="CSV or Parquet export with a date/timestamp column."),
    symbol: str = typer.Option(..., "--symbol", help="Symbol to store it under, e.g. MYFUND."),
    vendor: str = typer.Option(
        ..., "--vendor", help="Where the data came from, e.g. 'Bloomberg export'."
    ),
    replace: bool = typer.Option(False, help="Overwrite an earlier import of the same symbol."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON only."),
) -> None:
    """Import your own real data export; validated and stored with its hash."""
    app = make_app()
    md = app.data.import_file(path, symbol, vendor, replace=replace)
    if as_json:
        print_json(md.provenance.model_dump())
        return
    p = md.provenance
    console.print(
        f"[green]imported[/] {p.symbol}: {p.rows} rows {p.first[:10]}..{p.last[:10]} "
        f"({md.kind}, {p.interval}) from {p.vendor}; sha256 {p.sha256[:16]}..."
    )
