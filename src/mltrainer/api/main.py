"""Assembles the FastAPI application: lifespan, middleware, error handlers, routers."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import APIRouter, Depends, FastAPI

from ..settings import Settings, load_settings
from . import API_PREFIX
from .deps import Services, require_token
from .encoding import FiniteJSONResponse
from .errors import BodySizeLimit, install_error_handlers
from .metrics import ApiMetrics, MetricsMiddleware
from .routes import PROTECTED, health
from .schemas import Problem

__all__ = ["build", "PROBLEMS"]

PROBLEMS: dict[int | str, dict[str, Any]] = {
    code: {"model": Problem, "description": why}
    for code, why in (
        (400, "the body could not be parsed (not JSON, or broken multipart)"),
        (401, "no bearer token, or an unknown or revoked one"),
        (403, "a read token on a write route, or the compliance gateway refused"),
        (404, "an unknown model, symbol, trial, run, goal or conversation"),
        (413, "the request body is over MLTRAINER_API_MAX_BODY_BYTES"),
        (422, "invalid input: the detail names the field and the reason"),
        (502, "the language-model provider failed"),
    )
}
"""Every error a protected route can answer, each with the one problem body."""


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
    metrics = ApiMetrics(lambda: getattr(api.state, "services", None))
    api.state.metrics = metrics
    api.add_middleware(BodySizeLimit, max_bytes=settings.api_max_body_bytes)
    api.add_middleware(MetricsMiddleware, metrics=metrics)
    install_error_handlers(api)
    api.include_router(health.router, prefix=API_PREFIX)
    protected = APIRouter(
        prefix=API_PREFIX, dependencies=[Depends(require_token)], responses=PROBLEMS
    )
    for module in PROTECTED:
        protected.include_router(module.router)
    api.include_router(protected)
    return api
