"""Plans from agent replies: several proposed steps become one plan, a step per model and
timeframe, each a train_model request validated by the action's own schema."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from mltrainer.agent.bridge import Bridge, ParseResult
from mltrainer.agent.plans import Plan, bind_timeframes, horizon_for
from mltrainer.app import App
from mltrainer.executor.actions import TrainModelParams
from mltrainer.models.registry import build_registry

LEGACY_ACTIONS = Path("/work/shared/legacy-samples/logs/mlagent_actions.jsonl")
ISSUE_EXAMPLE = (
    "use an LSTM for the 7-12 day predictions and a Transformer for the 50-70 day "
    "predictions on AAPL"
)


@pytest.fixture(scope="module")
def registry():
    return build_registry()


@pytest.fixture
def bridge(app: App, registry) -> Bridge:
    """The bridge as the conversation builds it: real registry, catalogue and schema."""
    return Bridge(
        model_ids=registry.ids(),
        resolve_symbol=app.data.lookup_symbol,
        tool_schemas={"train_model": TrainModelParams},
        model_params={s.id: list(s.defaults) for s in registry},
    )


def only_plan(result: ParseResult) -> Plan:
    assert result.errors == [], result.errors
    assert result.actions == [], "a plan is proposed, never also returned as actions"
    assert len(result.plans) == 1, result.plans
    return result.plans[0]


def steps(plan: Plan) -> list[tuple[str, str, int]]:
    return [(s.params["model_id"], s.params["symbol"], s.params["horizon"]) for s in plan.steps]


def test_issue_example_becomes_one_plan_with_a_step_per_model_and_timeframe(bridge: Bridge):
    plan = only_plan(bridge.parse(ISSUE_EXAMPLE))
    assert steps(plan) == [("lstm_regressor", "AAPL", 10), ("transformer_regressor", "AAPL", 60)]
    assert [s.timeframe for s in plan.steps] == [
        {"min": 7, "max": 12, "unit": "days"},
        {"min": 50, "max": 70, "unit": "days"},
    ]
    for step in plan.steps:
        assert step.action == "train_model"
        TrainModelParams.model_validate(step.params)  # a validated request
    text = plan.describe()
    assert "1. train lstm_regressor on AAPL with a 10-bar horizon" in text
    assert "(midpoint of the 7-12 days timeframe)" in text
    assert "2. train transformer_regressor on AAPL with a 60-bar horizon" in text


def test_several_models_with_their_own_timeframes_is_a_plan_not_an_error(bridge: Bridge):
    plan = only_plan(bridge.parse("Train lightgbm for 7-12 days and ridge for 50-70 days on SPX."))
    assert steps(plan) == [("lightgbm", "SPX", 10), ("ridge", "SPX", 60)]


def test_legacy_sample_reply_becomes_a_plan_with_its_settings_carried(bridge: Bridge):
    record = json.loads(LEGACY_ACTIONS.read_text().splitlines()[0])
    assert "raw_response" in record["data"]
    plan = only_plan(bridge.parse(record["data"]["raw_response"]))
    (step,) = plan.steps
    assert step.params == {
        "model_id": "lstm_regressor",
        "symbol": "AAPL",
        "horizon": 10,
        "params": {"lookback": 90, "epochs": 100},
    }
    # What a walk-forward step cannot take is shown, with the reason, not silently lost.
    assert plan.not_applied == {"train_ratio": 0.75, "stop_loss": 0.015}
    assert "Not applied: stop_loss = 0.015" in plan.describe()
    assert "Not applied: train_ratio = 0.75" in plan.describe()


def test_legacy_trial_config_json_with_two_timeframes(bridge: Bridge):
    """The trial-config shape of legacy-formats.md: parameters nested, several timeframes."""
    config = {
        "symbol": "AAPL",
        "model": "lstm",
        "parameters": {"train_ratio": 0.8, "lookback": 60, "epochs": 50, "learning_rate": 0.001},
        "timeframes": [
            {"min": 7, "max": 12, "unit": "days"},
            {"min": 50, "max": 70, "unit": "days"},
        ],
        "stop_loss": 0.02,
    }
    plan = only_plan(bridge.parse(f"TRIAL_CONFIG = {json.dumps(config)}"))
    assert plan.origin == "json"
    assert steps(plan) == [("lstm_regressor", "AAPL", 10), ("lstm_regressor", "AAPL", 60)]
    assert plan.steps[0].params["params"] == {"lookback": 60, "epochs": 50, "lr": 0.001}


def test_timeframes_named_before_their_models(bridge: Bridge):
    reply = (
        "For 7-12 day trades use an LSTM, and for 50-70 days a Transformer, on AAPL "
        "with a learning rate of 0.001 from 2005 to 2015."
    )
    plan = only_plan(bridge.parse(reply))
    assert steps(plan) == [("lstm_regressor", "AAPL", 10), ("transformer_regressor", "AAPL", 60)]
    for step in plan.steps:
        assert step.params["start"] == "2005-01-01" and step.params["end"] == "2015-12-31"
        assert step.params["params"] == {"lr": 0.001}  # the deep models call it lr


def test_weeks_and_months_become_bars(bridge: Bridge):
    plan = only_plan(bridge.parse("Use ridge for 2-4 weeks and lasso for 1-3 months on SPX."))
    # 2-4 weeks = 10-20 bars -> 15; 1-3 months = 21-63 bars -> 42
    assert steps(plan) == [("ridge", "SPX", 15), ("lasso", "SPX", 42)]


def test_explicit_horizon_inside_a_timeframe_is_kept(bridge: Bridge):
    reply = "Train lightgbm for 7-12 days and ridge for 50-70 days on SPX with a horizon of 8."
    plan = only_plan(bridge.parse(reply))
    assert steps(plan) == [("lightgbm", "SPX", 8), ("ridge", "SPX", 60)]
    assert "the requested horizon" in plan.steps[0].description


def test_hyperparameter_a_model_lacks_is_not_applied_to_it(bridge: Bridge):
    reply = "Use ridge for 7-12 days and an LSTM for 50-70 days on AAPL with a lookback of 30 days."
    plan = only_plan(bridge.parse(reply))
    ridge, lstm = plan.steps
    assert "params" not in ridge.params
    assert lstm.params["params"] == {"lookback": 30}
    assert any("ridge has no parameter 'lookback'" in n for n in plan.notes)


@pytest.mark.parametrize(
    "reply",
    [
        "Train on AAPL: ridge or lasso would both work.",  # no timeframes: still a question
        "Train ridge for 7-12 days and lasso on SPX.",  # lasso gets no timeframe
    ],
)
def test_models_without_their_own_timeframe_stay_an_error(bridge: Bridge, reply: str):
    result = bridge.parse(reply)
    assert result.plans == [] and result.actions == []
    assert "several models named" in result.errors[0].message


def test_a_report_of_results_is_not_a_plan(bridge: Bridge):
    reply = "The LSTM for 7-12 days and the Transformer for 50-70 days on AAPL had a Sharpe of 0.4."
    result = bridge.parse(reply)
    assert result.plans == [] and result.actions == []


def test_tool_calls_never_become_plans(bridge: Bridge):
    call = {"model_id": "ridge", "symbol": "SPX", "horizon": 10}
    result = bridge.parse([{"type": "tool_use", "id": "t1", "name": "train_model", "input": call}])
    assert result.plans == [] and len(result.actions) == 1


def test_without_a_schema_settings_are_carried_as_written():
    bridge = Bridge(["lightgbm", "ridge"], lambda t: t if t in ("SPX",) else None)
    plan = only_plan(bridge.parse("Train lightgbm for 7-12 days and ridge for 50-70 days on SPX"))
    assert [s.params for s in plan.steps] == [
        {"model_id": "lightgbm", "symbol": "SPX", "horizon": 10},
        {"model_id": "ridge", "symbol": "SPX", "horizon": 60},
    ]
    assert plan.run_steps() == [{"action": "train_model", "params": s.params} for s in plan.steps]


# -- unit rules ------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("timeframe", "horizon"),
    [
        ({"min": 7, "max": 12, "unit": "days"}, 10),  # 9.5 rounds half up
        ({"min": 50, "max": 70, "unit": "days"}, 60),
        ({"min": 1, "max": 2, "unit": "weeks"}, 8),  # 5-10 bars -> 7.5 -> 8
        ({"min": 10, "max": 10, "unit": "days"}, 10),
        ({"min": 1, "max": 1, "unit": "years"}, 252),
    ],
)
def test_horizon_is_the_midpoint_in_bars(timeframe: dict[str, Any], horizon: int):
    assert horizon_for(timeframe) == horizon


def test_binding_follows_the_text_order():
    tf1, tf2 = {"min": 7, "max": 12, "unit": "days"}, {"min": 50, "max": 70, "unit": "days"}
    # trailing: "A for tf1 and B for tf2"
    assert bind_timeframes([(0, "a"), (20, "b")], [(5, tf1), (25, tf2)]) == [
        ("a", [tf1]),
        ("b", [tf2]),
    ]
    # leading: "for tf1 A, for tf2 B"
    assert bind_timeframes([(10, "a"), (30, "b")], [(0, tf1), (20, tf2)]) == [
        ("a", [tf1]),
        ("b", [tf2]),
    ]
    # one model left without a timeframe: no plan
    assert bind_timeframes([(0, "a"), (20, "b")], [(25, tf2)]) is None
