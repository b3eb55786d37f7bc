"""``mltrainer audit|compliance|db``: the audit chain, policy checks, schema upgrades."""

from __future__ import annotations

import typer
from rich.table import Table

from ._common import (
    add_row,
    console,
    err_console,
    make_app,
    print_json,
    require_message_size,
    safe,
)

audit_app = typer.Typer(help="The hash-chained audit log.", no_args_is_help=True)
compliance_app = typer.Typer(help="The compliance gateway.", no_args_is_help=True)
db_app = typer.Typer(help="Database schema.", no_args_is_help=True)


@audit_app.command("verify")
def audit_verify(as_json: bool = typer.Option(False, "--json", help="Print JSON only.")) -> None:
    """Check the chain, the chain against every signed checkpoint, and every stored trial
    result and goal against its seal. Exit 0 when all hold, 1 naming the first problem."""
    from ..seals import verify_seals

    app = make_app()
    rep = app.audit.verify()
    seals = verify_seals(app.audit) if rep.ok else None
    ok = rep.ok and seals is not None and seals.ok
    problem = rep.problem if not rep.ok else (seals.problem if seals else None)
    if as_json:
        print_json(
            {
                "ok": ok,
                "records": rep.records,
                "checkpoints": rep.checkpoints,
                "checkpoint_file": rep.checkpoint_file,
                "torn_checkpoint_lines": rep.torn_checkpoint_lines,
                "seals": seals.seals if seals else 0,
                "unsealed": seals.unsealed if seals else [],
                "first_bad_seq": rep.first_bad_seq,
                "first_bad_subject": seals.subject if seals else None,
                "problem": problem,
            }
        )
    elif ok and seals is not None:
        console.print(
            f"[green]audit log intact[/]: {rep.records} records, {rep.checkpoints} signed "
            f"checkpoints ({safe(rep.checkpoint_file)}), {seals.seals} sealed results verified"
        )
        if rep.torn_checkpoint_lines:
            console.print(f"{rep.torn_checkpoint_lines} torn checkpoint line(s) skipped")
        if seals.unsealed:
            console.print(
                f"[yellow]{len(seals.unsealed)} stored results carry no seal[/] (written before "
                f"sealing, or outside mlTrainer): {safe(', '.join(seals.unsealed[:10]))}"
            )
    else:
        where = f" at record {rep.first_bad_seq}" if rep.first_bad_seq else ""
        err_console.print(f"[bold red]audit log BROKEN[/]{where}: {safe(problem)}")
    raise typer.Exit(0 if ok else 1)


@audit_app.command("checkpoint")
def audit_checkpoint() -> None:
    """Write a signed checkpoint of the chain's head now. Also starts the checkpoint file of
    a log written before checkpoints existed (verify the log first)."""
    app = make_app()
    cp = app.audit.checkpoints
    if cp is None:
        raise typer.Exit(1)
    cp.create()
    wrote = app.audit.checkpoint()
    what = "written" if wrote else "already up to date"
    console.print(f"checkpoint {what}: {safe(cp.path)}")


@audit_app.command("tail")
def audit_tail(
    n: int = typer.Option(20, "-n", min=1, max=100_000, help="How many records (1-100000)."),
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
        add_row(t, r.seq, r.ts[:19], r.kind, r.actor, payload[:120], r.hash[:12])
    console.print(t)


@compliance_app.command("check")
def compliance_check(
    text: str,
    as_json: bool = typer.Option(False, "--json", help="Print JSON only."),
) -> None:
    """Check a request or goal text. Exit 0 when allowed, 1 when rejected, 2 when the
    text is longer than MLTRAINER_MAX_MESSAGE_BYTES."""
    require_message_size(text, "text")
    app = make_app()
    d = app.gateway.check_text(text, actor="cli")
    if as_json:
        print_json({"allowed": d.allowed, "reason": d.reason})
    elif d.allowed:
        console.print(f"[green]allowed[/]: {safe(d.reason)}")
    else:
        console.print(f"[bold red]rejected[/]: {safe(d.reason)}")
    raise typer.Exit(0 if d.allowed else 1)


@db_app.command("upgrade")
def db_upgrade() -> None:
    """Apply pending schema migrations (also done automatically on every start)."""
    app = make_app()
    from .. import db

    db.upgrade(app.engine)
    console.print(f"database at revision [bold]{db.current_revision(app.engine)}[/]")
