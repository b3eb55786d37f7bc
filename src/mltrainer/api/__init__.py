"""The REST API (FastAPI) under ``/api/v1``: routes validate, call services, map errors.

``create_app(settings)`` builds the FastAPI application; FastAPI is imported only when it
is called, so ``mltrainer token ...`` (which uses :mod:`.tokens`) stays light.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from fastapi import FastAPI

    from ..settings import Settings

__all__ = ["create_app", "API_PREFIX"]

API_PREFIX = "/api/v1"


def create_app(settings: Settings | None = None) -> FastAPI:
    """The API application; one App and one executor live from startup to shutdown."""
    from .main import build

    return build(settings)
