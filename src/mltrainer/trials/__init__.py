"""Walk-forward trials: specs, the engine, metrics, storage and reports.

Names are loaded on first use (PEP 562) so that importing ``mltrainer.trials.spec``, as
the CLI does for ``--help``, does not pull in the engine's scipy and pandas.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .._lazy import lazy_names

if TYPE_CHECKING:
    from .engine import WalkForwardEngine, plan_folds
    from .spec import FoldResult, TrialResult, TrialSpec

__all__ = ["TrialSpec", "TrialResult", "FoldResult", "WalkForwardEngine", "plan_folds"]

_HOME = {
    "WalkForwardEngine": "engine",
    "plan_folds": "engine",
    "TrialSpec": "spec",
    "TrialResult": "spec",
    "FoldResult": "spec",
}

__getattr__ = lazy_names(__name__, _HOME)
