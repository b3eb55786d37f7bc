"""``mltrainer trial``: run, list, show and replay walk-forward trials."""

from __future__ import annotations

from datetime import date

import typer
from rich.table import Table

from ..trials.report import write_report
from ..trials.spec import TrialResult, TrialSpec
from ._common import console, fmt, fold_progress, make_app, print_json

sub_app = typer.Typer(help="Walk-forward trials.", no_args_is_help=True)

KEY_METRICS = (
    "total_return",
    "cagr",
    "volatility",
    "sharpe",
    "sortino",
    "calmar",
    "max_drawdown",
    "hit_rate",
    "ic",
    "rank_ic",
    "turnover",
    "exposure",
    "trade_count",
    "accuracy",
    "auc",
    "psr",
    "dsr",
)


def _executor():
    from ..executor import UnifiedExecutor

    return UnifiedExecutor(make_app())


def metrics_table(result: TrialResult, title: str) -> Table:
    t = Table(title=title)
    t.add_column("metric")
    t.add_column("strategy (net)", justify="right")
    t.add_column("buy and hold", justify="right")
    for k in KEY_METRICS:
        if k in result.metrics:
            t.add_row(k, fmt(result.metrics[k]), fmt(result.benchmark.get(k)))
    return t


def run_with_progress(ex, spec: TrialSpec, quiet: bool):
    if quiet:
        return ex.run_trial(spec, actor="cli")
    with fold_progress() as prog:
        task = prog.add_task(f"{spec.model_id} on {spec.symbol}: folds", total=None)

        def on_fold(done: int, total: int) -> None:
            prog.update(task, completed=done, total=total)

        return ex.run_trial(spec, on_fold=on_fold, actor="cli")


@sub_app.command("run")
def run(
    model: str = typer.Option(..., "--model", "-m", help="Registry model id, e.g. lightgbm."),
    symbol: str = typer.Option(..., "--symbol", "-s", help="Symbol, e.g. SPX."),
    source: str = typer.Option("bundled", help="bundled, polygon, fred or file."),
    start: str | None = typer.Option(None, help="First date YYYY-MM-DD."),
    end: str | None = typer.Option(None, help="Last date YYYY-MM-DD."),
    horizon: int = typer.Option(10, help="Label horizon in bars."),
    feature_set: str = typer.Option("basic", help="returns, basic or macro."),
    window: str = typer.Option("expanding", help="expanding or rolling."),
    window_size: int = typer.Option(
        504, help="Training bars (rolling) or minimum training bars (expanding)."
    ),
    refit_every: int = typer.Option(21, help="Bars per fold; the model is refit each fold."),
    embargo: int = typer.Option(0, help="Extra bars dropped between training and test."),
    position_rule: str = typer.Option("sign", help="sign, threshold, long_only or vol_target."),
    commission_bps: float = typer.Option(1.0, help="Commission per unit turnover, bps."),
    slippage_bps: float = typer.Option(1.0, help="Slippage per unit turnover, bps."),
    seed: int = typer.Option(0, help="Random seed for models that use one."),
    max_folds: int | None = typer.Option(None, help="Keep only the last N folds."),
    param: list[str] = typer.Option(
        [], "--param", "-p", help="Model parameter NAME=VALUE (repeatable)."
    ),
    report: bool = typer.Option(True, help="Write the HTML and JSON report."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON only."),
) -> None:
    """Run one walk-forward trial with a progress bar, a metrics table and a report."""
    params = dict(_parse_param(p) for p in param)
    spec = TrialSpec(
        model_id=model,
        symbol=symbol,
        source=source,
        start=_d(start),
        end=_d(end),
        horizon=horizon,
        feature_set=feature_set,
        window=window,
        window_size=window_size,
        refit_every=refit_every,
        embargo=embargo,
        position_rule=position_rule,
        commission_bps=commission_bps,
        slippage_bps=slippage_bps,
        seed=seed,
        max_folds=max_folds,
        params=params,
    )
    ex = _executor()
    spec = spec.model_copy(update={"symbol": ex.app.data.resolve_symbol(spec.symbol, spec.source)})
    tid, result = run_with_progress(ex, spec, quiet=as_json)
    paths = write_report(result, tid, ex.app.settings.reports_dir) if report else None
    if as_json:
        print_json(
            {
                "trial_id": tid,
                "metrics": result.metrics,
                "benchmark": result.benchmark,
                "report": [str(p) for p in paths] if paths else None,
                "data_sha256": result.data_sha256,
                "spec_hash": result.spec_hash,
            }
        )
        return
    console.print(
        metrics_table(
            result,
            f"{tid}: {spec.model_id} on {spec.symbol}, {len(result.folds)} folds, {result.equity[0][0][:10]}..{result.equity[-1][0][:10]}",
        )
    )
    if paths:
        console.print(f"report: [cyan]{paths[0]}[/] (JSON: {paths[1]})")


def _d(s: str | None) -> date | None:
    return date.fromisoformat(s) if s else None


def _parse_param(text: str) -> tuple[str, object]:
    import json

    if "=" not in text:
        raise typer.BadParameter(f"--param wants NAME=VALUE, got '{text}'")
    k, v = text.split("=", 1)
    try:
        return k.strip(), json.loads(v)
    except ValueError:
        return k.strip(), v


@sub_app.command("list")
def list_(
    limit: int = typer.Option(20, help="How many."),
    model: str | None = typer.Option(None, help="Only this model id."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON only."),
) -> None:
    """Recent trials, newest first."""
    from ..trials.store import TrialStore

    rows = TrialStore(make_app().engine).list(limit=limit, model_id=model)
    if as_json:
        print_json(rows)
        return
    t = Table(title=f"{len(rows)} trials")
    for col in ("id", "status", "model", "symbol", "sharpe", "max_drawdown", "created"):
        t.add_column(col)
    for r in rows:
        m = r.get("metrics") or {}
        t.add_row(
            r["id"],
            r["status"],
            r["model_id"],
            r["symbol"],
            fmt(r["sharpe"]),
            fmt(m.get("max_drawdown")),
            r["created_at"][:19],
        )
    console.print(t)


@sub_app.command("show")
def show(
    trial_id: str, as_json: bool = typer.Option(False, "--json", help="Print JSON only.")
) -> None:
    """Spec, status, metrics and provenance of one trial."""
    from ..trials.store import TrialStore

    d = TrialStore(make_app().engine).get(trial_id)
    if as_json:
        print_json(d)
        return
    console.print(
        f"[bold]{d['id']}[/] {d['status']}: {d['model_id']} on {d['symbol']} ({d['source']})"
    )
    if d["error"]:
        console.print(f"[red]error:[/] {d['error']}")
    if d["result"]:
        result = TrialResult.model_validate(d["result"])
        console.print(metrics_table(result, "metrics"))
        console.print(f"data sha256 {d['data_hash']}\nspec sha256 {d['spec_hash']}")


@sub_app.command("replay")
def replay(
    trial_id: str, as_json: bool = typer.Option(False, "--json", help="Print JSON only.")
) -> None:
    """Re-run a stored trial and report identical metrics or the differences (exit 1)."""
    ex = _executor()
    old = ex.store.result(trial_id)
    new_id, new = run_with_progress(ex, old.spec, quiet=as_json)
    diffs = {
        k: {"stored": v, "replayed": new.metrics.get(k)}
        for k, v in old.metrics.items()
        if k not in ("dsr",) and v != new.metrics.get(k)
    }
    same_data = old.data_sha256 == new.data_sha256
    out = {
        "trial_id": trial_id,
        "replay_id": new_id,
        "identical": not diffs and same_data,
        "data_hash_equal": same_data,
        "differences": diffs,
    }
    if as_json:
        print_json(out)
    elif out["identical"]:
        console.print(
            f"[green]identical[/]: replay {new_id} reproduced all {len(old.metrics)} metrics of {trial_id} on the same data ({old.data_sha256[:16]}...)"
        )
    else:
        console.print(
            f"[bold red]differences[/] between {trial_id} and replay {new_id} (data hash equal: {same_data})"
        )
        for k, v in diffs.items():
            console.print(f"  {k}: stored {v['stored']} replayed {v['replayed']}")
    raise typer.Exit(0 if out["identical"] else 1)
