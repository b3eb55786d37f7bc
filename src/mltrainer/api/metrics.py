"""``/metrics``: Prometheus text (prometheus-client) for the API and the research state.

Each app has its own :class:`~prometheus_client.CollectorRegistry` (no process-global
state, so two apps in one process, as in the tests, never share counters). Two kinds:

- request counters and latency histograms, labelled by the route's path *template*
  (``/api/v1/trials/{trial_id}``, never the raw path, so label cardinality stays bounded),
  recorded by a pure ASGI middleware (it does not buffer streaming responses);
- gauges read from the database at scrape time: trials, runs and steps by status, memory
  messages, audit records, live workers. They are the stores' own counts, so a scrape
  shows what ``mltrainer run list`` would.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector
from starlette.types import ASGIApp, Message, Receive, Scope, Send

if TYPE_CHECKING:
    from .deps import Services

__all__ = ["ApiMetrics", "MetricsMiddleware"]


class _StateCollector(Collector):
    """Database-backed gauges, computed on each scrape from the running services."""

    def __init__(self, services: Callable[[], Services | None]):
        self._services = services

    def collect(self) -> Iterator[GaugeMetricFamily]:
        services = self._services()
        if services is None:  # before the lifespan started
            return
        counts = services.runs.status_counts()
        for name, doc in (("runs", "Background runs"), ("steps", "Run steps")):
            g = GaugeMetricFamily(f"mltrainer_{name}", f"{doc} by status", labels=["status"])
            for status, n in sorted(counts[name].items()):
                g.add_metric([status], n)
            yield g
        simple: tuple[tuple[str, str, Any], ...] = (
            ("mltrainer_trials", "Trials stored", services.executor.store.count()),
            ("mltrainer_memory_messages", "Messages in memory", services.memory.count()),
            ("mltrainer_audit_records", "Records in the audit log", services.app.audit.count()),
            (
                "mltrainer_workers_alive",
                "Workers that beat within the step lease",
                len(services.runs.live_workers(services.app.settings.step_lease_s)),
            ),
        )
        for metric, doc, value in simple:
            yield GaugeMetricFamily(metric, doc, value=value)


class ApiMetrics:
    """The registry of one app: request metrics plus the state collector."""

    def __init__(self, services: Callable[[], Services | None]):
        self.registry = CollectorRegistry(auto_describe=True)
        self.requests = Counter(
            "mltrainer_http_requests",
            "HTTP requests answered",
            ["method", "route", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "mltrainer_http_request_duration_seconds",
            "Time to the response's first byte",
            ["method", "route"],
            registry=self.registry,
        )
        self.registry.register(_StateCollector(services))

    def render(self) -> bytes:
        from prometheus_client import generate_latest

        return generate_latest(self.registry)


class MetricsMiddleware:
    """Counts every HTTP request by method, route template and status."""

    def __init__(self, app: ASGIApp, metrics: ApiMetrics):
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        status = 500
        route: str | None = None

        async def send_and_measure(msg: Message) -> None:
            nonlocal status, route
            if msg["type"] == "http.response.start":
                status = int(msg["status"])
                route = _route(scope)
                self.metrics.latency.labels(scope["method"], route).observe(
                    time.perf_counter() - start
                )
            await send(msg)

        try:
            await self.app(scope, receive, send_and_measure)
        finally:
            label = route if route is not None else _route(scope)
            self.metrics.requests.labels(scope["method"], label, str(status)).inc()


_PARAM = re.compile(r"\{(\w+)(?::\w+)?\}")


def _route(scope: Scope) -> str:
    """The matched route's full path template. A route of an included router reports its
    path relative to the router's prefix, so the prefix is read off the concrete path."""
    route = scope.get("route")
    template = getattr(route, "path", None)
    if not isinstance(template, str):
        return "(unmatched)"
    params = scope.get("path_params") or {}
    suffix = _PARAM.sub(lambda m: str(params.get(m.group(1), m.group(0))), template)
    path = str(scope.get("path", ""))
    return path[: len(path) - len(suffix)] + template if path.endswith(suffix) else template
