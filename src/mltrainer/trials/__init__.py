"""Walk-forward trials: specs, the engine, metrics, storage and reports."""

from .engine import WalkForwardEngine, plan_folds
from .spec import FoldResult, TrialResult, TrialSpec

__all__ = ["TrialSpec", "TrialResult", "FoldResult", "WalkForwardEngine", "plan_folds"]
