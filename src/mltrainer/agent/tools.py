"""Agent tools derived from the executor's action registry (pydantic -> JSON schema).

The model sees a compact set (``train_model`` with a ``model_id`` enum drawn from the
registry, not 150 ``train_model_<id>`` tools). Tool names are validated against this set;
arguments are validated by the action's own pydantic model when executed.
"""

from __future__ import annotations

import copy
from typing import TYPE_CHECKING

from .providers import ToolSpec

if TYPE_CHECKING:
    from ..executor import UnifiedExecutor

__all__ = ["COMPACT_TOOLS", "derive_tools"]

COMPACT_TOOLS = (
    "train_model",
    "start_trial",
    "compare_models",
    "run_financial",
    "list_models",
    "list_symbols",
    "trial_status",
    "list_trials",
    "tune_model",
    "data_summary",
    "set_goal",
    "get_goal",
    "evaluate_goal",
    "search_memory",
    "start_research",
    "run_status",
    "cancel_run",
)


def derive_tools(executor: UnifiedExecutor) -> list[ToolSpec]:
    """One :class:`ToolSpec` per compact action present in the executor."""
    model_ids = [s.id for s in executor.registry if s.available]
    fin_ids = list(executor.financial.FINANCIAL)
    tools = []
    for name in COMPACT_TOOLS:
        action = executor.actions.get(name)
        if action is None:
            continue
        schema = copy.deepcopy(action.params.model_json_schema())
        props = schema.get("properties", {})
        if name in ("train_model", "start_trial") and "model_id" in props:
            props["model_id"]["enum"] = model_ids
        if name == "compare_models" and "model_ids" in props:
            props["model_ids"]["items"] = {"type": "string", "enum": model_ids}
        if name == "run_financial" and "model_id" in props:
            props["model_id"]["enum"] = fin_ids
        tools.append(ToolSpec(name=name, description=action.description, parameters=schema))
    return tools
