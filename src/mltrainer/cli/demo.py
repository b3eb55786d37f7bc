"""``mltrainer demo``: the offline tour — catalogue, one symbol's provenance, a real trial."""

from __future__ import annotations

import typer
from rich.table import Table

from ._common import add_row, console, make_app, safe


def register(app: typer.Typer) -> None:
    app.command("demo")(demo)


def demo(
    model: str = typer.Option("ridge", help="Model for the demo trial."),
    symbol: str = typer.Option("SPX", help="Symbol for the demo trial."),
) -> None:
    """Show the data catalogue, SPX with its provenance, and a real walk-forward trial."""
    from ..executor import UnifiedExecutor
    from ..trials.report import write_report
    from ..trials.spec import TrialSpec
    from .trials import metrics_table, run_with_progress

    app = make_app()
    cat = app.data.catalogue()
    t = Table(title=f"Bundled real data: {len(cat)} symbols (mltrainer data list)")
    for col in ("symbol", "kind", "interval", "first", "last", "rows"):
        t.add_column(col)
    for e in cat:
        add_row(t, e.symbol, e.kind, e.interval, e.first, e.last, e.rows)
    console.print(t)
    md = app.data.fetch(symbol, actor="demo")
    p = md.provenance
    console.print(
        f"\n[bold]{safe(p.symbol)}[/]: {p.rows} bars {p.first[:10]}..{p.last[:10]} from "
        f"{safe(p.package)} {safe(p.package_version)} ({safe(p.dataset)}); sha256 {p.sha256}"
    )
    ex = UnifiedExecutor(app)
    spec = TrialSpec(model_id=model, symbol=symbol, horizon=10, start="2005-01-01")
    tid, result = run_with_progress(ex, spec, quiet=False)
    console.print(
        metrics_table(
            result,
            f"{tid}: {model} on {symbol}, 10-day horizon, {len(result.folds)} monthly refits",
        )
    )
    html, _ = write_report(result, tid, app.settings.reports_dir)
    console.print(
        f"report: [cyan]{safe(html)}[/]\naudit log: {app.audit.count()} records, intact: {app.audit.verify().ok}"
    )
