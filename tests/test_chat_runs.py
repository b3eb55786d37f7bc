"""Background runs from chat: a plan proposed by a reply, approved with "yes", run by an
in-process worker and announced at the next prompt; a search started, polled and announced."""

from __future__ import annotations

from mltrainer.agent.session import open_conversation
from mltrainer.app import App
from mltrainer.runs.worker import run_worker
from mltrainer.settings import Settings

PLAN_REQUEST = "train ridge for 7-12 days and lasso for 50-70 days on SPX from 2012 to 2016"


def test_a_multi_step_request_is_proposed_as_one_plan_and_runs_only_after_yes(
    app: App, settings: Settings
):
    conv = open_conversation(app)
    proposed = conv.send(PLAN_REQUEST)
    runs = conv.executor.runs
    (run,) = runs.list()
    assert run["kind"] == "plan" and run["status"] == "proposed"
    assert f"Proposed as {run['id']}: nothing runs until you approve it" in proposed.text
    assert "1. train ridge on SPX with a 10-bar horizon (midpoint of the 7-12 days" in proposed.text
    assert "2. train lasso on SPX with a 60-bar horizon" in proposed.text
    steps = runs.get(run["id"])["steps"]
    assert [(s["params"]["model_id"], s["params"]["horizon"]) for s in steps] == [
        ("ridge", 10),
        ("lasso", 60),
    ]
    assert all(s["params"]["start"] == "2012-01-01" for s in steps)

    # nothing is claimable while it is proposed
    assert run_worker(settings, once=True).steps == {}

    approved = conv.send("yes")
    assert approved.actions[0].name == "approve_run" and approved.actions[0].success
    assert runs.get(run["id"])["status"] == "queued"

    run_worker(settings, once=True)  # an in-process worker runs both steps
    done = runs.get(run["id"])
    assert done["status"] == "finished" and done["finish_reason"] == "exhausted"
    assert [s["status"] for s in done["steps"]] == ["succeeded", "succeeded"]

    nxt = conv.send("which symbols can I use?")
    assert nxt.text.startswith(f"Background run done. Run {run['id']} (plan): finished")
    assert nxt.flags == []
    again = conv.send("which symbols can I use?")
    assert "Background run done" not in again.text  # announced once
    assert app.audit.verify().ok


def test_anything_but_yes_leaves_the_plan_unapproved(app: App):
    conv = open_conversation(app)
    conv.send(PLAN_REQUEST)
    (run,) = conv.executor.runs.list()
    conv.send("which symbols can I use?")
    reply = conv.send("yes")  # no plan is pending any more: an ordinary message
    assert not any(a.name == "approve_run" for a in reply.actions)
    assert conv.executor.runs.get(run["id"])["status"] == "proposed"


def test_auto_approve_queues_the_plan_at_once(settings_factory):
    with App(settings_factory(auto_approve=True)) as app:
        conv = open_conversation(app)
        reply = conv.send(PLAN_REQUEST)
        (run,) = conv.executor.runs.list()
        assert run["status"] == "queued"
        assert "(MLTRAINER_AUTO_APPROVE is on)" in reply.text


def test_a_search_started_from_chat_is_polled_and_announced(app: App, settings: Settings):
    conv = open_conversation(app)
    conv.send("set goal: ridge over 7-12 days with max drawdown under 10%")
    started = conv.send(
        "search for models that meet the goal in the background on SPX, 2 trials, 2 folds"
    )
    (call,) = started.actions
    assert call.name == "start_research" and call.success, call.error
    run_id = call.data["run_id"]
    assert call.params == {"symbol": "SPX", "max_trials": 2, "max_folds": 2}
    assert f"Started search {run_id} in the background" in started.text
    assert conv.executor.runs.get(run_id)["steps_total"] == 0  # returned at once

    polled = conv.send("how is the search going?")
    assert polled.actions[0].name == "run_status"
    assert polled.actions[0].params == {"run_id": run_id}
    assert f"Run {run_id} (search): queued, 0 of 0 steps final." in polled.text

    run_worker(settings, once=True)  # an in-process worker runs the search to its end
    run = conv.executor.runs.get(run_id)
    assert run["status"] == "finished" and run["steps_total"] == 2

    nxt = conv.send("how is the search going?")
    assert nxt.text.startswith(f"Background run done. Run {run_id} (search): finished")
    assert "On the sealed holdout the goal is NOT met" in nxt.text
    assert nxt.flags == [], nxt.flags
    assert app.audit.verify().ok
