"""What comes next for a run with no open step: more steps, or its finish reason.

Workers call :func:`plan_next` for every active run whose steps are all final. A batch or
plan run is then done (``exhausted`` if any step succeeded, ``failed`` if none did; the
store normally settles it with its last step, this covers a crash in between). A search
run asks the planner registered for its kind (:func:`register_planner`; the goal-driven
search registers itself from :data:`PLANNER_MODULES`). A search run with no planner fails
with a message saying so: it never pretends to have searched.
"""

from __future__ import annotations

import importlib
import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from .store import batch_finish_reason

if TYPE_CHECKING:
    from ..app import App

__all__ = ["FinishReason", "Planner", "register_planner", "planner_for", "plan_next"]

log = logging.getLogger(__name__)


class FinishReason(str):
    """A planner's verdict that the run is over (``goal_met``, ``budget_spent``...).

    ``summary`` is stored as the run's final report data; ``error`` explains a failure."""

    summary: dict[str, Any] | None
    error: str | None

    def __new__(
        cls, reason: str, summary: dict[str, Any] | None = None, error: str | None = None
    ) -> FinishReason:
        obj = super().__new__(cls, reason)
        obj.summary, obj.error = summary, error
        return obj


Planner = Callable[["App", dict[str, Any]], "list[dict[str, Any]] | FinishReason"]
"""``planner(app, run) -> steps | FinishReason``; ``run`` is ``RunStore.get(run_id)``
(with its steps); ``RunStore.feedback`` gives the finished steps' outcomes."""

_PLANNERS: dict[str, Planner] = {}

PLANNER_MODULES: dict[str, str] = {"search": "mltrainer.research.search"}
"""Modules imported on first use that register the planner of a run kind."""


def register_planner(kind: str, planner: Planner) -> None:
    _PLANNERS[kind] = planner


def planner_for(kind: str) -> Planner | None:
    if kind not in _PLANNERS and kind in PLANNER_MODULES:
        try:
            importlib.import_module(PLANNER_MODULES[kind])
        except ModuleNotFoundError as e:
            if e.name is None or not PLANNER_MODULES[kind].startswith(e.name):
                raise
            log.warning("no planner module %s for %s runs", PLANNER_MODULES[kind], kind)
    return _PLANNERS.get(kind)


def plan_next(app: App, run: dict[str, Any]) -> list[dict[str, Any]] | FinishReason:
    """The next steps of ``run`` (a dict with ``steps``), or why it is finished."""
    if run["kind"] in ("batch", "plan"):
        statuses = [s["status"] for s in run.get("steps", [])]
        reason = batch_finish_reason(statuses)
        failed = len(statuses) - statuses.count("succeeded")
        return FinishReason(
            reason, error=f"{failed} of {len(statuses)} steps did not succeed" if failed else None
        )
    planner = planner_for(run["kind"])
    if planner is None:
        return FinishReason(
            "failed",
            error=f"no planner is registered for {run['kind']} runs "
            f"(expected one from {PLANNER_MODULES.get(run['kind'], 'a registered module')}); "
            "nothing was searched",
        )
    return planner(app, run)
