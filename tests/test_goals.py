"""Goals: parsing goal sentences, the goal store (one active goal, audited), evaluation."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from mltrainer.app import App
from mltrainer.errors import ComplianceError, NotFound
from mltrainer.goals import Constraint, GoalSystem, Timeframe, parse_goal

LEGACY = Path("/work/shared/legacy-samples/logs")
EXAMPLE = "momentum models for 7–12 and 50–70 day horizons, Sharpe above 1.5, drawdown under 5%"


@pytest.fixture
def resolve(app: App):
    return app.data.resolve_symbol  # raises DataError for unknown tokens: treated as "no"


@pytest.fixture
def goals(app: App, resolve) -> GoalSystem:
    return GoalSystem(app.engine, app.gateway, app.audit, resolve_symbol=resolve)


def c(metric: str, op: str, value: float) -> Constraint:
    return Constraint(metric=metric, op=op, value=value)


# -- parsing ------------------------------------------------------------------------------


def test_example_goal_has_two_timeframes_and_two_constraints():
    g = parse_goal(EXAMPLE)
    assert g.timeframes == [Timeframe(min=7, max=12), Timeframe(min=50, max=70)]
    assert g.constraints == [c("sharpe", ">", 1.5), c("max_drawdown", "<", 0.05)]
    assert g.strategies == ["momentum"]
    assert g.primary_objective == "momentum models for 7–12 and 50–70 day horizons"


def test_set_goal_prefix_symbol_and_timeframe(resolve):
    g = parse_goal("set goal: momentum model for SPX with Sharpe above 1 over 7-12 days", resolve)
    assert g.symbols == ["SPX"]
    assert g.constraints == [c("sharpe", ">", 1.0)]
    assert g.timeframes == [Timeframe(min=7, max=12, unit="days")]
    assert g.primary_objective == "momentum model for SPX"


def test_accuracy_and_hit_rate_goal(resolve):
    g = parse_goal("accuracy > 0.65 and hit rate at least 55% on AAPL for 10-day horizon", resolve)
    assert g.constraints == [c("accuracy", ">", 0.65), c("hit_rate", ">=", 0.55)]
    assert g.symbols == ["AAPL"]
    assert g.timeframes == [Timeframe(min=10, max=10)]
    assert g.primary_objective is None  # the sentence starts with a constraint


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("7-12 days", (7, 12, "days")),
        ("50–70 days", (50, 70, "days")),
        ("7 to 12 days", (7, 12, "days")),
        ("a 10-day horizon", (10, 10, "days")),
        ("over 7-12 days", (7, 12, "days")),
        ("between 50 and 70 days", (50, 70, "days")),
        ("3-6 weeks", (3, 6, "weeks")),
        ("20 bars", (20, 20, "bars")),
    ],
)
def test_timeframe_phrases(text, expected):
    (tf,) = parse_goal(text).timeframes
    assert (tf.min, tf.max, tf.unit) == expected


def test_numbers_without_units_are_not_timeframes():
    assert parse_goal("Sharpe above 1.5 and accuracy > 0.65").timeframes == []


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Sharpe above 1.5", ("sharpe", ">", 1.5)),
        ("Sharpe > 1", ("sharpe", ">", 1.0)),
        ("max drawdown under 5%", ("max_drawdown", "<", 0.05)),
        ("drawdown below 10 percent", ("max_drawdown", "<", 0.10)),
        ("accuracy > 0.65", ("accuracy", ">", 0.65)),
        ("hit rate at least 55%", ("hit_rate", ">=", 0.55)),
        ("CAGR over 10%", ("cagr", ">", 0.10)),
        ("Sortino above 2", ("sortino", ">", 2.0)),
        ("volatility below 15%", ("volatility", "<", 0.15)),
        ("win rate ≥ 60%", ("hit_rate", ">=", 0.60)),
        ("Calmar at most 3", ("calmar", "<=", 3.0)),
        ("turnover no more than 2", ("turnover", "<=", 2.0)),
        ("IC greater than 0.05", ("ic", ">", 0.05)),
        ("AUC ≤ 0.9", ("auc", "<=", 0.9)),
        ("at least 55% hit rate", ("hit_rate", ">=", 0.55)),
        ("Sharpe ratio of at least 1.2", ("sharpe", ">=", 1.2)),
        ("maximum drawdown of 8%", ("max_drawdown", "<=", 0.08)),
        ("drawdown above -5%", ("max_drawdown", "<", 0.05)),
        ("accuracy over 65", ("accuracy", ">", 0.65)),
    ],
)
def test_constraint_phrases(text, expected):
    (got,) = parse_goal(text).constraints
    assert (got.metric, got.op) == expected[:2]
    assert got.value == pytest.approx(expected[2])


def test_volatility_in_a_constraint_is_not_a_strategy():
    g = parse_goal("trend following with volatility below 15%")
    assert g.strategies == ["trend following"]
    assert parse_goal("volatility models for SPX").strategies == ["volatility"]


def test_symbols_only_from_the_resolver_never_common_words(resolve):
    g = parse_goal("FOR THE record: mean reversion on GE, $msft and NOTREAL, ON AAPL", resolve)
    assert g.symbols == ["GE", "MSFT", "AAPL"]
    assert parse_goal("momentum on SPX").symbols == []  # no resolver, no symbols


def test_model_families_from_the_vocabulary():
    g = parse_goal("compare lightgbm, random_forest_100 and an LSTM for breakout signals")
    assert g.strategies == ["lightgbm", "random forest", "lstm", "breakout"]


def test_legacy_system_goals_json_parses():
    data = json.loads((LEGACY / "system_goals.json").read_text())
    g = parse_goal(data["current_goal"]["text"])
    assert g.primary_objective == "Test goal for system verification"
    assert g.constraints == [] and g.timeframes == []


def test_legacy_goal_history_texts_parse():
    lines = (LEGACY / "goal_history.jsonl").read_text().splitlines()
    texts = {json.loads(ln)["goal_text"] for ln in lines if ln.strip()}
    momentum = next(t for t in texts if "momentum trading" in t)
    g = parse_goal(momentum)
    assert g.timeframes == [Timeframe(min=7, max=12), Timeframe(min=50, max=70)]
    assert g.strategies == ["momentum"]
    for t in texts:
        parse_goal(t)  # none raises


# -- the store --------------------------------------------------------------------------


def test_set_goal_persists_parsed_components_and_audits(app: App, goals: GoalSystem):
    g = goals.set_goal(EXAMPLE, user="alice")
    assert g.id.startswith("goal_") and g.status == "active" and g.created_by == "alice"
    assert goals.current() == g
    (rec,) = app.audit.tail(5, kind="goal.set")
    assert rec.payload["goal_id"] == g.id and rec.actor == "alice"
    assert rec.payload["components"]["constraints"][0]["metric"] == "sharpe"
    assert app.audit.verify().ok


def test_new_goal_archives_the_previous_one(app: App, goals: GoalSystem):
    first = goals.set_goal("momentum on SPX, Sharpe above 1")
    second = goals.set_goal("mean reversion on AAPL, hit rate at least 55%")
    assert goals.current().id == second.id
    old = goals.get(first.id)
    assert old.status == "archived" and old.archived_at is not None
    (rec,) = app.audit.tail(10, kind="goal.archive")
    assert rec.payload["goal_id"] == first.id
    assert app.audit.tail(1, kind="goal.set")[0].payload["previous_goal_id"] == first.id


def test_forbidden_goal_raises_and_previous_goal_stays_active(goals: GoalSystem):
    kept = goals.set_goal("momentum on SPX, Sharpe above 1")
    with pytest.raises(ComplianceError, match="compliance"):
        goals.set_goal("guaranteed 100% returns on AAPL")
    assert goals.current().id == kept.id
    assert len(goals.history()) == 1


def test_history_is_newest_first(goals: GoalSystem):
    ids = [goals.set_goal(f"goal number {i}: Sharpe above {i}").id for i in range(1, 4)]
    hist = goals.history()
    assert [g.id for g in hist] == ids[::-1]
    assert [g.status for g in hist] == ["active", "archived", "archived"]


def test_archive_leaves_no_active_goal_and_is_audited(app: App, goals: GoalSystem):
    g = goals.set_goal("momentum on SPX")
    archived = goals.archive(user="bob")
    assert archived.id == g.id and archived.status == "archived"
    assert goals.current() is None
    rec = app.audit.tail(1, kind="goal.archive")[0]
    assert rec.payload["goal_id"] == g.id and rec.actor == "bob"
    with pytest.raises(NotFound):
        goals.archive()


def test_goals_persist_across_goal_system_instances(app: App, goals: GoalSystem):
    g = goals.set_goal(EXAMPLE)
    again = GoalSystem(app.engine, app.gateway, app.audit)
    assert again.current() == g
    assert again.current().components.constraints[1] == c("max_drawdown", "<", 0.05)


def test_unknown_goal_id_is_not_found(goals: GoalSystem):
    with pytest.raises(NotFound):
        goals.get("goal_missing")


# -- evaluation -------------------------------------------------------------------------


@pytest.fixture
def example_goal(goals: GoalSystem):
    return goals.set_goal(EXAMPLE)


def test_evaluate_met_when_every_constraint_passes(example_goal):
    ev = example_goal.evaluate({"sharpe": 1.8, "max_drawdown": 0.03})
    assert ev.met and [r.passed for r in ev.results] == [True, True]
    assert ev.results[0].actual == 1.8 and ev.results[0].target == 1.5


@pytest.mark.parametrize(
    ("metrics", "failing"),
    [
        ({"sharpe": 1.5, "max_drawdown": 0.03}, "sharpe"),  # strict ">" at the boundary
        ({"sharpe": 1.2, "max_drawdown": 0.03}, "sharpe"),
        ({"sharpe": 2.0, "max_drawdown": 0.08}, "max_drawdown"),
        ({"sharpe": 2.0, "max_drawdown": -0.08}, "max_drawdown"),
    ],
)
def test_evaluate_not_met_names_the_failing_constraint(example_goal, metrics, failing):
    ev = example_goal.evaluate(metrics)
    assert not ev.met
    assert [r.metric for r in ev.results if not r.passed] == [failing]
    assert failing in ev.reason


def test_drawdown_accepts_negative_and_positive_conventions(example_goal):
    for dd in (-0.04, 0.04):
        ev = example_goal.evaluate({"sharpe": 2.0, "max_drawdown": dd})
        assert ev.met, ev.reason
        assert ev.results[1].actual == dd


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), None, "1.9"])
def test_missing_or_nan_metric_is_not_met_and_never_guessed(example_goal, bad):
    ev = example_goal.evaluate({"sharpe": bad, "max_drawdown": 0.01})
    assert not ev.met
    assert ev.results[0].passed is False
    assert ev.results[0].reason == "metric not available"
    assert ev.results[0].actual is None


def test_absent_metric_is_not_available(example_goal):
    ev = example_goal.evaluate({"max_drawdown": 0.01})
    assert not ev.met and ev.results[0].reason == "metric not available"


def test_metric_aliases_in_results_are_recognised(example_goal):
    assert example_goal.evaluate({"Sharpe Ratio": 1.9, "max drawdown": -0.01}).met


def test_horizon_inside_and_outside_the_timeframes(example_goal):
    good = {"sharpe": 2.0, "max_drawdown": 0.01}
    inside = example_goal.evaluate(good, horizon=10)
    assert inside.met and inside.horizon_ok and inside.timeframe == Timeframe(min=7, max=12)
    assert example_goal.evaluate(good, horizon=60).horizon_ok
    outside = example_goal.evaluate(good, horizon=30)
    assert outside.horizon_ok is False and not outside.met and "horizon 30" in outside.reason
    assert example_goal.evaluate(good).horizon_ok is None


def test_goal_without_constraints_is_never_met(goals: GoalSystem):
    g = goals.set_goal("Test goal for system verification")
    ev = g.evaluate({"sharpe": 5.0})
    assert not ev.met and ev.results == [] and "no measurable constraints" in ev.reason


def test_goal_system_evaluate_uses_the_active_goal(goals: GoalSystem):
    assert goals.evaluate({"sharpe": 3.0}) is None
    goals.set_goal("Sharpe > 1")
    assert goals.evaluate({"sharpe": 3.0}).met
    assert not goals.evaluate({"sharpe": math.nan}).met
