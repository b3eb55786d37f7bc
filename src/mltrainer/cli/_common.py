"""Shared CLI helpers: consoles, building the App, JSON output."""

from __future__ import annotations

import json
import math
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from ..app import App

console = Console()
err_console = Console(stderr=True)


def make_app() -> App:
    return App()


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
    """The progress bar shown (on stderr) while a trial's folds run."""
    return Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=err_console,
        transient=True,
    )
