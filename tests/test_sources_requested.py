"""A requested data source is never dropped or replaced: it goes through the gateway.

Whatever way a source is asked for (the CLI's ``--source``, a bridge JSON key ``source`` /
``data_source`` / ``dataset_source``, a tool argument, a ``Source:`` line, free text
such as "data_source random"), a source the policy does not allow is refused by the
compliance gateway, the refusal is audited, and the user is told: the CLI exits 1 with
the reason, the agent's reply says it was refused and why. Nothing is trained.
"""

from __future__ import annotations

import sys

import pytest

from mltrainer.agent.bridge import Bridge
from mltrainer.agent.offline import OfflinePlanner
from mltrainer.agent.session import open_conversation
from mltrainer.app import App
from mltrainer.executor.actions import RunFinancialParams, TrainModelParams
from mltrainer.trials.store import TrialStore


def _refusals(app: App, value: str) -> list[dict]:
    """Audited compliance decisions that refused ``value`` as a source."""
    out = []
    for rec in app.audit.tail(50, kind="compliance"):
        p = rec.payload
        if p["allowed"] is False and f"'{value}'" in p["reason"] and "source" in p["reason"]:
            out.append(p)
    return out


# -- the CLI ---------------------------------------------------------------------------
@pytest.mark.parametrize("source", ["random", "synthetic", "numpy.random"])
def test_cli_trial_run_with_a_refused_source_exits_1_with_the_reason(
    settings, monkeypatch, capsys, source
):
    from mltrainer.cli import main

    monkeypatch.setenv("MLTRAINER_HOME", str(settings.home))
    argv = ["mltrainer", "trial", "run", "-m", "ridge", "-s", "SPX", "--source", source]
    monkeypatch.setattr(sys, "argv", argv)
    with pytest.raises(SystemExit) as exit_info:
        main()
    assert exit_info.value.code == 1
    err = " ".join(capsys.readouterr().err.split())
    assert "compliance" in err and f"'{source}'" in err and "not allowed" in err
    assert "unknown symbol" not in err
    with App(settings) as app:
        (decision,) = _refusals(app, source)
        assert decision["check"] == "source" and decision["subject"] == source
        assert TrialStore(app.engine).count() == 0


# -- the bridge reads every spelling and passes it on ------------------------------------
@pytest.fixture
def bridge(app: App) -> Bridge:
    schemas = {"train_model": TrainModelParams, "run_financial": RunFinancialParams}
    return Bridge(
        ["ridge", "random_forest"],
        app.data.lookup_symbol,
        financial_ids=["portfolio_hrp"],
        tool_schemas=schemas,
    )


@pytest.mark.parametrize(
    "reply",
    [
        '```json\n{"model": "ridge", "symbol": "SPX", "source": "synthetic"}\n```',
        '{"action": "train_model", "model_id": "ridge", "symbol": "SPX", "data_source": "synthetic"}',
        'TRIAL_CONFIG = {"model": "ridge", "ticker": "SPX", "dataset_source": "synthetic"}',
        "Symbol: SPX\nModel: ridge\nData source: synthetic",
        "Let's train ridge on SPX with data_source synthetic.",
        "train ridge on SPX --source synthetic",
        "train ridge on SPX (source=synthetic)",
        [
            {
                "type": "tool_use",
                "id": "t1",
                "name": "train_model",
                "input": {"model_id": "ridge", "symbol": "SPX", "data_source": "synthetic"},
            }
        ],
    ],
    ids=[
        "json",
        "json-data_source",
        "label-dataset_source",
        "key-value",
        "prose",
        "flag",
        "prose-eq",
        "tool_use",
    ],  # fmt: skip
)
def test_bridge_keeps_the_requested_source(bridge: Bridge, reply):
    parsed = bridge.parse(reply)
    assert not parsed.errors, parsed.errors
    (action,) = parsed.actions
    assert action.action == "train_model"
    assert action.params["source"] == "synthetic"


def test_bridge_refuses_to_choose_between_two_sources(bridge: Bridge):
    reply = [
        {
            "type": "tool_use",
            "id": "t1",
            "name": "train_model",
            "input": {
                "model_id": "ridge",
                "symbol": "SPX",
                "source": "bundled",
                "data_source": "random",
            },  # fmt: skip
        }
    ]
    parsed = bridge.parse(reply)
    assert not parsed.actions
    assert "conflicting data sources" in parsed.errors[0].message


def test_bridge_does_not_read_english_after_data_source(bridge: Bridge):
    parsed = bridge.parse("train ridge on SPX; which data source is best?")
    (action,) = parsed.actions
    assert "source" not in action.params


def test_a_source_for_an_action_without_one_still_reaches_the_gateway(app: App, bridge: Bridge):
    from mltrainer.executor import UnifiedExecutor

    reply = [
        {
            "type": "tool_use",
            "id": "t1",
            "name": "run_financial",
            "input": {"model_id": "portfolio_hrp", "dataset_source": "random"},
        }
    ]
    (action,) = bridge.parse(reply).actions
    assert action.params["params"]["source"] == "random"
    ex = UnifiedExecutor(app)
    res = ex.execute(action.action, action.params, actor="agent")
    assert res["success"] is False and "compliance" in res["error"]
    assert _refusals(app, "random")


# -- the agent says so -----------------------------------------------------------------------
@pytest.mark.parametrize(
    "text",
    [
        "train ridge on SPX with data_source random from 2012 to 2014",
        'train {"model": "ridge", "symbol": "SPX", "source": "synthetic", "start": "2012-01-01"}',
        "train ridge on SPX --source mock from 2012 to 2014",
    ],
)
def test_agent_reply_says_the_source_was_refused_and_why(app: App, text: str):
    conv = open_conversation(app, provider=OfflinePlanner())
    reply = conv.send(text)
    (action,) = reply.actions
    assert action.name == "train_model" and action.success is False
    assert "compliance" in action.error
    assert reply.text.startswith("Refused by compliance: train_model was not run.")
    source = action.params["source"]
    assert f"'{source}'" in reply.text and "use one of: bundled" in reply.text
    assert _refusals(app, source)
    assert TrialStore(app.engine).count() == 0  # nothing was trained on bundled data instead


def test_an_allowed_source_is_used_not_replaced(app: App):
    conv = open_conversation(app, provider=OfflinePlanner())
    reply = conv.send("train ridge on GOOG with data_source bundled from 2008 to 2012")
    (action,) = reply.actions
    assert action.success, action.error
    assert action.params["source"] == "bundled"
    (row,) = TrialStore(app.engine).list()
    assert row["source"] == "bundled"
