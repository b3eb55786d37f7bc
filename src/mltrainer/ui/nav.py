"""The app's pages, defined once so that a page can link to another (``page("trials")``).

Streamlit needs the :class:`st.Page` objects built inside a script run; building them
again gives the same pages (a page is known by its ``url_path``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import streamlit as st

__all__ = ["PAGES", "pages", "page"]


def _view(name: str) -> Callable[[], None]:
    def run() -> None:
        import importlib

        importlib.import_module(f"mltrainer.ui.views.{name}").render()

    run.__name__ = f"page_{name}"
    return run


PAGES: dict[str, tuple[str, str]] = {
    "chat": ("Chat", ":material/chat:"),
    "trials": ("Trials", ":material/table_chart:"),
    "research": ("Research", ":material/science:"),
    "models": ("Models", ":material/category:"),
    "data": ("Data", ":material/database:"),
    "audit": ("Audit", ":material/verified:"),
    "migrate": ("Migrate", ":material/move_up:"),
}
"""url path -> (title, icon), in menu order; the first is the home page."""


def page(name: str) -> Any:
    title, icon = PAGES[name]
    return st.Page(
        _view(name), title=title, icon=icon, url_path=name, default=name == next(iter(PAGES))
    )


def pages() -> list[Any]:
    return [page(name) for name in PAGES]
