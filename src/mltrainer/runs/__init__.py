"""Background work: runs of steps in the database, and the workers that run them.

Executor-layer code (it runs actions through the executor). See :mod:`.store` for the
tables' life cycle, :mod:`.worker` for claiming and crash recovery, :mod:`.planner` for
what a run does when its steps are done.
"""

from .checks import CheckedStep, StepChecker
from .planner import FinishReason, plan_next, register_planner
from .store import ClaimedStep, RunStore, new_run_id

__all__ = [
    "RunStore",
    "ClaimedStep",
    "StepChecker",
    "CheckedStep",
    "FinishReason",
    "plan_next",
    "register_planner",
    "new_run_id",
]
