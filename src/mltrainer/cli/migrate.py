"""``mltrainer migrate LEGACY_DIR``: bring the earlier versions' logs into mlTrainer."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import typer

from ._common import add_row, console, err_console, fold_progress, make_app, print_json, safe

if TYPE_CHECKING:
    from ..migrate import MigrationReport

_PROGRESS_BYTES = 4 * 1024 * 1024
"""Folders at least this large show a progress bar (on stderr, never with --json)."""


def register(app: typer.Typer) -> None:
    app.command("migrate")(migrate)


def migrate(
    legacy_dir: Path = typer.Argument(
        ...,
        metavar="LEGACY_DIR",
        help="The folder that holds logs/ (or logs/ itself) of an earlier mlTrainer.",
    ),
    dry_run: bool = typer.Option(
        False, "--dry-run", help="Report what would be imported; write nothing."
    ),
    skip_bad_lines: bool = typer.Option(
        False, "--skip-bad-lines", help="Import the rest when lines are bad, and list each one."
    ),
    as_json: bool = typer.Option(False, "--json", help="Print the report as JSON only."),
) -> None:
    """Import chat history, memory, goals, agent actions, trial feedback and compliance logs
    of the earlier versions, in one transaction. Running it again imports nothing new.
    Exit 0 when done, 2 on bad input (nothing imported; the message names file and line)."""
    from ..errors import InputError
    from ..migrate import open_migrator

    if not legacy_dir.is_dir():
        _fail(f"{legacy_dir} is not a folder; give the folder that holds logs/", as_json)
    app = make_app()
    try:
        migrator = open_migrator(app)
        size = sum(p.stat().st_size for p in legacy_dir.rglob("*") if p.is_file())
        if as_json or size < _PROGRESS_BYTES:
            report = migrator.run(legacy_dir, dry_run=dry_run, skip_bad_lines=skip_bad_lines)
        else:
            with fold_progress() as bar:
                task = bar.add_task("reading", total=None)

                def progress(stage: str, done: int, total: int) -> None:
                    bar.update(task, description=stage, completed=done, total=total)

                report = migrator.run(
                    legacy_dir, dry_run=dry_run, skip_bad_lines=skip_bad_lines, progress=progress
                )
    except InputError as e:
        _fail(str(e), as_json)
    finally:
        app.close()
    if as_json:
        print_json(report.model_dump(mode="json"))
        return
    _show(report)


def _fail(message: str, as_json: bool) -> None:
    if as_json:
        print_json({"ok": False, "error": message})
    err_console.print(f"[bold red]error:[/] {safe(message)}")
    raise typer.Exit(2)


def _show(report: MigrationReport) -> None:
    from rich.table import Table

    title = "Migration (dry run: nothing written)" if report.dry_run else "Migration"
    t = Table(title=title)
    for col in ("file", "kind", "read", "imported", "already", "dupes", "skipped", "status"):
        t.add_column(col, overflow="fold")
    for f in report.files:
        add_row(
            t,
            f.path,
            f.kind,
            f.read,
            f.imported,
            f.already_present,
            f.duplicates,
            len(f.skipped),
            f.status,
        )
    tot = report.totals
    add_row(
        t,
        "total",
        f"{tot.recognised} files",
        tot.read,
        tot.imported,
        tot.already_present,
        tot.duplicates,
        tot.skipped,
        "",
        style="bold",
    )
    console.print(t)
    for n in report.notes:
        console.print(f"[dim]{safe(n)}[/]")
    for f in report.files:
        for s in f.skipped:
            console.print(f"[yellow]skipped[/] {safe(f.path)} {safe(s.where)}: {safe(s.reason)}")
        for n in f.notes:
            console.print(f"[dim]{safe(f.path)}: {safe(n)}[/]")
    console.print(
        f"messages {tot.messages}, goals {tot.goals}, audit records {tot.audit_records}, "
        f"suggestions {tot.suggestions} (never run), invalid trial configs "
        f"{tot.invalid_trial_configs}, legacy outcomes {tot.legacy_outcomes}"
    )
    g = report.goal
    what = f"{g.outcome}" + (f" ({safe(g.goal_id)}: {safe(g.text)})" if g.goal_id else "")
    console.print(f"legacy goal: [bold]{what}[/] - {safe(g.detail)}")
    colour = "yellow" if report.already_imported else "green"
    console.print(f"[{colour}]{safe(report.summary)}[/]")
