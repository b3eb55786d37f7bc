"""A whole offline conversation, the tool loop's error handling and the number check."""

from __future__ import annotations

import re

import pytest

from mltrainer.agent.offline import OfflinePlanner
from mltrainer.agent.providers import Message, ProviderResponse, ToolCall
from mltrainer.agent.session import open_conversation
from mltrainer.errors import ProviderError


class SpyPlanner(OfflinePlanner):
    """The offline planner, recording the system prompts it was given."""

    def __init__(self):
        super().__init__()
        self.systems: list[str] = []

    def complete(self, system, messages, tools, on_text=None):
        self.systems.append(system)
        self.tools = tools
        return super().complete(system, messages, tools, on_text)


class Scripted:
    """A provider that plays back fixed responses (tests the loop, not a model)."""

    name = "scripted"

    def __init__(self, *responses):
        self.responses = list(responses)
        self.seen: list[list[Message]] = []

    def complete(self, system, messages, tools, on_text=None):
        self.seen.append(list(messages))
        item = self.responses.pop(0)
        if isinstance(item, Exception):
            raise item
        return item


def _num(text: str, label: str) -> float:
    m = re.search(rf"{label} (-?\d+\.\d+)", text)
    assert m, f"no '{label}' in {text!r}"
    return float(m.group(1))


def test_whole_offline_conversation_reports_stored_metrics(app):
    spy = SpyPlanner()
    conv = open_conversation(app, provider=spy)
    goal = conv.send(
        "set goal: momentum model for SPX with Sharpe above 0.5 and max drawdown under 30% over 7-12 days"
    )
    assert goal.actions[0].name == "set_goal" and goal.actions[0].success
    assert "Sharpe above 0.5" in goal.text

    trial_ids = []
    for model in ("ridge", "random forest"):
        reply = conv.send(f"train {model} on SPX with a 10 day horizon from 2010 to 2016")
        assert [a.name for a in reply.actions] == ["train_model"] and reply.actions[0].success
        tid = reply.actions[0].data["trial_id"]
        trial_ids.append(tid)
        stored = conv.executor.store.result(tid).metrics
        assert _num(reply.text, "Sharpe") == round(stored["sharpe"], 4)
        assert _num(reply.text, "max drawdown") == round(stored["max_drawdown"] * 100, 2)
        assert reply.flags == []
    assert "momentum model for SPX" in spy.systems[-1]  # the goal rides in every system prompt

    cmp = conv.send("compare ridge and random forest on SPX from 2010 to 2016")
    assert cmp.actions[0].name == "compare_models" and cmp.flags == []
    for row in cmp.actions[0].data["ranking"]:
        stored = conv.executor.store.result(row["trial_id"]).metrics
        line = next(ln for ln in cmp.text.splitlines() if row["trial_id"] in ln)
        assert _num(line, "Sharpe") == round(stored["sharpe"], 4)

    met = conv.send("is the goal met?")
    ev = met.actions[0].data
    for e in ev["evaluations"]:
        m = conv.executor.store.result(e["trial_id"]).metrics
        expected = m["sharpe"] > 0.5 and abs(m["max_drawdown"]) < 0.30
        assert e["met"] == expected
    assert set(trial_ids) <= {e["trial_id"] for e in ev["evaluations"]}
    assert app.audit.verify().ok


def test_tools_are_the_compact_set_with_registry_model_ids(app):
    spy = SpyPlanner()
    conv = open_conversation(app, provider=spy)
    conv.send("which symbols can I use?")
    names = {t.name for t in spy.tools}
    assert {"train_model", "compare_models", "run_financial", "set_goal", "search_memory"} <= names
    train = next(t for t in spy.tools if t.name == "train_model")
    assert set(train.parameters["properties"]["model_id"]["enum"]) >= {
        "ridge",
        "lightgbm",
        "random_forest",
    }
    assert len(spy.tools) < 20


def test_forbidden_request_is_refused_without_calling_the_model(app):
    prov = Scripted()
    conv = open_conversation(app, provider=prov)
    reply = conv.send("train on random data please")
    assert reply.refused and "compliance" in reply.text and prov.seen == []


def test_unknown_model_goes_back_to_the_model_as_an_error_with_suggestions(app):
    prov = Scripted(
        ProviderResponse(
            text="",
            tool_calls=[
                ToolCall(
                    id="t1",
                    name="train_model",
                    arguments={"model_id": "randomised_forest_of_doom", "symbol": "SPX"},
                )
            ],
            stop_reason="tool_use",
        ),
        ProviderResponse(text="That model does not exist.", tool_calls=[], stop_reason="end_turn"),
    )
    conv = open_conversation(app, provider=prov)
    reply = conv.send("train something")
    tool_msgs = [m for m in prov.seen[1] if m.role == "tool"]
    assert len(tool_msgs) == 1 and tool_msgs[0].is_error and tool_msgs[0].tool_call_id == "t1"
    assert "random_forest" in tool_msgs[0].content
    assert reply.text == "That model does not exist."


def test_provider_errors_are_raised_not_spoken(app):
    conv = open_conversation(
        app, provider=Scripted(ProviderError("anthropic: HTTP 529 overloaded"))
    )
    with pytest.raises(ProviderError):
        conv.send("hello")
    assert all(m.role != "assistant" for m in conv.messages)


def test_invented_metric_numbers_are_flagged(app):
    prov = Scripted(
        ProviderResponse(
            text="",
            tool_calls=[
                ToolCall(
                    id="t1",
                    name="run_financial",
                    arguments={"model_id": "black_scholes", "params": {}},
                )
            ],
            stop_reason="tool_use",
        ),
        ProviderResponse(
            text="The option price is 10.4506 and the strategy has a Sharpe of 3.21.",
            tool_calls=[],
            stop_reason="end_turn",
        ),
    )
    reply = open_conversation(app, provider=prov).send("price the default option")
    assert len(reply.flags) == 1 and "3.21" in reply.flags[0]


def test_tool_loop_stops_at_the_step_limit(app):
    call = ProviderResponse(
        text="",
        tool_calls=[ToolCall(id="t", name="list_symbols", arguments={})],
        stop_reason="tool_use",
    )
    conv = open_conversation(app, provider=Scripted(*[call] * 20))
    conv.max_steps = 3
    reply = conv.send("loop forever")
    assert "stopped after 3 tool steps" in reply.text and len(reply.actions) == 3


def test_offline_planner_reads_lower_case_symbols_but_never_english_words(app):
    conv = open_conversation(app, provider=SpyPlanner())
    planner = conv.provider
    calls = planner.plan("train ridge on spx from 2012 to 2016")
    assert [(c.name, c.arguments["symbol"], c.arguments["model_id"]) for c in calls] == [
        ("train_model", "SPX", "ridge")
    ]
    assert planner.plan("train a model for the market on it") == []
    port = planner.plan("optimize a min variance portfolio of aapl, msft and ko")
    assert port[0].arguments["params"]["symbols"] == ["AAPL", "MSFT", "KO"]


def test_goal_and_help_replies_raise_no_unverified_number_flags(app):
    conv = open_conversation(app, provider=OfflinePlanner())
    goal = conv.send("set goal: momentum model for SPX with Sharpe above 1 over 7-12 days")
    assert goal.flags == [], goal.flags
    helped = conv.send("hello there, what can you do?")
    assert "train a model" in helped.text and helped.flags == [], helped.flags


def test_goal_reply_shows_the_parsed_goal_as_readable_lines_not_json(app):
    conv = open_conversation(app, provider=OfflinePlanner())
    reply = conv.send(
        "set goal: momentum model for SPX with Sharpe above 1.5 and drawdown under 5% over 7-12 days"
    )
    assert "{" not in reply.text and "Parsed" not in reply.text
    for line in (
        "- timeframes: 7-12 days",
        "- constraints: sharpe > 1.5, max_drawdown < 0.05",
        "- symbols: SPX",
        "- strategies: momentum",
    ):
        assert line in reply.text, reply.text
