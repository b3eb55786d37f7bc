"""``mltrainer financial``: pricing, portfolio and risk models."""

from __future__ import annotations

import json

import typer
from rich.table import Table

from ._common import add_row, console, print_json, safe

sub_app = typer.Typer(help="Financial models (pricing, portfolio, risk).", no_args_is_help=True)


def _value(text: str):
    try:
        return json.loads(text)
    except ValueError:
        if "," in text:
            return [t.strip() for t in text.split(",") if t.strip()]
        return text


@sub_app.command("run", context_settings={"allow_extra_args": True, "ignore_unknown_options": True})
def run(
    ctx: typer.Context,
    model_id: str = typer.Argument(..., help="Financial model id, e.g. black_scholes."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON only."),
) -> None:
    """Run a financial model: ``mltrainer financial run black_scholes --spot 100 --strike 100``."""
    from ..executor import UnifiedExecutor
    from ._common import make_app

    params: dict = {}
    args = list(ctx.args)
    while args:
        key = args.pop(0)
        if not key.startswith("--"):
            raise typer.BadParameter(f"expected --name value, got '{key}'")
        name = key[2:].replace("-", "_")
        if not args or args[0].startswith("--"):
            params[name] = True
        else:
            params[name] = _value(args.pop(0))
    from ..financial.registry import validate_params

    validate_params(model_id, params)  # bad input stops here, before anything is audited
    ex = UnifiedExecutor(make_app())
    res = ex.execute("run_financial", {"model_id": model_id, "params": params}, actor="cli")
    if not res["success"]:
        from ..errors import ModelError

        raise ModelError(res["error"])
    if as_json:
        print_json(res["data"])
        return
    t = Table(title=safe(model_id), show_header=False)
    for k, v in res["data"]["result"].items():
        add_row(t, k, json.dumps(v, default=str) if isinstance(v, dict | list) else v)
    console.print(t)
