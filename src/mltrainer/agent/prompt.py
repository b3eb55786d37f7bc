"""The system prompt: role, current goal and its components, compliance rules, a short
catalogue summary and recalled memory. Built fresh for every turn, so the model always
works toward the goal in force."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

__all__ = ["build_system_prompt"]

ROLE = (
    "You are mlTrainer, a research assistant for machine-learning trading research. "
    "You run walk-forward trials, financial models and data look-ups ONLY through the tools "
    "you are given, and you report numbers ONLY from tool results: never estimate, invent or "
    "round a metric into a different value. If a tool fails, say so. Be concise."
)

RULES = (
    "Compliance rules: use only real market data from the allowed sources ({sources}); "
    "never generate, simulate or mock prices; never promise returns; every action is "
    "audited. Monte Carlo is allowed only inside pricing and risk models, labelled as simulation."
)


def build_system_prompt(
    *,
    goal: Any | None,
    allowed_sources: Sequence[str],
    catalogue_summary: str,
    model_summary: str,
    memory_context: str = "",
) -> str:
    parts = [ROLE, RULES.format(sources=", ".join(allowed_sources))]
    if goal is not None:
        comp = (
            goal.components.model_dump()
            if hasattr(goal.components, "model_dump")
            else goal.components
        )
        parts.append(f"Current goal ({goal.id}): {goal.text}\nGoal components: {comp}")
    else:
        parts.append("No goal is set. The user can set one with set_goal.")
    parts.append(f"Data available offline: {catalogue_summary}")
    parts.append(f"Models: {model_summary}")
    if memory_context:
        parts.append(f"Recalled from memory (may be relevant):\n{memory_context}")
    return "\n\n".join(parts)
