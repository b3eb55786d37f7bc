"""``mltrainer audit|compliance|db``: the audit chain, policy checks, schema upgrades."""

from __future__ import annotations

import typer
from rich.table import Table

from .. import db
from ._common import console, err_console, make_app, print_json

audit_app = typer.Typer(help="The hash-chained audit log.", no_args_is_help=True)
compliance_app = typer.Typer(help="The compliance gateway.", no_args_is_help=True)
db_app = typer.Typer(help="Database schema.", no_args_is_help=True)


@audit_app.command("verify")
def audit_verify(as_json: bool = typer.Option(False, "--json", help="Print JSON only.")) -> None:
    """Check the whole chain. Exit 0 when intact, 1 naming the first broken record."""
    app = make_app()
    rep = app.audit.verify()
    if as_json:
        print_json(
            {
                "ok": rep.ok,
                "records": rep.records,
                "first_bad_seq": rep.first_bad_seq,
                "problem": rep.problem,
            }
        )
    elif rep.ok:
        console.print(f"[green]audit log intact[/]: {rep.records} records verified")
    else:
        err_console.print(
            f"[bold red]audit log BROKEN[/] at record {rep.first_bad_seq}: {rep.problem}"
        )
    raise typer.Exit(0 if rep.ok else 1)


@audit_app.command("tail")
def audit_tail(
    n: int = typer.Option(20, "-n", help="How many records."),
    kind: str | None = typer.Option(None, help="Only records of this kind (e.g. compliance)."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON only."),
) -> None:
    """Show the newest records."""
    app = make_app()
    recs = app.audit.tail(n, kind=kind)
    if as_json:
        print_json([r.to_dict() for r in recs])
        return
    t = Table(title=f"Audit log (last {len(recs)})")
    for col in ("seq", "ts", "kind", "actor", "payload", "hash"):
        t.add_column(col, overflow="fold")
    for r in recs:
        payload = str(r.payload)
        t.add_row(str(r.seq), r.ts[:19], r.kind, r.actor, payload[:120], r.hash[:12])
    console.print(t)


@compliance_app.command("check")
def compliance_check(
    text: str,
    as_json: bool = typer.Option(False, "--json", help="Print JSON only."),
) -> None:
    """Check a request or goal text. Exit 0 when allowed, 1 when rejected."""
    app = make_app()
    d = app.gateway.check_text(text, actor="cli")
    if as_json:
        print_json({"allowed": d.allowed, "reason": d.reason})
    elif d.allowed:
        console.print(f"[green]allowed[/]: {d.reason}")
    else:
        console.print(f"[bold red]rejected[/]: {d.reason}")
    raise typer.Exit(0 if d.allowed else 1)


@db_app.command("upgrade")
def db_upgrade() -> None:
    """Apply pending schema migrations (also done automatically on every start)."""
    app = make_app()
    db.upgrade(app.engine)
    console.print(f"database at revision [bold]{db.current_revision(app.engine)}[/]")
