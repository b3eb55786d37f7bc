"""``mltrainer models``: the model registry (learning models and financial models)."""

from __future__ import annotations

import typer
from rich.table import Table

from ..errors import NotFound
from ._common import add_row, console, one_of, print_json, safe

sub_app = typer.Typer(help="The model registry.", no_args_is_help=True)


def _registry():
    from ..models.registry import build_registry

    return build_registry()


@sub_app.command("list")
def list_(
    family: str | None = typer.Option(
        None, help="Only this family, e.g. lightgbm, linear, regime."
    ),
    task: str | None = typer.Option(
        None,
        help="Only this task: regression, classification, forecast, volatility, strategy, pricing, portfolio, risk.",
    ),
    as_json: bool = typer.Option(False, "--json", help="Print JSON only."),
) -> None:
    """List models with their family, task and library."""
    from ..financial import FINANCIAL

    reg = _registry()
    one_of(family, [*reg.families(), *(f.category for f in FINANCIAL.values())], "--family")
    one_of(task, [*(s.task for s in reg), *(f.task for f in FINANCIAL.values())], "--task")
    rows = [s.summary() for s in reg.filter(family=family, task=task)]
    rows += [
        {
            "id": f.id,
            "family": f.category,
            "task": f.task,
            "library": "mltrainer.financial",
            "description": f.description,
            "available": True,
        }
        for f in FINANCIAL.values()
        if (family is None or f.category == family) and (task is None or f.task == task)
    ]
    if as_json:
        print_json(rows)
        return
    t = Table(title=f"{len(rows)} models")
    for col in ("id", "family", "task", "library", "description"):
        t.add_column(col, overflow="fold")
    for r in rows:
        style = None if r.get("available", True) else "dim"
        add_row(
            t,
            r["id"],
            r["family"],
            r["task"],
            r["library"],
            r["description"] + ("" if r.get("available", True) else "  [unavailable]"),
            style=style,
        )
    console.print(t)


@sub_app.command("show")
def show(
    model_id: str, as_json: bool = typer.Option(False, "--json", help="Print JSON only.")
) -> None:
    """Description, library, task, defaults and search space of one model."""
    from ..financial import FINANCIAL

    reg = _registry()
    if model_id in reg:
        info = reg.get(model_id).summary()
    elif model_id in FINANCIAL:
        f = FINANCIAL[model_id]
        info = {
            "id": f.id,
            "family": f.category,
            "task": f.task,
            "library": "mltrainer.financial",
            "description": f.description,
            "parameters": f.params.model_json_schema().get("properties", {}),
        }
    else:
        reg.get(model_id)  # raises NotFound with suggestions
        raise NotFound(model_id)
    if as_json:
        print_json(info)
        return
    t = Table(title=safe(info["id"]), show_header=False)
    for k, v in info.items():
        add_row(t, k, v)
    console.print(t)
