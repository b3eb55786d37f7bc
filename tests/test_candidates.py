"""Search candidates from a goal: named strategies and families, horizons inside the goal's
timeframes, feature sets and position rules, in a fixed order."""

from __future__ import annotations

import pytest

from mltrainer.goals import Timeframe, parse_goal
from mltrainer.models.registry import build_registry
from mltrainer.research.candidates import goal_horizons, midpoint_horizon, propose_candidates


@pytest.fixture(scope="module")
def registry():
    return build_registry()


def test_named_strategy_maps_to_its_registry_models_at_every_timeframe_midpoint(registry):
    goal = parse_goal("momentum models for 7-12 and 50-70 day horizons, Sharpe above 1.5")
    cands = propose_candidates(goal, registry).candidates
    first = [c.key for c in cands[:6]]
    assert first == [
        "tsmom_21|h10|basic|sign",
        "tsmom_21|h60|basic|sign",
        "tsmom_63|h10|basic|sign",
        "tsmom_63|h60|basic|sign",
        "tsmom_126|h10|basic|sign",
        "tsmom_126|h60|basic|sign",
    ]
    assert all(c.reason == "the goal names 'momentum'" for c in cands)
    # every horizon lies inside one of the goal's timeframes
    assert all(any(tf.contains(c.horizon) for tf in goal.timeframes) for c in cands)
    assert {c.horizon for c in cands} == {7, 10, 12, 50, 60, 70}


def test_order_is_deterministic_and_keys_are_unique(registry):
    goal = parse_goal("lightgbm or random forest on SPX over 5-10 days, Sharpe above 1")
    a = [c.key for c in propose_candidates(goal, registry).candidates]
    b = [c.key for c in propose_candidates(goal, registry).candidates]
    assert a == b
    assert len(a) == len(set(a))


def test_levels_come_in_order_midpoints_ends_features_rules(registry):
    goal = parse_goal("lightgbm over 5-10 days, Sharpe above 1")
    cands = propose_candidates(goal, registry, per_term=1).candidates
    assert [c.key for c in cands] == [
        "lightgbm|h8|basic|sign",  # midpoint of 5-10 (7.5 rounds half up)
        "lightgbm|h5|basic|sign",  # the ends
        "lightgbm|h10|basic|sign",
        "lightgbm|h8|returns|sign",  # the other feature set
        "lightgbm|h8|basic|long_only",  # the other position rules
        "lightgbm|h8|basic|vol_target",
    ]


def test_classification_goal_prefers_classifiers_of_the_named_family(registry):
    goal = parse_goal("lightgbm with accuracy above 55% over 10 days")
    cands = propose_candidates(goal, registry).candidates
    assert {c.task for c in cands} == {"classification"}
    assert cands[0].model_id == "lightgbm_classifier"


def test_without_named_strategies_one_model_per_relevant_family(registry):
    cands = propose_candidates(parse_goal("Sharpe above 1 on SPX"), registry).candidates
    level0 = [c for c in cands if c.feature_set == "basic" and c.position_rule == "sign"]
    families = [c.family for c in level0]
    assert len(families) == len(set(families))  # one per family
    assert "baseline" not in families
    assert {c.task for c in cands} <= {"regression", "strategy"}
    assert all(c.horizon == 10 for c in cands)  # no timeframe: the trial default
    # costly families come after every cheaper one
    costly = [i for i, f in enumerate(families) if f in ("deep", "gaussian_process")]
    assert costly and min(costly) > max(
        i for i, f in enumerate(families) if f not in ("deep", "gaussian_process")
    )


def test_price_input_and_volatility_models_get_only_the_settings_they_use(registry):
    goal = parse_goal("garch over 10 days, Sharpe above 0.5")
    cands = propose_candidates(goal, registry).candidates
    assert cands and all(c.task == "volatility" for c in cands)
    assert {c.feature_set for c in cands} == {"basic"}
    assert {c.position_rule for c in cands} == {"sign"}


def test_strategy_without_registry_model_is_reported_not_guessed(registry):
    result = propose_candidates(parse_goal("pairs trading with Sharpe above 1"), registry)
    assert "'pairs trading' has no registry model; it is not searched" in result.notes
    assert result.candidates  # the task's families instead, said in the notes
    assert any("falling back" in n for n in result.notes)


def test_trial_params_are_train_model_parameters(registry):
    from mltrainer.executor.actions import TrainModelParams

    c = propose_candidates(parse_goal("ridge over 7-12 days"), registry).candidates[0]
    params = c.trial_params("SPX", max_folds=2, end="2010-12-31")
    TrainModelParams.model_validate(params)
    assert params["model_id"] == "ridge" and params["horizon"] == 10


@pytest.mark.parametrize(
    ("tf", "expected"),
    [
        (Timeframe(min=7, max=12), 10),
        (Timeframe(min=50, max=70), 60),
        (Timeframe(min=2, max=4, unit="weeks"), 15),
        (Timeframe(min=1, max=3, unit="months"), 42),
    ],
)
def test_midpoint_in_bars(tf, expected):
    assert midpoint_horizon(tf) == expected


def test_hour_timeframes_are_left_out_with_a_note():
    horizons, notes = goal_horizons([Timeframe(min=1, max=4, unit="hours")])
    assert horizons == []
    assert notes == ["timeframe 1-4 hours has no bar count on daily data"]
