"""Candidates of a goal-driven search: which model, horizon, feature set and position rule
to try, in a fixed, documented order.

Models
    The strategies and model families the goal names (``GoalComponents.strategies``, e.g.
    "momentum", "lightgbm") map to registry models through :data:`STRATEGY_MODELS`, in
    registry order, at most ``per_term`` models per name (models of the goal's task first,
    see below). When the goal names none, one
    model per registry family relevant to the goal's task is used (the first available one
    in registry order): classification when the goal constrains accuracy or AUC, otherwise
    regression and strategy models (their predictions become positions directly). Baseline
    families are never candidates, and costly families (deep nets, Gaussian processes) come
    last. Unavailable models (a missing optional extra) are skipped.
Horizons
    For each goal timeframe, the midpoint in bars (rounded half up; weeks count 5 bars,
    months 21, years 252), then its lower and upper ends. Without timeframes the trial
    default (10 bars). Hour and minute timeframes have no bar count on daily data and are
    left out (reported in ``CandidateSet.notes``).
Feature sets and position rules
    ``basic`` and then ``returns`` for models that read features (price-input models read
    prices, so they get one); ``sign``, then ``long_only`` and ``vol_target`` (volatility
    models size positions themselves, so they get one).

Order: every model at each timeframe's midpoint with the first feature set and rule
(level 0), then at the timeframes' ends (level 1), then at the first horizon with the other
feature sets (level 2) and the other position rules (level 3); inside a level, models in the order above, then horizons in that order. A
search that stops early has therefore tried the widest spread of models first.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from pydantic import BaseModel, Field

from ..goals import GoalComponents, Timeframe
from ..models.base import ModelSpec
from ..models.registry import Registry

__all__ = [
    "Candidate",
    "CandidateSet",
    "STRATEGY_MODELS",
    "BARS_PER_UNIT",
    "midpoint_horizon",
    "goal_horizons",
    "propose_candidates",
]

BARS_PER_UNIT: dict[str, int] = {"days": 1, "bars": 1, "weeks": 5, "months": 21, "years": 252}
"""Trading bars per timeframe unit (the factors goals.Timeframe.contains uses)."""

DEFAULT_HORIZON = 10
FEATURE_SETS = ("basic", "returns")
POSITION_RULES = ("sign", "long_only", "vol_target")
_BASELINE_FAMILIES = frozenset({"baseline"})
_COSTLY_FAMILIES = ("gaussian_process", "deep")
_CLASSIFICATION_METRICS = frozenset({"accuracy", "auc"})

# goals.STRATEGY_TERMS name -> registry id prefixes (a prefix matches the id or "prefix_...").
STRATEGY_MODELS: dict[str, tuple[str, ...]] = {
    "momentum": ("tsmom", "dual_momentum", "macd"),
    "mean reversion": ("rsi_reversion", "bollinger_reversion"),
    "trend following": ("ma_crossover", "ema_crossover", "sma_trend"),
    "breakout": ("donchian_breakout",),
    "volatility": ("vol_target", "garch"),
    "regime": ("hmm", "markov"),
    "random forest": ("random_forest",),
    "gradient boosting": ("gradient_boosting", "hist_gradient_boosting"),
    "lightgbm": ("lightgbm",),
    "xgboost": ("xgboost",),
    "catboost": ("catboost",),
    "lstm": ("lstm",),
    "gru": ("gru",),
    "transformer": ("transformer",),
    "garch": ("garch", "egarch", "gjr_garch"),
    "hmm": ("hmm",),
    "arima": ("arima", "sarima"),
    "linear regression": ("ols",),
    "logistic regression": ("logistic",),
    "ridge": ("ridge",),
    "lasso": ("lasso",),
    "elastic net": ("elastic_net",),
    "svm": ("svr", "linear_svr", "svc", "linear_svc"),
    "knn": ("knn",),
    "neural network": ("mlp",),
}
"""Strategies with no registry model (pairs trading, carry) are reported, not guessed."""


class Candidate(BaseModel):
    """One thing the search can try: a registry model with its trial settings."""

    model_id: str
    family: str
    task: str
    horizon: int = Field(ge=1)
    feature_set: str = "basic"
    position_rule: str = "sign"
    timeframe: Timeframe | None = None
    level: int = 0
    """0 first pass (timeframe midpoints), 1 timeframe ends, 2 feature sets, 3 rules."""
    reason: str
    """Why it is a candidate: the goal term that named it, or its task's family."""

    @property
    def key(self) -> str:
        """Stable identity: ``lightgbm|h10|basic|sign``."""
        return f"{self.model_id}|h{self.horizon}|{self.feature_set}|{self.position_rule}"

    def trial_params(self, symbol: str, **settings: Any) -> dict[str, Any]:
        """``train_model`` parameters for ``symbol``; ``settings`` (source, dates, max_folds,
        model ``params``...) are carried as given."""
        return {
            "model_id": self.model_id,
            "symbol": symbol,
            "horizon": self.horizon,
            "feature_set": self.feature_set,
            "position_rule": self.position_rule,
            **settings,
        }


class CandidateSet(BaseModel):
    candidates: list[Candidate] = Field(default_factory=list)
    notes: list[str] = Field(default_factory=list)
    """What the goal asked for that has no candidate, and why."""


def _bars(tf: Timeframe | Mapping[str, Any]) -> tuple[int, int] | None:
    unit = tf.unit if isinstance(tf, Timeframe) else str(tf.get("unit", "days"))
    lo = tf.min if isinstance(tf, Timeframe) else int(tf["min"])
    hi = tf.max if isinstance(tf, Timeframe) else int(tf["max"])
    factor = BARS_PER_UNIT.get(unit)
    if factor is None:
        return None
    return max(1, lo * factor), max(1, hi * factor)


def midpoint_horizon(tf: Timeframe | Mapping[str, Any]) -> int:
    """The midpoint of a timeframe in bars, rounded half up: 7-12 days -> 10."""
    span = _bars(tf)
    if span is None:
        raise ValueError(f"timeframe unit has no bar count on daily data: {tf}")
    return max(1, math.floor((span[0] + span[1]) / 2 + 0.5))


def goal_horizons(
    timeframes: Sequence[Timeframe],
) -> tuple[list[tuple[int, Timeframe, bool]], list[str]]:
    """``[(horizon, timeframe, is_midpoint)]``: every midpoint first, then the ends; and
    notes on the timeframes left out."""
    firsts: list[tuple[int, Timeframe, bool]] = []
    rest: list[tuple[int, Timeframe, bool]] = []
    notes: list[str] = []
    for tf in timeframes:
        span = _bars(tf)
        if span is None:
            notes.append(f"timeframe {tf.min}-{tf.max} {tf.unit} has no bar count on daily data")
            continue
        firsts.append((midpoint_horizon(tf), tf, True))
        rest += [(h, tf, False) for h in sorted(set(span))]
    seen: set[int] = set()
    out: list[tuple[int, Timeframe, bool]] = []
    for h, tf, mid in [*firsts, *rest]:
        if h not in seen:
            seen.add(h)
            out.append((h, tf, mid))
    return out, notes


def _matches(spec: ModelSpec, prefixes: Iterable[str]) -> bool:
    return any(spec.id == p or spec.id.startswith(p + "_") for p in prefixes)


def _tasks(goal: GoalComponents | None) -> tuple[str, ...]:
    """The model tasks relevant to a goal: classification for accuracy/AUC constraints."""
    metrics = {c.metric for c in goal.constraints} if goal else set()
    if metrics & _CLASSIFICATION_METRICS:
        return ("classification",)
    return ("regression", "strategy")


def _named_models(
    strategies: Sequence[str], registry: Registry, per_term: int, tasks: Sequence[str]
) -> tuple[list[tuple[ModelSpec, str]], list[str]]:
    out: list[tuple[ModelSpec, str]] = []
    notes: list[str] = []
    for term in strategies:
        prefixes = STRATEGY_MODELS.get(term)
        if not prefixes:
            notes.append(f"'{term}' has no registry model; it is not searched")
            continue
        hits = [s for s in registry if s.available and _matches(s, prefixes)]
        hits = [s for s in hits if all(s.id != o.id for o, _r in out)]
        hits = ([s for s in hits if s.task in tasks] or hits)[:per_term]
        if not hits:
            notes.append(f"no available registry model for '{term}'")
        out += [(s, f"the goal names '{term}'") for s in hits]
    return out, notes


def _task_families(goal: GoalComponents | None, registry: Registry) -> list[tuple[ModelSpec, str]]:
    tasks = _tasks(goal)
    picked: dict[str, ModelSpec] = {}
    for spec in registry:
        if spec.task in tasks and spec.available and spec.family not in _BASELINE_FAMILIES:
            picked.setdefault(spec.family, spec)
    specs = sorted(
        picked.values(),
        key=lambda s: _COSTLY_FAMILIES.index(s.family) + 1 if s.family in _COSTLY_FAMILIES else 0,
    )  # stable: registry order, costly families last
    return [(s, f"{s.task} model of family {s.family}") for s in specs]


def propose_candidates(
    goal: GoalComponents | None,
    registry: Registry,
    *,
    per_term: int = 3,
    feature_sets: Sequence[str] = FEATURE_SETS,
    position_rules: Sequence[str] = POSITION_RULES,
) -> CandidateSet:
    """Every candidate for ``goal`` in search order (see the module docstring)."""
    notes: list[str] = []
    models: list[tuple[ModelSpec, str]] = []
    if goal is not None and goal.strategies:
        models, notes = _named_models(goal.strategies, registry, per_term, _tasks(goal))
    if not models:
        if goal is not None and goal.strategies:
            notes.append("falling back to one model per family relevant to the goal's task")
        models = _task_families(goal, registry)
    found, tf_notes = goal_horizons(goal.timeframes if goal else [])
    notes += tf_notes
    horizons: list[tuple[int, Timeframe | None, bool]] = list(found) or [
        (DEFAULT_HORIZON, None, True)
    ]

    levels: list[list[Candidate]] = [[], [], [], []]
    seen: set[str] = set()
    for spec, reason in models:
        fsets = list(feature_sets) if spec.inputs == "features" else [feature_sets[0]]
        rules = list(position_rules) if spec.task != "volatility" else [position_rules[0]]
        variants = [(0 if mid else 1, h, tf, fsets[0], rules[0]) for h, tf, mid in horizons]
        h0, tf0, _mid = horizons[0]
        variants += [(2, h0, tf0, f, rules[0]) for f in fsets[1:]]
        variants += [(3, h0, tf0, fsets[0], r) for r in rules[1:]]
        for level, horizon, tf, fset, rule in variants:
            c = Candidate(
                model_id=spec.id,
                family=spec.family,
                task=spec.task,
                horizon=horizon,
                feature_set=fset,
                position_rule=rule,
                timeframe=tf,
                level=level,
                reason=reason,
            )
            if c.key not in seen:
                seen.add(c.key)
                levels[level].append(c)
    ordered = [c for level in levels for c in level]
    return CandidateSet(candidates=ordered, notes=notes)
