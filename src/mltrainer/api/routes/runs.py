"""``/runs``: background runs of steps (workers execute them): create, list, control, report."""

from __future__ import annotations

import json
import threading
from typing import Any, Literal

from fastapi import APIRouter, Query
from fastapi.sse import EventSourceResponse

from ..deps import ServicesDep, TokenDep
from ..errors import problem_body
from ..schemas import RunCreate, RunPublic, RunReport, RunsPublic
from ..sse import SSE_RESPONSES, Emit, stream_from_thread

router = APIRouter(prefix="/runs", tags=["runs"])

RunStatus = Literal["proposed", "queued", "running", "paused", "cancelled", "finished"]


@router.post("", response_model=RunPublic, status_code=201)
def create_run(body: RunCreate, services: ServicesDep, token: TokenDep) -> dict[str, Any]:
    """Queue a run (every step validated first: a bad one is 422 and nothing is stored;
    a step the gateway refuses is stored as ``refused``). A background worker is started
    when none is alive, unless ``MLTRAINER_EMBEDDED_WORKERS=false`` (then run
    ``mltrainer worker``; ``mltrainer up`` runs a pool)."""
    from ...runs.worker import ensure_workers

    steps = [s.model_dump() for s in body.steps]
    run_id = services.runs.create_run(body.kind, steps, owner=token.name, goal_id=body.goal_id)
    ensure_workers(services.app)
    return services.runs.get(run_id)


@router.get("", response_model=RunsPublic)
def list_runs(
    services: ServicesDep,
    status: RunStatus | None = None,
    limit: int = Query(20, ge=1, le=1000),
) -> RunsPublic:
    rows = services.runs.list(limit=limit, status=status)
    return RunsPublic(data=[RunPublic(**r) for r in rows], count=len(rows))


@router.get("/{run_id}", response_model=RunPublic)
def get_run(run_id: str, services: ServicesDep) -> dict[str, Any]:
    return services.runs.get(run_id)


_ENDED = ("finished", "cancelled")


@router.get("/{run_id}/events", response_model=None, responses=SSE_RESPONSES)
def events(
    run_id: str,
    services: ServicesDep,
    poll_s: float = Query(0.5, ge=0.1, le=10, description="how often the run's rows are read"),
    max_minutes: float = Query(60, gt=0, le=24 * 60, description="the stream ends after this"),
) -> EventSourceResponse:
    """Progress of a run as Server-Sent Events: ``run`` (the RunPublic) whenever its rows
    change, then ``end`` ``{"status", "finish_reason"}`` once it is finished or cancelled
    (or ``{"status": ..., "timeout": true}`` after ``max_minutes``)."""
    first = services.runs.get(run_id)  # 404 before the stream starts

    def produce(emit: Emit, closed: threading.Event) -> None:
        run, last = first, ""
        deadline = max_minutes * 60
        waited = 0.0
        while True:
            public = RunPublic(**run).model_dump(mode="json")
            now = json.dumps(public, sort_keys=True, default=str)
            if now != last:
                emit("run", public)
                last = now
            if run["status"] in _ENDED:
                emit("end", {"status": run["status"], "finish_reason": run.get("finish_reason")})
                return
            if closed.wait(poll_s):
                return
            if waited >= deadline:
                emit("end", {"status": run["status"], "timeout": True})
                return
            waited += poll_s
            run = services.runs.get(run_id)

    return stream_from_thread(produce, services.app.scrub, problem_body)


def _control(verb: str, run_id: str, services: ServicesDep, actor: str) -> dict[str, Any]:
    getattr(services.runs, verb)(run_id, actor=actor)
    return services.runs.get(run_id)


@router.post("/{run_id}/cancel", response_model=RunPublic)
def cancel(run_id: str, services: ServicesDep, token: TokenDep) -> dict[str, Any]:
    """Queued steps are cancelled now, a running step at its next fold."""
    return _control("cancel", run_id, services, token.name)


@router.post("/{run_id}/pause", response_model=RunPublic)
def pause(run_id: str, services: ServicesDep, token: TokenDep) -> dict[str, Any]:
    return _control("pause", run_id, services, token.name)


@router.post("/{run_id}/resume", response_model=RunPublic)
def resume(run_id: str, services: ServicesDep, token: TokenDep) -> dict[str, Any]:
    return _control("resume", run_id, services, token.name)


@router.post("/{run_id}/approve", response_model=RunPublic)
def approve(run_id: str, services: ServicesDep, token: TokenDep) -> dict[str, Any]:
    """Approve a proposed run (an agent's plan) so workers start on it."""
    return _control("approve", run_id, services, token.name)


@router.get("/{run_id}/report", response_model=RunReport)
def report(run_id: str, services: ServicesDep) -> dict[str, Any]:
    """Step counts, each step's metrics and hashes, errors and the summary."""
    from ...cli.runs import report_data  # the same report as ``mltrainer run report --json``

    return report_data(services.runs.get(run_id))
