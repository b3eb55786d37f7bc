"""The offline planner in a real conversation: replies from results, questions that carry
on, two-step plans that read the data range first, refusals."""

from __future__ import annotations

from mltrainer.agent.offline import REFUSAL, OfflinePlanner
from mltrainer.agent.session import open_conversation
from mltrainer.app import App


def test_a_topic_question_lists_only_that_part_of_the_catalogue(app: App):
    conv = open_conversation(app, provider=OfflinePlanner())
    reply = conv.send("what do you have on interest rates?")
    assert [a.name for a in reply.actions] == ["list_symbols"]
    listed = [line.split()[1] for line in reply.text.splitlines() if line.startswith("- ")]
    assert listed == ["AAA", "BAA", "US_TBILRATE", "US_REALINT"]
    assert reply.flags == []


def test_the_last_years_of_data_are_read_from_the_data_then_trained(app: App):
    conv = open_conversation(app, provider=OfflinePlanner())
    reply = conv.send("train ridge on KO over the last five years of data, last 2 folds only")
    assert [a.name for a in reply.actions] == ["data_summary", "train_model"]
    summary, trial = reply.actions
    assert summary.success and trial.success, trial.error
    last = summary.data["last"][:10]
    assert trial.params["end"] == last
    assert trial.params["start"] == f"{int(last[:4]) - 5}{last[4:]}"
    assert trial.params["max_folds"] == 2
    assert f"Trial {trial.data['trial_id']}: ridge on KO" in reply.text
    assert reply.flags == []


def test_a_near_miss_is_asked_about_and_yes_runs_the_suggestion(app: App):
    conv = open_conversation(app, provider=OfflinePlanner())
    asked = conv.send("drawdown analytics for APPL please")
    assert asked.actions == []
    assert "unknown symbol 'APPL', did you mean AAPL?" in asked.text
    done = conv.send("yes")
    assert [(a.name, a.params["params"]["symbol"]) for a in done.actions] == [
        ("run_financial", "AAPL")
    ]
    assert done.actions[0].success and done.flags == []


def test_a_missing_value_is_asked_for_and_the_answer_completes_the_request(app: App):
    conv = open_conversation(app, provider=OfflinePlanner())
    asked = conv.send("what's the beta?")
    assert asked.actions == [] and "symbol" in asked.text.lower()
    done = conv.send("MSFT")
    assert [a.name for a in done.actions] == ["run_financial"]
    assert done.actions[0].params == {"model_id": "capm", "params": {"symbol": "MSFT"}}
    assert done.actions[0].success and "beta" in done.text and done.flags == []


def test_made_up_data_is_refused_and_nothing_runs(app: App):
    conv = open_conversation(app, provider=OfflinePlanner())
    reply = conv.send("pretend KO doubled last year and backtest ridge on that")
    assert reply.actions == []
    assert reply.text == REFUSAL


def test_a_financial_request_runs_and_its_reply_has_only_result_numbers(app: App):
    conv = open_conversation(app, provider=OfflinePlanner())
    reply = conv.send("are XOM and CVX cointegrated?")
    (action,) = reply.actions
    assert action.success, action.error
    assert action.params["params"] == {"symbol_y": "XOM", "symbol_x": "CVX"}
    assert reply.text.startswith("cointegration_engle_granger:")
    assert reply.flags == []


def test_the_last_trial_is_the_one_this_conversation_ran(app: App):
    conv = open_conversation(app, provider=OfflinePlanner())
    trained = conv.send("train ridge on SPX from 2012 to 2016, last 2 folds only")
    tid = trained.actions[0].data["trial_id"]
    shown = conv.send("show me the last trial")
    assert [(a.name, a.params) for a in shown.actions] == [("trial_status", {"trial_id": tid})]


def test_listing_trials_without_the_tool_says_how_and_runs_nothing(app: App):
    conv = open_conversation(app, provider=OfflinePlanner())
    reply = conv.send("list my trials")
    if any(t.name == "list_trials" for t in conv.tools):
        assert [a.name for a in reply.actions] == ["list_trials"]
    else:
        assert reply.actions == []
        assert "mltrainer trial list" in reply.text


def test_help_questions_and_refusals_propose_no_plan(app: App):
    conv = open_conversation(app, provider=OfflinePlanner())
    for text in ("hello", "train ridge on APPL", "make up some prices for KO please"):
        reply = conv.send(text)
        assert reply.actions == [] and reply.flags == []
    assert conv.executor.runs.list() == []
