"""What the bridge returns: validated action requests, errors and plans (data only)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

from ..plans import Plan

__all__ = ["KNOWN_ACTIONS", "ActionRequest", "BridgeError", "ParseResult"]

KNOWN_ACTIONS: tuple[str, ...] = (
    "train_model",
    "start_trial",
    "compare_models",
    "run_financial",
    "list_models",
    "list_symbols",
    "trial_status",
    "set_goal",
    "get_goal",
    "search_memory",
)


class ActionRequest(BaseModel):
    """One validated action the caller may choose to run."""

    action: str
    params: dict[str, Any] = Field(default_factory=dict)
    origin: str
    """Where it was read: ``tool_use``, ``json``, ``key_value`` or ``prose``."""
    tool_use_id: str | None = None


class BridgeError(BaseModel):
    """Something in the reply looked like a request but could not be turned into one."""

    message: str
    suggestions: list[str] = Field(default_factory=list)
    origin: str
    tool_use_id: str | None = None
    fragment: str | None = None


class ParseResult(BaseModel):
    actions: list[ActionRequest] = Field(default_factory=list)
    errors: list[BridgeError] = Field(default_factory=list)
    text: str = ""
    """The reply's text blocks joined (tool calls removed)."""
    plans: list[Plan] = Field(default_factory=list)
    """Multi-step proposals read from prose (see :mod:`mltrainer.agent.plans`); never run
    without approval, and never also returned as ``actions``."""
