"""The ``mltrainer`` command line (Typer + Rich).

Every list/show/run command takes ``--json`` and then prints machine-readable JSON only.
Errors are :class:`~mltrainer.errors.MLTrainerError` messages in red with exit code 2
(compliance refusals and failed verifications exit 1, as documented per command).
"""

from __future__ import annotations

import logging
import sys

import typer

from ..errors import MLTrainerError
from ._common import console, err_console
from .data import data_app
from .system import audit_app, compliance_app, db_app

__all__ = ["app", "main"]

app = typer.Typer(
    name="mltrainer",
    help="mlTrainer: ML trading research on real market data, with compliance and an audit trail.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
app.add_typer(data_app, name="data")
app.add_typer(audit_app, name="audit")
app.add_typer(compliance_app, name="compliance")
app.add_typer(db_app, name="db")


def _register_optional() -> None:
    """Sub-commands of the research and agent layers (added as those layers land)."""
    import importlib

    for module, name in (
        ("models", "models"),
        ("trials", "trial"),
        ("financial", "financial"),
        ("demo", None),
        ("agent", None),
    ):
        try:
            mod = importlib.import_module(f"{__package__}.{module}")
        except ModuleNotFoundError as e:
            if e.name and e.name.startswith(f"{__package__}.{module}"):
                continue
            raise
        mod.register(app) if name is None else app.add_typer(mod.sub_app, name=name)


_register_optional()


@app.callback()
def _root(
    verbose: bool = typer.Option(False, "--verbose", "-v", help="Log progress to stderr."),
) -> None:
    logging.basicConfig(
        level=logging.INFO if verbose else logging.WARNING,
        format="%(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )


def main() -> None:
    try:
        app()
    except MLTrainerError as e:
        err_console.print(f"[bold red]error:[/] {e}")
        sys.exit(2)
    except KeyboardInterrupt:
        err_console.print("[yellow]interrupted[/]")
        sys.exit(130)


__all__ += ["console"]
