"""``mltrainer token create|list|revoke``: bearer tokens of the REST API."""

from __future__ import annotations

import typer

from ._common import add_row, console, make_app, one_of, print_json, safe

sub_app = typer.Typer(help="REST API bearer tokens (stored hashed).", no_args_is_help=True)


def _store():
    from ..api.tokens import TokenStore

    app = make_app()
    return TokenStore(app.engine, app.audit)


@sub_app.command("create")
def create(
    name: str = typer.Argument(..., help="A name for the token, e.g. phone (the audit actor)."),
    scope: str = typer.Option("read", help="read (GET routes) or write (every route)."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON only."),
) -> None:
    """Create a token and print it once: only its salted hash is stored."""
    one_of(scope, ("read", "write"), "--scope")
    token = _store().create(name, scope, actor="cli")
    if as_json:
        print_json({"name": name, "scope": scope, "token": token})
        return
    console.print(f"[green]token created[/] {safe(name)} ({safe(scope)}); it is shown only now:")
    console.print(token, markup=False, highlight=False)


@sub_app.command("list")
def list_(as_json: bool = typer.Option(False, "--json", help="Print JSON only.")) -> None:
    """Every token's name, scope and dates (never the token)."""
    rows = _store().list()
    if as_json:
        print_json([r.__dict__ for r in rows])
        return
    from rich.table import Table

    t = Table(title=f"{len(rows)} tokens")
    for c in ("name", "scope", "created", "last used", "revoked"):
        t.add_column(c)
    for r in rows:
        add_row(
            t,
            r.name,
            r.scope,
            r.created_at[:19],
            (r.last_used_at or "")[:19],
            (r.revoked_at or "")[:19],
        )
    console.print(t)


@sub_app.command("revoke")
def revoke(
    name: str, as_json: bool = typer.Option(False, "--json", help="Print JSON only.")
) -> None:
    """Revoke a token: requests bearing it get 401 from now on."""
    info = _store().revoke(name, actor="cli")
    if as_json:
        print_json(info.__dict__)
        return
    console.print(f"[yellow]revoked[/] {safe(name)}")
