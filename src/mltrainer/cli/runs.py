"""``mltrainer run ...`` (background runs of steps) and ``mltrainer worker``."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

from ._common import add_row, console, err_console, fmt, make_app, one_of, print_json, safe

if TYPE_CHECKING:  # the runs modules load SQLAlchemy models: imported where used
    from ..runs.store import RunStore

run_app = typer.Typer(
    help="Background runs: lists of steps that workers execute.", no_args_is_help=True
)

_STATUSES = ("proposed", "queued", "running", "paused", "cancelled", "finished")


def register(app: typer.Typer) -> None:
    app.add_typer(run_app, name="run")
    app.command("worker")(worker)


def _store() -> RunStore:
    from ..runs.store import RunStore

    app = make_app()
    return RunStore(app.engine, app.audit, app.scrub, max_attempts=app.settings.step_max_attempts)


def _read_steps(path: str) -> Any:
    import json

    from ..errors import InputError

    try:
        text = sys.stdin.read() if path == "-" else Path(path).read_text(encoding="utf-8")
    except OSError as e:
        raise InputError(f"cannot read {path}: {e.strerror or e}") from None
    try:
        steps = json.loads(text)
    except ValueError as e:
        raise InputError(f"{'standard input' if path == '-' else path} is not JSON: {e}") from None
    if not isinstance(steps, list):
        raise InputError(
            "expected a JSON list of steps, e.g. "
            '[{"action": "train_model", "params": {"model_id": "ridge", "symbol": "SPX"}}]'
        )
    return steps


@run_app.command("submit")
def submit(
    file: str = typer.Argument(..., help="JSON file with a list of steps, or - for stdin."),
    kind: str = typer.Option("batch", help="batch or plan."),
    goal: str | None = typer.Option(None, help="Goal id the run works toward (DSR scope)."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON only."),
) -> None:
    """Queue a run: a JSON list of {"action": ..., "params": {...}} steps. Every step is
    validated before anything is stored (bad input: exit 2, nothing written); a step the
    compliance gateway refuses is stored as refused and the rest run."""
    one_of(kind, ("batch", "plan"), "--kind")
    steps = _read_steps(file)
    from ..executor import UnifiedExecutor
    from ..runs.store import RunStore

    ex = UnifiedExecutor(make_app())
    store = RunStore.for_executor(ex)
    run_id = store.create_run(kind, steps, owner="cli", goal_id=goal)
    d = store.get(run_id)
    if as_json:
        print_json(d)
        return
    console.print(f"[green]queued[/] {safe(run_id)}: {len(d['steps'])} steps")
    _steps_table(d)
    if not any(s["status"] == "queued" for s in d["steps"]):
        return
    console.print("run the steps with: [cyan]mltrainer worker[/] (or chat/ask starts one)")


def _step_summary(s: dict[str, Any]) -> str:
    p = s["params"]
    keys = ("model_id", "model_ids", "symbol", "horizon", "max_folds")
    return ", ".join(f"{k}={p[k]}" for k in keys if k in p) or ", ".join(
        f"{k}={v}" for k, v in p.items()
    )


def _steps_table(d: dict[str, Any]) -> None:
    from rich.table import Table

    t = Table(title=f"{d['id']} steps")
    for c in ("seq", "action", "params", "status", "attempts", "folds", "sharpe", "trial", "error"):
        t.add_column(c, overflow="fold")
    for s in d["steps"]:
        prog = s["progress"] or {}
        folds = f"{prog['folds_done']}/{prog['folds_total']}" if prog else ""
        metrics = (s["outcome"] or {}).get("metrics") or {}
        add_row(
            t,
            s["seq"],
            s["action"],
            _step_summary(s),
            s["status"],
            f"{s['attempts']}/{s['max_attempts']}",
            folds,
            fmt(metrics.get("sharpe")),
            s["trial_id"] or "",
            (s["error"] or "")[:200],
        )
    console.print(t)


@run_app.command("list")
def list_(
    status: str | None = typer.Option(None, help="Only runs with this status."),
    limit: int = typer.Option(20, min=1, max=100_000, help="How many (1-100000)."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON only."),
) -> None:
    """Runs, newest first."""
    one_of(status, _STATUSES, "--status")
    rows = _store().list(limit=limit, status=status)
    if as_json:
        print_json(rows)
        return
    from rich.table import Table

    t = Table(title=f"{len(rows)} runs")
    for c in ("id", "kind", "status", "reason", "steps", "owner", "created"):
        t.add_column(c)
    for r in rows:
        add_row(
            t,
            r["id"],
            r["kind"],
            r["status"],
            r["finish_reason"] or "",
            f"{r['steps_done']}/{r['steps_total']}",
            r["owner"],
            (r["created_at"] or "")[:19],
        )
    console.print(t)


def _header(d: dict[str, Any]) -> None:
    reason = f" ({d['finish_reason']})" if d["finish_reason"] else ""
    console.print(
        f"[bold]{safe(d['id'])}[/] {safe(d['kind'])} run, {safe(d['status'])}{safe(reason)}: "
        f"{d['steps_done']}/{d['steps_total']} steps final; owner {safe(d['owner'])}, "
        f"created {safe((d['created_at'] or '')[:19])}"
    )
    if d["error"]:
        console.print(f"[red]error:[/] {safe(d['error'])}")


@run_app.command("show")
def show(
    run_id: str, as_json: bool = typer.Option(False, "--json", help="Print JSON only.")
) -> None:
    """A run and every step: what it does, its status, attempts, progress and outcome."""
    d = _store().get(run_id)
    if as_json:
        print_json(d)
        return
    _header(d)
    if d["status"] == "proposed":
        console.print(f"proposed: nothing runs until [cyan]mltrainer run approve {safe(run_id)}[/]")
    _steps_table(d)


def _control(verb: str, run_id: str, as_json: bool) -> None:
    store = _store()
    getattr(store, verb)(run_id, actor="cli")
    d = store.get(run_id)
    if as_json:
        print_json({k: v for k, v in d.items() if k != "steps"})
        return
    _header(d)


@run_app.command("cancel")
def cancel(run_id: str, as_json: bool = typer.Option(False, "--json")) -> None:
    """Cancel a run: queued steps now, a running step at its next fold."""
    _control("cancel", run_id, as_json)


@run_app.command("pause")
def pause(run_id: str, as_json: bool = typer.Option(False, "--json")) -> None:
    """Pause a run: no new step starts; a running step stops at its next fold and is
    queued again (its attempt is not counted)."""
    _control("pause", run_id, as_json)


@run_app.command("resume")
def resume(run_id: str, as_json: bool = typer.Option(False, "--json")) -> None:
    """Resume a paused run."""
    _control("resume", run_id, as_json)


@run_app.command("approve")
def approve(run_id: str, as_json: bool = typer.Option(False, "--json")) -> None:
    """Approve a proposed run (an agent's plan), so workers start on it."""
    _control("approve", run_id, as_json)


def report_data(d: dict[str, Any]) -> dict[str, Any]:
    """Counts, durations and the per-step metrics of a run (``run report``)."""
    counts: dict[str, int] = {}
    rows = []
    for s in d["steps"]:
        counts[s["status"]] = counts.get(s["status"], 0) + 1
        out = s["outcome"] or {}
        m = out.get("metrics") or {}
        rows.append(
            {
                "seq": s["seq"],
                "action": s["action"],
                "params": s["params"],
                "status": s["status"],
                "attempts": s["attempts"],
                "trial_id": s["trial_id"],
                "duration_s": out.get("duration_s"),
                "sharpe": m.get("sharpe"),
                "dsr": m.get("dsr"),
                "max_drawdown": m.get("max_drawdown"),
                "n_trials": out.get("n_trials"),
                "spec_hash": out.get("spec_hash"),
                "data_sha256": out.get("data_sha256"),
                "error": s["error"],
            }
        )
    secs = [r["duration_s"] for r in rows if r["duration_s"] is not None]
    return {
        "run": {k: v for k, v in d.items() if k not in ("steps", "summary")},
        "counts": counts,
        "step_seconds": round(sum(secs), 3),
        "steps": rows,
        "summary": d["summary"],
    }


@run_app.command("report")
def report(run_id: str, as_json: bool = typer.Option(False, "--json")) -> None:
    """What a run did: step counts, each step's metrics and hashes, errors, the summary."""
    d = _store().get(run_id)
    rep = report_data(d)
    if as_json:
        print_json(rep)
        return
    from rich.table import Table

    _header(d)
    counts = ", ".join(f"{k} {v}" for k, v in sorted(rep["counts"].items()))
    console.print(f"steps: {safe(counts)}; {rep['step_seconds']:.1f}s of step time")
    t = Table(title="outcomes")
    for c in (
        "seq",
        "action",
        "params",
        "status",
        "sharpe",
        "dsr",
        "max dd",
        "N",
        "seconds",
        "trial",
    ):
        t.add_column(c, overflow="fold")
    for r, s in zip(rep["steps"], d["steps"], strict=True):
        add_row(
            t,
            r["seq"],
            r["action"],
            _step_summary(s),
            r["status"],
            fmt(r["sharpe"]),
            fmt(r["dsr"]),
            fmt(r["max_drawdown"]),
            r["n_trials"] or "",
            fmt(r["duration_s"], 2),
            r["trial_id"] or "",
        )
    console.print(t)
    for r in rep["steps"]:
        if r["error"]:
            console.print(f"[red]step {r['seq']}[/]: {safe(r['error'])}")
    if rep["summary"]:
        console.print("summary: see --json (or mltrainer research report for a search run)")


def worker(
    concurrency: int | None = typer.Option(
        None,
        "--concurrency",
        "-c",
        min=1,
        max=256,
        help="Worker processes (default MLTRAINER_WORKERS); with MLTRAINER_EXECUTOR=ray, "
        "Ray tasks in flight (default one per cluster CPU).",
    ),
    once: bool = typer.Option(False, "--once", help="Stop when no claimable step is left."),
    max_seconds: float | None = typer.Option(None, min=0.1, help="Stop after this many seconds."),
    idle_exit: float | None = typer.Option(
        None, min=0.1, help="Stop after this many seconds without claimable work."
    ),
    as_json: bool = typer.Option(False, "--json", help="Print a JSON summary on exit."),
) -> None:
    """Run queued steps: claim, check, execute, record. Progress goes to stderr. SIGTERM or
    Ctrl-C stops it gracefully: a running step stops at its next fold and is queued again.
    With MLTRAINER_EXECUTOR=ray the steps run as Ray tasks (MLTRAINER_RAY_ADDRESS) and
    --concurrency caps the tasks in flight."""
    import signal
    import threading

    from ..settings import load_settings

    settings = load_settings()
    n = concurrency or settings.workers
    stop = threading.Event()

    def on_signal(signum: int, _frame: Any) -> None:
        if stop.is_set() and signum == signal.SIGINT:
            raise KeyboardInterrupt
        err_console.print(f"stopping ({signal.Signals(signum).name}): finishing at the next fold")
        set_from_signal(stop)

    from ..runs.worker import WorkerPool, run_worker, set_from_signal, stderr_event

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)

    if settings.executor == "ray":  # one driver here; the steps run as Ray tasks
        from ..runs.ray_backend import run_ray_workers

        make_app(settings).close()  # a database that cannot be used: exit 2 before Ray starts
        counts = run_ray_workers(
            settings,
            stop,
            once=once,
            max_seconds=max_seconds,
            concurrency=concurrency,  # unset: one task per cluster CPU
            idle_exit_s=idle_exit,
            on_event=stderr_event,
        )
        if as_json:
            print_json({"executor": "ray", "steps": counts})
        return
    if n == 1:
        app = make_app(settings)
        try:
            stats = run_worker(
                settings,
                stop_event=stop,
                once=once,
                max_seconds=max_seconds,
                idle_exit_s=idle_exit,
                on_event=stderr_event,
                app=app,
            )
        finally:
            app.close()
        if as_json:
            print_json({"workers": 1, "worker_id": stats.worker_id, "steps": stats.steps})
        return
    make_app(settings).close()  # migrate once, here, before the children start
    pool = WorkerPool(settings, n, once=once, max_seconds=max_seconds, idle_exit_s=idle_exit)
    pool.start()
    try:
        while pool.alive() and not stop.wait(0.5):
            pass
    finally:
        pool.stop()
    if as_json:
        print_json({"workers": n, "exit_codes": [p.exitcode for p in pool.processes]})
