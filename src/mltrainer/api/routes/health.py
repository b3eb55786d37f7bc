"""``GET /health``: liveness without a token (nothing private in it)."""

from __future__ import annotations

from fastapi import APIRouter

from ... import db
from ..deps import ServicesDep
from ..schemas import Health

router = APIRouter(tags=["health"])


@router.get("/health", response_model=Health)
def health(services: ServicesDep) -> Health:
    from ... import __version__

    return Health(status="ok", version=__version__, schema_revision=db.SCHEMA_HEAD)
