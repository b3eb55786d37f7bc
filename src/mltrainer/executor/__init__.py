"""The executor: the action registry, dispatch and background trials."""

from .actions import Action, ActionRegistry
from .executor import UnifiedExecutor

__all__ = ["UnifiedExecutor", "Action", "ActionRegistry"]
