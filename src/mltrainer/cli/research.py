"""``mltrainer research start|report``: the goal-driven search with a sealed holdout."""

from __future__ import annotations

from pathlib import Path

import typer

from ._common import console, make_app, print_json, safe

sub_app = typer.Typer(
    help="Goal-driven search in the background, judged once on a sealed holdout.",
    no_args_is_help=True,
)


@sub_app.command("start")
def start(
    goal: str | None = typer.Option(None, help="Goal id (default: the active goal)."),
    symbol: str = typer.Option("SPX", help="Symbol to search on."),
    source: str = typer.Option("bundled", help="Data source id."),
    max_trials: int = typer.Option(..., min=1, max=10_000, help="At most this many trials."),
    max_minutes: float = typer.Option(
        ..., min=0.01, max=43_200, help="No new trial starts after this many minutes."
    ),
    workers: int = typer.Option(
        1, min=1, max=256, help="Trials proposed at a time (one per worker process)."
    ),
    max_folds: int | None = typer.Option(
        None, min=1, help="Keep only the last N walk-forward folds of each trial (quick runs)."
    ),
    no_worker: bool = typer.Option(
        False, "--no-worker", help="Do not start a background worker if none is running."
    ),
    as_json: bool = typer.Option(False, "--json", help="Print JSON only."),
) -> None:
    """Seal the holdout and start a search run; returns at once (workers do the trials).
    Bad input (no goal, a goal without constraints, an unknown symbol): exit 2, nothing
    stored."""
    from ..executor import UnifiedExecutor
    from ..research.search import SearchConfig, in_sample_end, sealed_from, start_search
    from ..runs.worker import ensure_workers

    cfg = SearchConfig(
        symbol=symbol,
        source=source,
        max_trials=max_trials,
        max_minutes=max_minutes,
        workers=workers,
        max_folds=max_folds,
    )
    app = make_app()
    ex = UnifiedExecutor(app)
    run_id = start_search(ex, cfg, goal_id=goal, owner="cli")
    pid = None if no_worker else ensure_workers(app)
    run = ex.runs.get(run_id)
    seal = sealed_from(app, run)
    if as_json:
        print_json(
            {
                "run_id": run_id,
                "status": run["status"],
                "goal_id": run["goal_id"],
                "sealed_from": seal,
                "in_sample_end": in_sample_end(seal),
                "worker_pid": pid,
                "config": run["config"],
            }
        )
        return
    console.print(
        f"[green]started[/] {safe(run_id)}: search on {safe(run['config']['search']['symbol'])}, "
        f"at most {max_trials} trials / {max_minutes:g} minutes; holdout sealed from "
        f"{safe(seal[:10])} (trials read data up to {safe(in_sample_end(seal))})"
    )
    if pid:
        console.print(f"background worker started (pid {pid})")
    console.print(f"follow it with [cyan]mltrainer research report {safe(run_id)}[/]")


@sub_app.command("report")
def report(
    run_id: str = typer.Argument(..., help="The search run's id."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON only."),
    html: Path | None = typer.Option(None, "--html", help="Also write an HTML report here."),
) -> None:
    """Leaderboard, holdout verdict constraint by constraint, PBO and N of a search run."""
    from ..errors import InputError
    from ..research.report import report_data, report_tables, write_html
    from ..runs.store import RunStore

    app = make_app()
    run = RunStore(app.engine, app.audit, app.scrub).get(run_id)
    if run["kind"] != "search":
        raise InputError(
            f"run '{run_id}' is a {run['kind']} run, not a search; see 'mltrainer run show'"
        )
    if html is not None:
        write_html(run, html)
    if as_json:
        print_json({**report_data(run), "html": str(html) if html else None})
        return
    console.print(report_tables(run))
    if html is not None:
        console.print(f"HTML report: {safe(str(html))}")
