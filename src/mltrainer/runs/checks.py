"""Checking a run's steps: the action's pydantic schema, then the compliance gateway.

Both happen when a step is queued (``create_run``/``add_steps``) and again just before a
worker runs it, because the policy, the registry or the action set may have changed in
between. A schema problem is bad input (:class:`InputError`, nothing stored); a compliance
refusal is a decision, stored on the step as ``refused`` with the gateway's reason.
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from ..errors import InputError, describe_validation_error

if TYPE_CHECKING:
    from ..compliance import ComplianceGateway
    from ..executor.actions import ActionRegistry
    from ..executor.executor import UnifiedExecutor

__all__ = ["CheckedStep", "StepChecker", "NOT_IN_RUNS", "CHAT_ACTIONS"]

CHAT_ACTIONS = frozenset({"set_goal", "get_goal", "evaluate_goal", "search_memory"})
"""The agent layer's actions (agent/conversation.py): the goal and the memory belong to a
conversation, and a worker's executor has none of them."""
NOT_IN_RUNS = (
    frozenset({"start_trial", "run_status", "cancel_run", "start_research"}) | CHAT_ACTIONS
)
"""Actions a step of a run cannot be: those that control background work themselves, and
the chat actions."""


@dataclass(frozen=True)
class CheckedStep:
    action: str
    params: dict[str, Any]
    refused: str | None = None
    """The gateway's reason when it refused the step; None when allowed."""


class StepChecker:
    """Validates steps against an executor's action registry and a compliance gateway."""

    def __init__(self, actions: ActionRegistry, gateway: ComplianceGateway):
        self.actions = actions
        self.gateway = gateway

    @classmethod
    def of(cls, executor: UnifiedExecutor) -> StepChecker:
        return cls(executor.actions, executor.app.gateway)

    def validate(self, step: Any, where: str = "step") -> tuple[str, dict[str, Any]]:
        """``(action, params)`` of a well-formed step, or an InputError naming the problem."""
        if not isinstance(step, Mapping):
            raise InputError(f"{where}: expected an object {{'action': ..., 'params': {{...}}}}")
        extra = sorted(set(step) - {"action", "params"})
        if extra:
            raise InputError(f"{where}: unknown keys {extra}; a step has 'action' and 'params'")
        name, params = step.get("action"), step.get("params", {})
        if not isinstance(name, str) or not name:
            raise InputError(f"{where}: 'action' must be an action name, got {name!r}")
        if not isinstance(params, Mapping):
            raise InputError(f"{where}: 'params' must be an object, got {type(params).__name__}")
        action = self.actions.get(name)
        if action is None or name in NOT_IN_RUNS:
            valid = [n for n in self.actions.names() if n not in NOT_IN_RUNS]
            close = difflib.get_close_matches(name, valid, n=3)
            hint = f"; did you mean {', '.join(close)}?" if close else ""
            why = (
                "is a chat action (goals and memory belong to the conversation), not a run step"
                if name in CHAT_ACTIONS
                else "cannot be a step of a run"
                if action is not None
                else "is not an action"
            )
            raise InputError(f"{where}: '{name}' {why}{hint}")
        params = dict(params)
        for k, v in (action.fixed or {}).items():
            if k in params and params[k] != v:
                raise InputError(f"{where}: {k}={params[k]!r} conflicts with {name} ({k}={v!r})")
        try:
            action.params.model_validate({**params, **(action.fixed or {})})
        except ValidationError as e:
            raise InputError(describe_validation_error(e, prefix=f"{where} ({name})")) from None
        return name, params

    def check(
        self, steps: Sequence[Any], actor: str = "system", first: int = 0
    ) -> list[CheckedStep]:
        """Validate every step (nothing is audited unless all are well-formed), then ask
        the gateway about each; ``first`` numbers the steps in messages."""
        if isinstance(steps, str | bytes) or not isinstance(steps, Sequence):
            raise InputError("steps must be a list of {'action': ..., 'params': {...}} objects")
        valid = [self.validate(s, f"step {first + i + 1}") for i, s in enumerate(steps)]
        return [self.decide(name, params, actor) for name, params in valid]

    def decide(self, name: str, params: dict[str, Any], actor: str = "system") -> CheckedStep:
        """The gateway's decision on one validated step (audited by the gateway)."""
        fixed = (self.actions[name].fixed or {}) if name in self.actions else {}
        d = self.gateway.check_params({**params, **fixed}, actor=actor)
        return CheckedStep(name, params, None if d.allowed else d.reason)
