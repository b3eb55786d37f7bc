"""The ``mltrainer`` command line (Typer + Rich).

Every list/show/run command takes ``--json`` and then prints machine-readable JSON only.
Errors are :class:`~mltrainer.errors.MLTrainerError` messages in red with exit code 2
(compliance refusals and failed verifications exit 1, as documented per command).
"""

from __future__ import annotations

import logging
import sys
from typing import NoReturn

import typer

from ..errors import ComplianceError, MLTrainerError, describe_validation_error
from ._common import console, err_console, safe
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
        ("runs", None),
        ("research", "research"),
        ("tokens", "token"),
        ("serve", None),
        ("up", None),
        ("migrate", None),
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
    from ..settings import load_settings

    load_settings()  # every MLTRAINER_* value is checked at start, whatever the command


def main() -> None:
    """Run the CLI. Every mlTrainer error and every rejected input (a pydantic
    ValidationError, e.g. a trial spec field out of range) is one message and exit 2."""
    try:
        app()
    except ComplianceError as e:  # a refusal, as `compliance check` reports one: exit 1
        _fail(str(e), code=1, label="refused")
    except MLTrainerError as e:
        _fail(str(e))
    except KeyboardInterrupt:
        err_console.print("[yellow]interrupted[/]")
        sys.exit(130)
    except Exception as e:
        # pydantic is not imported for --help; an error can only be its ValidationError
        # if pydantic was loaded by the command that raised it.
        pydantic = sys.modules.get("pydantic")
        if pydantic is None or not isinstance(e, pydantic.ValidationError):
            raise
        _fail(describe_validation_error(e, prefix=f"invalid {e.title}"))


def _fail(message: str, code: int = 2, label: str = "error") -> NoReturn:
    err_console.print(f"[bold red]{label}:[/] {safe(_scrubbed(message))}")
    sys.exit(code)


def _scrubbed(message: str) -> str:
    """The CLI edge: no configured secret's value is printed (see :mod:`mltrainer.scrub`)."""
    from ..scrub import Scrubber
    from ..settings import load_settings

    try:
        return Scrubber.of_installation(load_settings()).text(message)
    except Exception:  # the settings are the problem; their messages never hold a secret
        return message


__all__ += ["console"]
