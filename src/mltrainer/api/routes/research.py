"""``/research``: start a goal-driven search (a background run) and read its report."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from ...errors import InputError
from ..deps import ServicesDep, TokenDep
from ..schemas import ResearchCreate, ResearchReport, ResearchStarted

router = APIRouter(prefix="/research", tags=["research"])


@router.post("", response_model=ResearchStarted, status_code=201)
def start(body: ResearchCreate, services: ServicesDep, token: TokenDep) -> dict[str, Any]:
    """Queue a search toward the goal (default: the active one) with a budget; the final
    part of the series is sealed as the holdout. Starts a background worker when none is
    running (unless ``MLTRAINER_EMBEDDED_WORKERS=false``, as under ``mltrainer up``, whose
    pool runs it). Follow it with ``GET /runs/{run_id}/events``."""
    from ...runs.worker import ensure_workers

    started = services.executor.start_research(body, owner=token.name)
    ensure_workers(services.app)
    return started


@router.get("/{run_id}", response_model=ResearchReport)
def report(run_id: str, services: ServicesDep) -> dict[str, Any]:
    """Leaderboard, holdout verdict constraint by constraint, PBO, DSR and N."""
    from ...research.report import report_data

    run = services.runs.get(run_id)
    if run["kind"] != "search":
        raise InputError(f"run '{run_id}' is a {run['kind']} run, not a search; see /runs/{run_id}")
    return report_data(run)
