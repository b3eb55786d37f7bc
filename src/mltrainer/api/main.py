"""Assembles the FastAPI application: lifespan, middleware, error handlers, routers."""

from __future__ import annotations

import json
import math
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import APIRouter, Depends, FastAPI
from fastapi.responses import JSONResponse

from ..settings import Settings, load_settings
from . import API_PREFIX
from .deps import Services, require_token
from .errors import BodySizeLimit, install_error_handlers
from .routes import PROTECTED, health

__all__ = ["build", "FiniteJSONResponse"]


def _finite(obj: Any) -> Any:
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    if isinstance(obj, dict):
        return {k: _finite(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [_finite(v) for v in obj]
    return obj


class FiniteJSONResponse(JSONResponse):
    """JSON with NaN and infinities as ``null`` (an undefined metric is null, not an error)."""

    def render(self, content: Any) -> bytes:
        return json.dumps(_finite(content), ensure_ascii=False, separators=(",", ":")).encode()


def build(settings: Settings | None = None) -> FastAPI:
    from .. import __version__

    settings = settings or load_settings()

    @asynccontextmanager
    async def lifespan(api: FastAPI) -> AsyncIterator[None]:
        from ..app import App

        services = Services.build(App(settings))
        api.state.services = services
        try:
            yield
        finally:
            services.close()

    api = FastAPI(
        title="mlTrainer API",
        version=__version__,
        description="ML trading research on real market data, with compliance and an audit "
        "trail. Every route but /api/v1/health needs `Authorization: Bearer <token>` "
        "(mltrainer token create NAME --scope read|write).",
        lifespan=lifespan,
        default_response_class=FiniteJSONResponse,
    )
    api.add_middleware(BodySizeLimit, max_bytes=settings.api_max_body_bytes)
    install_error_handlers(api)
    api.include_router(health.router, prefix=API_PREFIX)
    protected = APIRouter(prefix=API_PREFIX, dependencies=[Depends(require_token)])
    for module in PROTECTED:
        protected.include_router(module.router)
    api.include_router(protected)
    return api
