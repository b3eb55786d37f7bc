"""What every page shares: the API client, error display, text escaping, number formats.

Text from a user, a model or the data is never rendered as HTML: Streamlit's markdown
does not render HTML unless asked (this UI never asks for user or model content), and
:func:`literal` escapes markdown too, so ``**x**`` or ``:red[x]`` typed by a user shows
as typed.
"""

from __future__ import annotations

import math
import os
import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import streamlit as st

from . import ENV_API_URL, ENV_TOKEN
from .client import ApiClient, ApiError

__all__ = [
    "api",
    "guard",
    "literal",
    "code",
    "model_markdown",
    "num",
    "pct",
    "inject_css",
    "DEFAULT_API_URL",
]

DEFAULT_API_URL = "http://127.0.0.1:8000"
_CSS = Path(__file__).with_name("style.css")
_MD_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+\-.!|<>$~:=^&])")


@st.cache_resource(show_spinner=False)
def _client(base_url: str, token: str | None) -> ApiClient:
    return ApiClient(base_url, token)


def api() -> ApiClient:
    """The process's API client (one connection pool shared by every session), built
    from ``MLTRAINER_UI_API_URL`` and ``MLTRAINER_UI_TOKEN`` as ``mltrainer up`` sets them."""
    return _client(os.environ.get(ENV_API_URL) or DEFAULT_API_URL, os.environ.get(ENV_TOKEN))


@contextmanager
def guard(what: str | None = None) -> Iterator[None]:
    """Show an API failure inside the block as a readable message (its problem detail),
    never as a traceback; the rest of the page still renders."""
    try:
        yield
    except ApiError as e:
        prefix = f"{what}: " if what else ""
        st.error(literal(f"{prefix}{e.detail}"), icon=":material/error:")


def literal(text: Any) -> str:
    """``text`` escaped for ``st.markdown``: every markdown character is shown as typed
    (and newlines stay line breaks)."""
    s = "" if text is None else str(text)
    return _MD_SPECIAL.sub(r"\\\1", s).replace("\n", "  \n")


def code(text: Any) -> str:
    """``text`` as an inline code span (shown verbatim: nothing inside is markdown)."""
    s = ("" if text is None else str(text)).replace("\n", " ")
    fence = "`" * (max((len(m) for m in re.findall(r"`+", s)), default=0) + 1)
    pad = " " if s.startswith("`") or s.endswith("`") else ""
    return f"{fence}{pad}{s}{pad}{fence}"


def model_markdown(text: str) -> str:
    """An agent's reply as markdown (bold, lists and code render), with what must not:
    ``$`` (LaTeX), ``~`` (strike-through) and images (``![...](...)``, a request to any
    host) escaped. HTML is never rendered in any case."""
    return text.replace("\\$", "$").replace("$", "\\$").replace("~", "\\~").replace("![", "!\\[")


def num(x: Any, digits: int = 4) -> str:
    """A number as the API gave it, rounded for display (``n/a`` when undefined)."""
    if x is None or isinstance(x, bool):
        return "n/a" if x is None else str(x)
    if isinstance(x, int):
        return f"{x:,}"
    if isinstance(x, float):
        return "n/a" if not math.isfinite(x) else f"{x:.{digits}f}"
    return str(x)


def pct(x: Any, digits: int = 2) -> str:
    """A fraction shown as a percentage (``-0.1483`` is ``-14.83%``)."""
    if isinstance(x, int | float) and not isinstance(x, bool) and math.isfinite(x):
        return f"{x * 100:.{digits}f}%"
    return "n/a"


def inject_css() -> None:
    """The mobile rules of ``style.css`` (no horizontal overflow, tables scroll inside
    their own box, long ids wrap)."""
    st.html(_CSS)
