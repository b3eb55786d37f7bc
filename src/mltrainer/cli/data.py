"""``mltrainer data``: the catalogue, one symbol with provenance, imports."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.table import Table
from rich.text import Text

from ._common import (
    add_row,
    console,
    fmt,
    make_app,
    one_of,
    parse_date,
    plain,
    print_json,
    safe,
)

data_app = typer.Typer(help="Market data: catalogue, inspection, imports.", no_args_is_help=True)

# Catalogue kinds: the data kinds (mltrainer.data.market.Kind) and 'imported' for user files.
KINDS = ("ohlcv", "price", "economic", "factors", "imported")


@data_app.command("list")
def list_(
    kind: str | None = typer.Option(
        None, help="Only this kind: ohlcv, price, economic, factors, imported."
    ),
    as_json: bool = typer.Option(False, "--json", help="Print JSON only."),
) -> None:
    """List every symbol that can be used offline (bundled and imported)."""
    one_of(kind, KINDS, "--kind")
    app = make_app()
    entries = [e for e in app.data.catalogue() if kind is None or e.kind == kind]
    if as_json:
        print_json([e.to_dict() for e in entries])
        return
    t = Table(title=f"Data catalogue ({len(entries)} symbols)")
    for col in ("symbol", "source", "kind", "interval", "first", "last", "rows", "description"):
        t.add_column(col, justify="right" if col == "rows" else "left")
    for e in entries:
        desc = Text(plain(e.description))
        if e.note:
            desc.append(f" ({plain(e.note)})", style="dim")
        add_row(t, e.symbol, e.source, e.kind, e.interval, e.first, e.last, e.rows, desc)
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
    first, last = parse_date(start, "--start"), parse_date(end, "--end")
    if first and last and first > last:
        raise typer.BadParameter(f"--start {first} is after --end {last}")
    app = make_app()
    symbol = app.data.resolve_symbol(symbol, source)  # checked before anything is audited
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
        f"[bold]{safe(md.symbol)}[/] ({md.kind}, {safe(md.interval)}) from "
        f"[cyan]{safe(p.source)}[/]: {safe(p.dataset)}"
    )
    t = Table(title="Summary statistics")
    t.add_column("column")
    for stat in ("count", "mean", "std", "min", "max"):
        t.add_column(stat, justify="right")
    for c in desc.index:
        add_row(t, c, *(fmt(float(desc.loc[c, s])) for s in ("count", "mean", "std", "min", "max")))
    console.print(t)
    pt = Table(title="Provenance", show_header=False)
    for k, v in p.model_dump().items():
        if v is not None:
            add_row(pt, k, v)
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
    app.data.files.check_export(path, symbol, vendor, replace)  # bad files stop before any audit
    md = app.data.import_file(path, symbol, vendor, replace=replace)
    if as_json:
        print_json(md.provenance.model_dump())
        return
    p = md.provenance
    console.print(
        f"[green]imported[/] {safe(p.symbol)}: {p.rows} rows {p.first[:10]}..{p.last[:10]} "
        f"({md.kind}, {safe(p.interval)}) from {safe(p.vendor)}; sha256 {p.sha256[:16]}..."
    )
