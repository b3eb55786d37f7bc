"""Plans: a reply that proposes several steps becomes one proposed plan, a step per model
and timeframe.

The legacy replies propose work like "use an LSTM for the 7-12 day predictions and a
Transformer for the 50-70 day predictions on AAPL". The bridge reads the models and
timeframes (with their positions in the text); this module pairs them and turns each pair
into one ``train_model`` step. Nothing here runs anything: a :class:`Plan` is data that the
conversation proposes as a run and that waits for the user's approval.

Pairing rule (deterministic): model mentions and timeframe mentions are taken in text
order. When the first timeframe comes before the first model ("for 7-12 days use an LSTM,
for 50-70 days a Transformer") each timeframe belongs to the next model named after it;
otherwise each timeframe belongs to the last model named before it. A model named twice
is one model. A plan is only formed when every model named gets at least one timeframe;
anything else stays the bridge's "several models named" question.

Horizon rule: a step's label horizon is the midpoint of its timeframe in bars, rounded half
up (7-12 days -> 10, 50-70 days -> 60; weeks count 5 bars, months 21, years 252), unless
the reply gives an explicit horizon inside that timeframe, which is then kept.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from pydantic import BaseModel, Field

from ..research.candidates import BARS_PER_UNIT, midpoint_horizon

__all__ = [
    "Plan",
    "PlanStep",
    "BARS_PER_UNIT",
    "bind_timeframes",
    "horizon_for",
    "describe_step",
    "step_horizon",
]

# Why a setting read from a reply is not applied to a walk-forward step.
_NOT_APPLIED_REASONS: dict[str, str] = {
    "train_ratio": "walk-forward trials refit on a rolling or expanding window instead of one "
    "train/test split",
    "stop_loss": "the trial's position rules (sign, threshold, long_only, vol_target) have no "
    "stop-loss",
}


class PlanStep(BaseModel):
    """One validated action request of a plan, with what it will do in words."""

    action: str
    params: dict[str, Any]
    description: str
    timeframe: dict[str, Any] | None = None
    """The timeframe this step covers (``{"min", "max", "unit"}``), when it came from one."""


class Plan(BaseModel):
    """Several steps proposed by one reply; run only after approval."""

    steps: list[PlanStep] = Field(default_factory=list)
    origin: str = "prose"
    not_applied: dict[str, Any] = Field(default_factory=dict)
    """Settings the reply gave that no step's action takes, by name, with their values."""
    notes: list[str] = Field(default_factory=list)

    def run_steps(self) -> list[dict[str, Any]]:
        """The steps as a runs table expects them: ``[{"action", "params"}]``."""
        return [{"action": s.action, "params": dict(s.params)} for s in self.steps]

    def describe(self) -> str:
        """Readable lines: one per step, then what was not applied and why."""
        lines = [f"Plan of {len(self.steps)} step(s):"]
        lines += [f"{i}. {s.description}" for i, s in enumerate(self.steps, 1)]
        for name, value in self.not_applied.items():
            why = _NOT_APPLIED_REASONS.get(name, "the action does not take it")
            lines.append(f"Not applied: {name} = {value} ({why}).")
        lines += self.notes
        return "\n".join(lines)


def horizon_for(timeframe: Mapping[str, Any]) -> int:
    """The midpoint of ``timeframe`` in bars, rounded half up: 7-12 days -> 10 (the search
    candidates' rule, :func:`mltrainer.research.candidates.midpoint_horizon`)."""
    return midpoint_horizon(timeframe)


def _inside(horizon: int, timeframe: Mapping[str, Any]) -> bool:
    factor = BARS_PER_UNIT.get(str(timeframe.get("unit", "days")), 1)
    return int(timeframe["min"]) * factor <= horizon <= int(timeframe["max"]) * factor


def step_horizon(timeframe: Mapping[str, Any], explicit: int | None) -> tuple[int, str]:
    """The horizon for a step and the words that say how it was chosen."""
    span = f"{timeframe['min']}-{timeframe['max']} {timeframe.get('unit', 'days')}"
    if explicit is not None and _inside(explicit, timeframe):
        return explicit, f"the requested horizon, inside the {span} timeframe"
    return horizon_for(timeframe), f"midpoint of the {span} timeframe"


def bind_timeframes(
    models: Sequence[tuple[int, str]], timeframes: Sequence[tuple[int, dict[str, Any]]]
) -> list[tuple[str, list[dict[str, Any]]]] | None:
    """Pair model mentions with timeframe mentions (both ``(position, value)``).

    Returns ``[(model_id, [timeframe, ...]), ...]`` in order of first mention, or None when
    fewer than two models or some model gets no timeframe (see the module docstring).
    """
    order: list[str] = []
    for _pos, mid in sorted(models):
        if mid not in order:
            order.append(mid)
    if not order or not timeframes:
        return None
    bound: dict[str, list[dict[str, Any]]] = {mid: [] for mid in order}
    mentions = sorted(models)
    leading = min(p for p, _ in timeframes) < mentions[0][0]
    for pos, tf in sorted(timeframes, key=lambda x: x[0]):
        if leading:
            owner = next((mid for p, mid in mentions if p > pos), None)
        else:
            owner = next((mid for p, mid in reversed(mentions) if p < pos), None)
        if owner is not None and tf not in bound[owner]:
            bound[owner].append(tf)
    if any(not tfs for tfs in bound.values()):
        return None
    return [(mid, bound[mid]) for mid in order]


def describe_step(params: Mapping[str, Any], how: str | None) -> str:
    """What a ``train_model`` step will do, from its validated parameters."""
    text = f"train {params.get('model_id')} on {params.get('symbol')}"
    if "horizon" in params:
        text += f" with a {params['horizon']}-bar horizon"
        if how:
            text += f" ({how})"
    if params.get("start") or params.get("end"):
        text += f", data {params.get('start') or 'first bar'}..{params.get('end') or 'last bar'}"
    model_params = params.get("params") or {}
    if model_params:
        shown = ", ".join(f"{k}={v}" for k, v in model_params.items())
        text += f", model parameters {shown}"
    others = {
        k: v
        for k, v in params.items()
        if k not in ("model_id", "symbol", "horizon", "start", "end", "params")
    }
    if others:
        text += ", " + ", ".join(f"{k} {v}" for k, v in others.items())
    return text + "; walk-forward, out of sample, net of costs"
