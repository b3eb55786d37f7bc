"""Shared CLI helpers: consoles, building the App, JSON output, escaping for Rich.

Every string that comes from a user or from data goes through :func:`safe` (or
:func:`add_row` for table cells) before Rich renders it: Rich would otherwise read
``[/bold]`` or ``[link=...]`` in it as markup (a crash or a hyperlink) and echo ANSI
escapes raw. The consoles never highlight, so long user text costs linear time.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterable
from datetime import date
from typing import TYPE_CHECKING, Any

from rich.console import Console
from rich.markup import escape
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

from ..errors import ConfigError

if TYPE_CHECKING:  # settings load pydantic: imported when a command runs, not for --help
    from rich.table import Table

    from ..app import App
    from ..settings import Settings

console = Console(highlight=False)
err_console = Console(stderr=True, highlight=False)

# ANSI CSI/OSC sequences, then any other C0/C1 control (tab and newline stay) and the
# bidirectional overrides that can make text read differently from what it holds.
_ANSI = re.compile(r"\x1b\[[0-?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)?|\x1b[@-_]?")
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


def plain(text: Any) -> str:
    """``text`` as a string without ANSI escapes or control characters."""
    return _CONTROL.sub("", _ANSI.sub("", "" if text is None else str(text)))


def safe(text: Any) -> str:
    """User or data text, ready to embed in Rich markup: shown literally, never styled."""
    return escape(plain(text))


def add_row(table: Table, *cells: Any, style: str | None = None) -> None:
    """Add a table row whose cells are data (escaped), not markup; a ready
    :class:`rich.text.Text` cell (never parsed as markup) is kept as it is."""
    from rich.text import Text

    table.add_row(*(c if isinstance(c, Text) else safe(c) for c in cells), style=style)


def one_of(value: str | None, valid: Iterable[str], option: str) -> str | None:
    """``value`` when it is one of ``valid`` (or None); otherwise a usage error (exit 2)
    that lists the valid choices, so a typo is never an empty listing."""
    choices = sorted(set(valid))
    if value is not None and value not in choices:
        import typer

        raise typer.BadParameter(
            f"'{value}' is not one of: {', '.join(choices)}", param_hint=option
        )
    return value


def parse_date(text: str | None, option: str) -> date | None:
    """A ``YYYY-MM-DD`` option value, checked before anything runs (a usage error, exit 2)."""
    if not text:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        import typer

        raise typer.BadParameter(
            f"'{text}' is not a date; use YYYY-MM-DD", param_hint=option
        ) from None


def require_message_size(text: str, what: str = "message") -> None:
    """Refuse user text over ``MLTRAINER_MAX_MESSAGE_BYTES`` before anything reads it."""
    from ..settings import load_settings

    load_settings().require_message_size(text, what)


def make_app(settings: Settings | None = None) -> App:
    """Build the App from validated settings; a home, database or schema that cannot be
    used is one :class:`ConfigError` naming it (exit 2), not a traceback."""
    from ..app import App
    from ..settings import load_settings

    settings = settings or load_settings()
    try:
        return App(settings)
    except Exception as e:
        problem = start_problem(e, settings)
        if problem is None:
            raise
        raise ConfigError(problem) from e


def _masked_url(url: str) -> str:
    try:
        from sqlalchemy.engine import make_url

        return make_url(url).render_as_string(hide_password=True)
    except Exception:
        return re.sub(r"(://[^:/@\s]*:)[^@\s]*@", r"\1***@", url)


def start_problem(e: BaseException, settings: Settings) -> str | None:
    """The user-facing message for a configuration error raised while starting, or None."""
    from alembic.util.exc import CommandError
    from sqlalchemy.exc import ArgumentError, DBAPIError, SQLAlchemyError

    where = (
        f"MLTRAINER_DATABASE_URL={_masked_url(settings.database_url)}"
        if settings.database_url
        else f"database {settings.home / 'mltrainer.db'}"
    )
    if isinstance(e, CommandError) and "Can't locate revision" in str(e):
        return (
            f"{where} has a schema revision this version of mlTrainer does not know "
            f"({e}); it was made by a newer mlTrainer: upgrade mlTrainer or use another database"
        )
    if isinstance(e, ArgumentError):
        return f"{where} cannot be used: {e}"
    if isinstance(e, DBAPIError):
        return (
            f"{where} cannot be opened: {e.orig}; check that it is an mlTrainer database "
            "and is writable"
        )
    if isinstance(e, SQLAlchemyError):
        return f"{where} cannot be opened: {e}"
    if isinstance(e, OSError):
        name = f" ({e.filename})" if e.filename else ""
        return (
            f"MLTRAINER_HOME={settings.home} cannot be used: {e.strerror or e}{name}; "
            "point MLTRAINER_HOME at a writable folder"
        )
    return None


def _jsonable(obj: Any) -> Any:
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    if isinstance(obj, dict):
        return {str(k): _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [_jsonable(v) for v in obj]
    return obj


def print_json(obj: Any) -> None:
    """Machine-readable output only: plain JSON on stdout (NaN/inf become null)."""
    print(json.dumps(_jsonable(obj), indent=2, default=str))


def fmt(x: Any, digits: int = 4) -> str:
    if isinstance(x, float):
        if not math.isfinite(x):
            return "n/a"
        return f"{x:.{digits}g}" if abs(x) >= 1e4 or (0 < abs(x) < 1e-3) else f"{x:.{digits}f}"
    return "" if x is None else str(x)


def fold_progress() -> Progress:
    """The progress bar shown (on stderr) while a trial's folds run, with the time left
    estimated from the folds done so far."""
    return Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TextColumn("eta"),
        TimeRemainingColumn(),
        console=err_console,
        transient=True,
    )
