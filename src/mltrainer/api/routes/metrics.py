"""``/metrics``: Prometheus text exposition (a bearer token is needed, like every route but
``/health``; point the scraper's ``authorization`` at a read token)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response
from prometheus_client import CONTENT_TYPE_LATEST

router = APIRouter(tags=["metrics"])


@router.get(
    "/metrics",
    response_class=Response,
    responses={200: {"content": {CONTENT_TYPE_LATEST: {"schema": {"type": "string"}}}}},
)
def metrics(request: Request) -> Response:
    """Request counts and latencies per route; trials, runs and steps by status; memory,
    audit and worker gauges."""
    return Response(request.app.state.metrics.render(), media_type=CONTENT_TYPE_LATEST)
