"""``/goals``: the goal in force, setting it (compliance checked), history, evaluation."""

from __future__ import annotations

from fastapi import APIRouter, Query

from ...errors import NotFound
from ...goals import Goal
from ..deps import ExecutorDep, ServicesDep, TokenDep
from ..schemas import GoalEvaluationPublic, GoalIn, GoalPublic, GoalsPublic

router = APIRouter(prefix="/goals", tags=["goals"])


def public(g: Goal) -> GoalPublic:
    return GoalPublic(**g.model_dump(exclude={"components"}), components=g.components.model_dump())


@router.get("/current", response_model=GoalPublic | None)
def current(services: ServicesDep) -> GoalPublic | None:
    """The active goal, or null when none is set."""
    g = services.goals.current()
    return public(g) if g else None


@router.put("/current", response_model=GoalPublic)
def set_goal(body: GoalIn, services: ServicesDep, token: TokenDep) -> GoalPublic:
    """Make ``text`` the goal (the previous one is archived); a refused text is 403."""
    services.app.settings.require_message_size(body.text, "goal")
    return public(services.goals.set_goal(body.text, user=token.name))


@router.get("/history", response_model=GoalsPublic)
def history(services: ServicesDep, limit: int = Query(100, ge=1, le=10_000)) -> GoalsPublic:
    goals = services.goals.history(limit=limit)
    return GoalsPublic(data=[public(g) for g in goals], count=len(goals))


@router.get("/current/evaluation/{trial_id}", response_model=GoalEvaluationPublic)
def evaluate(trial_id: str, services: ServicesDep, executor: ExecutorDep) -> GoalEvaluationPublic:
    """Whether a finished trial meets the goal in force, constraint by constraint."""
    goal = services.goals.current()
    if goal is None:
        raise NotFound("no goal is set; PUT /api/v1/goals/current first")
    row = executor.store.get(trial_id)
    res = row.get("result") or {}
    if not res:
        raise NotFound(f"trial '{trial_id}' has no result (status {row['status']})")
    ev = goal.evaluate(res.get("metrics", {}), horizon=(row.get("spec") or {}).get("horizon"))
    return GoalEvaluationPublic(
        goal_id=goal.id,
        trial_id=row["id"],
        model_id=row["model_id"],
        symbol=row["symbol"],
        evaluation=ev.model_dump(mode="json"),
    )
