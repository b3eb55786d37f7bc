"""``mltrainer trial``: run, list, show and replay walk-forward trials."""

from __future__ import annotations

from typing import TYPE_CHECKING

import typer
from rich.table import Table

from ._common import (
    add_row,
    console,
    fmt,
    fold_progress,
    make_app,
    parse_date,
    print_json,
    safe,
)

if TYPE_CHECKING:  # the trial modules load pandas and scipy: imported where used
    from ..trials.spec import TrialResult, TrialSpec

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


def _store():
    """The trial store with this installation's heartbeat lease (it decides ``interrupted``)."""
    from ..trials.store import TrialStore

    app = make_app()
    return TrialStore(
        app.engine,
        app.scrub,
        lease_s=app.settings.trial_lease_s,
        heartbeat_s=app.settings.trial_heartbeat_s,
    )


def metrics_table(result: TrialResult, title: str) -> Table:
    """Strategy vs buy-and-hold metrics; ``title`` is plain text (escaped here)."""
    t = Table(title=safe(title))
    t.add_column("metric")
    t.add_column("strategy (net)", justify="right")
    t.add_column("buy and hold", justify="right")
    from ..trials.counting import metric_label

    for k in KEY_METRICS:
        label = metric_label(k, result.n_trials) if k in result.metrics else None
        if label is not None:
            add_row(t, label, fmt(result.metrics[k]), fmt(result.benchmark.get(k)))
    return t


def _result_json(trial_id: str, result: TrialResult, paths) -> dict:
    """What ``trial run --json`` and ``trial resume --json`` print for a finished trial."""
    return {
        "trial_id": trial_id,
        "status": "done",
        "metrics": result.metrics,
        "n_trials": result.n_trials,
        "benchmark": result.benchmark,
        "report": [str(p) for p in paths] if paths else None,
        "data_sha256": result.data_sha256,
        "spec_hash": result.spec_hash,
        "execution_delay": result.spec.execution_delay,
        "periods_per_year": result.periods_per_year,
        "frequency": result.frequency,
    }


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
    execution_delay: int = typer.Option(
        1,
        min=0,
        max=500,
        help="Bars from signal to fill, 0-500 (1: a signal at close t trades at close t+1).",
    ),
    seed: int = typer.Option(0, help="Random seed for models that use one."),
    max_folds: int | None = typer.Option(None, help="Keep only the last N folds."),
    param: list[str] = typer.Option(
        [], "--param", "-p", help="Model parameter NAME=VALUE (repeatable)."
    ),
    report: bool = typer.Option(True, help="Write the HTML and JSON report."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON only."),
) -> None:
    """Run one walk-forward trial with a progress bar, a metrics table and a report."""
    from ..trials.report import timing_text, write_report
    from ..trials.spec import TrialSpec

    params = dict(_parse_param(p) for p in param)
    spec = TrialSpec(
        model_id=model,
        symbol=symbol,
        source=source,
        start=parse_date(start, "--start"),
        end=parse_date(end, "--end"),
        horizon=horizon,
        feature_set=feature_set,
        window=window,
        window_size=window_size,
        refit_every=refit_every,
        embargo=embargo,
        position_rule=position_rule,
        commission_bps=commission_bps,
        slippage_bps=slippage_bps,
        execution_delay=execution_delay,
        seed=seed,
        max_folds=max_folds,
        params=params,
    )
    ex = _executor()
    spec = spec.model_copy(update={"symbol": ex.app.data.resolve_symbol(spec.symbol, spec.source)})
    tid, result = run_with_progress(ex, spec, quiet=as_json)
    paths = write_report(result, tid, ex.app.settings.reports_dir) if report else None
    if as_json:
        print_json(_result_json(tid, result, paths))
        return
    console.print(
        metrics_table(
            result,
            f"{tid}: {spec.model_id} on {spec.symbol}, {len(result.folds)} folds, {result.equity[0][0][:10]}..{result.equity[-1][0][:10]}",
        )
    )
    console.print(safe(timing_text(result)))
    if paths:
        console.print(f"report: [cyan]{safe(paths[0])}[/] (JSON: {safe(paths[1])})")


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
    limit: int = typer.Option(20, min=1, max=100_000, help="How many (1-100000)."),
    model: str | None = typer.Option(None, help="Only this model id."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON only."),
) -> None:
    """Recent trials, newest first (``interrupted``: its process died; see trial resume)."""
    rows = _store().list(limit=limit, model_id=model)
    if as_json:
        print_json(rows)
        return
    t = Table(title=f"{len(rows)} trials")
    for col in ("id", "status", "model", "symbol", "sharpe", "max_drawdown", "created"):
        t.add_column(col)
    for r in rows:
        m = r.get("metrics") or {}
        add_row(
            t,
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
    d = _store().get(trial_id)
    if as_json:
        print_json(d)
        return
    console.print(
        f"[bold]{safe(d['id'])}[/] {safe(d['status'])}: {safe(d['model_id'])} on "
        f"{safe(d['symbol'])} ({safe(d['source'])})"
    )
    if d["status"] == "interrupted":
        o = d["owner"]
        console.print(
            f"[yellow]interrupted[/]: its process ({safe(o['pid'])} on {safe(o['host'])}, last "
            f"heartbeat {safe(o['heartbeat_at'])}) is gone; finish it with: "
            f"mltrainer trial resume {safe(d['id'])}"
        )
    if d["error"]:
        console.print(f"[red]error:[/] {safe(d['error'])}")
    if d["result"]:
        from ..trials.report import timing_text
        from ..trials.spec import TrialResult

        result = TrialResult.model_validate(d["result"])
        console.print(metrics_table(result, "metrics"))
        console.print(safe(timing_text(result)))
        console.print(f"data sha256 {d['data_hash']}\nspec sha256 {d['spec_hash']}")


@sub_app.command("resume")
def resume(
    trial_id: str,
    report: bool = typer.Option(True, help="Write the HTML and JSON report."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON only."),
) -> None:
    """Finish an interrupted trial (its process died) from its stored spec, under the same
    id. A trial that is done, failed or still running is refused (exit 2)."""
    from ..trials.report import write_report

    ex = _executor()
    if as_json:
        result = ex.runner.resume(trial_id, actor="cli")
    else:
        with fold_progress() as prog:
            task = prog.add_task(f"resume {trial_id}: folds", total=None)
            result = ex.runner.resume(
                trial_id,
                on_fold=lambda done, total: prog.update(task, completed=done, total=total),
                actor="cli",
            )
    paths = write_report(result, trial_id, ex.app.settings.reports_dir) if report else None
    if as_json:
        print_json(_result_json(trial_id, result, paths))
        return
    console.print(
        metrics_table(result, f"{trial_id} resumed and finished: {len(result.folds)} folds")
    )
    if paths:
        console.print(f"report: [cyan]{safe(paths[0])}[/] (JSON: {safe(paths[1])})")


@sub_app.command("replay")
def replay(
    trial_id: str, as_json: bool = typer.Option(False, "--json", help="Print JSON only.")
) -> None:
    """Re-run a stored trial with its stored spec and DSR context and compare every value
    the stored result holds (timings and versions are shown, not compared). Exit 0 when
    identical, 1 listing the differences. A replay is not stored as a new trial."""
    from ..trials.replay import NOT_COMPARED, replay_trial

    ex = _executor()

    def go(on_fold=None):
        return replay_trial(
            ex.engine, ex.store, ex.app.audit, trial_id, on_fold=on_fold, actor="cli"
        )

    if as_json:
        rep = go()
    else:
        with fold_progress() as prog:
            task = prog.add_task(f"replay {trial_id}: folds", total=None)
            rep = go(lambda done, total: prog.update(task, completed=done, total=total))
    out = rep.to_dict()
    if as_json:
        print_json(out)
        raise typer.Exit(0 if rep.identical else 1)
    counts = ", ".join(f"{k} {v}" for k, v in rep.compared.items())
    seal = {"matches": "matches its seal", "differs": "DIFFERS from its seal", "none": "unsealed"}
    head = "[green]identical[/]" if rep.identical else "[bold red]differences[/]"
    console.print(
        f"{head}: {safe(trial_id)} ({seal.get(rep.seal or 'none')}): compared "
        f"{out['values_compared']} values ({safe(counts)}); {rep.n_differences} differ"
    )
    console.print(f"not compared: {', '.join(NOT_COMPARED)}")
    if rep.only_in_replay:
        console.print(f"only in the replay (not stored): {safe(', '.join(rep.only_in_replay))}")
    for k, v in rep.differences.items():
        console.print(f"  {safe(k)}: stored {safe(v['stored'])} replayed {safe(v['replayed'])}")
    if rep.n_differences > len(rep.differences):
        console.print(f"  ... and {rep.n_differences - len(rep.differences)} more")
    raise typer.Exit(0 if rep.identical else 1)
