"""``/runs``: background runs of steps (workers execute them): create, list, control, report."""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter, Query

from ..deps import ServicesDep, TokenDep
from ..schemas import RunCreate, RunPublic, RunReport, RunsPublic

router = APIRouter(prefix="/runs", tags=["runs"])

RunStatus = Literal["proposed", "queued", "running", "paused", "cancelled", "finished"]


@router.post("", response_model=RunPublic, status_code=201)
def create_run(body: RunCreate, services: ServicesDep, token: TokenDep) -> dict[str, Any]:
    """Queue a run (every step validated first: a bad one is 422 and nothing is stored;
    a step the gateway refuses is stored as ``refused``). Run ``mltrainer worker``."""
    steps = [s.model_dump() for s in body.steps]
    run_id = services.runs.create_run(body.kind, steps, owner=token.name, goal_id=body.goal_id)
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
