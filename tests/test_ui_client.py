"""The UI's typed API client against the real app (uvicorn on loopback, isolated home,
offline planner): each method returns its model, streams arrive as typed events, and
every failure is one ApiError whose message is the API's problem detail."""

from __future__ import annotations

import io
import math
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from mltrainer.api import create_app
from mltrainer.settings import Settings
from mltrainer.ui.client import ApiClient, ApiError, iter_sse
from mltrainer.ui.schemas import ActionEvent, ProgressEvent, ReplyEvent, TextDelta
from ui_helpers import free_port

TRIAL = {
    "model_id": "ridge",
    "symbol": "SPX",
    "start": "2010-01-01",
    "end": "2016-12-31",
    "horizon": 5,
    "max_folds": 3,
}
GOAL = "momentum on SPX, Sharpe above 0.5 over 7-12 days"


@dataclass
class Served:
    """The API under uvicorn on loopback, in this process (so a test can reach its
    services), as ``mltrainer serve`` runs it."""

    api: Any
    url: str

    @property
    def services(self) -> Any:
        return self.api.state.services


@pytest.fixture
def served(settings: Settings) -> Iterator[Served]:
    import uvicorn

    api = create_app(settings)
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(api, host="127.0.0.1", port=port, log_level="warning", lifespan="on")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 60
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.05)
    try:
        yield Served(api, f"http://127.0.0.1:{port}")
    finally:
        server.should_exit = True
        thread.join(30)


def _client(served: Served, scope: str = "write", name: str = "ui") -> ApiClient:
    return ApiClient(served.url, served.services.tokens.create(name, scope))


@pytest.fixture
def client(served: Served) -> Iterator[ApiClient]:
    with _client(served) as c:
        yield c


# -- SSE framing --------------------------------------------------------------------------------
def test_iter_sse_reads_events_comments_and_multi_line_data():
    lines = [
        ": keep-alive",
        "",
        "event: text",
        'data: {"delta": "Sha"}',
        "",
        "data: line one",
        "data: line two",
        "",
        "event: reply",
        "data: {}",
    ]
    assert list(iter_sse(lines)) == [
        ("text", '{"delta": "Sha"}'),
        ("message", "line one\nline two"),
        ("reply", "{}"),
    ]


# -- errors -------------------------------------------------------------------------------------
def test_a_missing_token_is_an_api_error_with_the_problem_detail(served: Served):
    anonymous = ApiClient(served.url, None)
    with pytest.raises(ApiError) as e:
        anonymous.trials()
    assert e.value.status == 401 and "bearer token is required" in str(e.value)


def test_a_read_token_cannot_write_and_says_so(served: Served):
    reader = _client(served, "read", "reader")
    assert reader.goal() is None  # reads work
    with pytest.raises(ApiError) as e:
        reader.set_goal(GOAL)
    assert e.value.status == 403 and "scope read" in e.value.detail


def test_an_unknown_model_is_404_naming_close_ids(client: ApiClient):
    with pytest.raises(ApiError) as e:
        client.model("ridg")
    assert e.value.status == 404 and "ridge" in e.value.detail


def test_an_api_that_does_not_answer_is_status_0_with_what_to_check():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed again: nothing listens there
    with pytest.raises(ApiError) as e:
        ApiClient(f"http://127.0.0.1:{port}", "mlt_x").health()
    assert e.value.status == 0 and "does not answer" in e.value.detail
    assert "mltrainer up" in e.value.detail


# -- resources ----------------------------------------------------------------------------------
def test_health_models_and_catalogue(client: ApiClient):
    assert client.health().status == "ok"
    every = client.models()
    assert every.count == len(every.data) and any(m.id == "ridge" for m in every.data)
    linear = client.models(family="linear", task="regression")
    assert linear.data and all(m.family == "linear" for m in linear.data)
    ridge = client.model("ridge")
    assert ridge.library and ridge.task == "regression"
    cat = client.catalogue()
    assert any(e.symbol == "SPX" for e in cat.data)
    spx = client.symbol("SPX")
    assert spx.rows > 1000 and len(spx.sha256) == 64 and spx.provenance["sha256"] == spx.sha256


def test_a_trial_is_created_listed_read_and_replayed(client: ApiClient):
    made = client.create_trial(TRIAL)
    assert made.status == "done" and made.model_id == "ridge"
    again = client.trial(made.id)
    assert again.sharpe == made.sharpe and again.data_hash == made.data_hash
    assert made.metrics is not None and again.metrics == made.metrics
    listed = client.trials(model_id="ridge", symbol="SPX")
    assert listed.count == 1 and listed.data[0].id == made.id
    assert client.trials(model_id="lasso").count == 0
    assert client.replay(made.id).identical is True


def test_a_trials_equity_is_its_stored_curve_with_drawdowns(client: ApiClient):
    made = client.create_trial(TRIAL)
    eq = client.trial_equity(made.id)
    assert eq.trial_id == made.id and eq.count == len(eq.data) > 10
    assert all(p.strategy_drawdown <= 0 and p.buy_and_hold_drawdown <= 0 for p in eq.data)
    # the curve's low point is the max drawdown the trial stored
    worst = min(p.strategy_drawdown for p in eq.data)
    assert made.metrics is not None
    assert math.isclose(worst, made.metrics["max_drawdown"], rel_tol=1e-6, abs_tol=1e-9)


def test_the_goal_is_set_shown_and_kept_in_history(client: ApiClient):
    assert client.goal() is None
    g = client.set_goal(GOAL)
    assert client.goal() == g and g.components["constraints"][0]["metric"] == "sharpe"
    g2 = client.set_goal("mean reversion on KO, Sharpe above 0.3")
    history = client.goal_history()
    assert [h.id for h in history.data][:2] == [g2.id, g.id]
    with pytest.raises(ApiError) as e:
        client.set_goal("generate fake prices for SPX")
    assert e.value.status == 403


def test_a_chat_turn_and_its_stream_end_in_the_same_reply_shape(client: ApiClient):
    reply = client.chat("train ridge on SPX from 2010 to 2016")
    (act,) = [a for a in reply.actions if a.name == "train_model"]
    stored = client.trial(act.data["trial_id"])
    assert act.data["metrics"]["sharpe"] == stored.sharpe
    events = list(client.chat_stream("which symbols can I use?", reply.conversation_id))
    kinds = [type(e) for e in events]
    assert kinds[-1] is ReplyEvent and kinds.count(ReplyEvent) == 1
    assert TextDelta in kinds and ActionEvent in kinds
    final = events[-1]
    assert isinstance(final, ReplyEvent) and final.reply.conversation_id == reply.conversation_id
    convs = client.conversations()
    assert any(c.id == reply.conversation_id and c.open for c in convs.data)
    msgs = client.conversation_messages(reply.conversation_id)
    assert [m.content for m in msgs.data if m.role == "user"] == [
        "train ridge on SPX from 2010 to 2016",
        "which symbols can I use?",
    ]
    stats = client.memory_stats()
    assert stats.total >= 4 and stats.by_role["user"] == 2


def test_a_streamed_trial_sends_fold_progress_before_its_reply(client: ApiClient):
    events = list(client.chat_stream("train ridge on SPX from 2010 to 2016"))
    progress = [e for e in events if isinstance(e, ProgressEvent)]
    assert progress and progress[-1].done == progress[-1].total >= 1
    assert isinstance(events[-1], ReplyEvent)


def test_streaming_to_an_unknown_conversation_is_404_before_any_event(client: ApiClient):
    with pytest.raises(ApiError) as e:
        list(client.chat_stream("hello", "conv_nope"))
    assert e.value.status == 404 and "conv_nope" in e.value.detail


def test_a_run_is_listed_read_cancelled_and_its_events_end(client: ApiClient, served):
    services = served.services
    steps = [{"action": "train_model", "params": {**TRIAL}}]
    run_id = services.runs.create_run("batch", steps, owner="ui")  # no worker: it stays queued
    assert client.run(run_id).status == "queued"
    assert any(r.id == run_id for r in client.runs().data)
    cancelled = client.control_run(run_id, "cancel")
    assert cancelled.status == "cancelled" and not cancelled.active
    seen = list(client.run_events(run_id))
    assert seen and seen[-1].status == "cancelled"
    with pytest.raises(ValueError):
        client.control_run(run_id, "delete")


def test_a_search_starts_from_the_goal_and_reports_its_budget(client: ApiClient):
    with pytest.raises(ApiError) as e:
        client.start_research(max_trials=2, max_minutes=1)
    assert e.value.status == 422 and "goal" in e.value.detail
    client.set_goal(GOAL)
    started = client.start_research(max_trials=2, max_minutes=1, max_folds=2, tune_trials=1)
    assert started.symbol == "SPX" and started.holdout["sealed_from"]
    run = client.run(started.run_id)
    assert run.kind == "search" and run.active
    rep = client.research_report(started.run_id)
    assert rep.budget == {"max_trials": 2, "max_minutes": 1.0} and rep.summary is None


def test_an_upload_with_a_vendor_becomes_a_symbol_and_a_bad_file_is_422(client: ApiClient, served):
    app = served.services.app
    md = app.data.fetch("KO", start="2015-01-01", end="2016-12-31", actor="test")
    buf = io.StringIO()
    md.frame.to_csv(buf, index_label="date")
    s = client.upload_data("ko_export.csv", buf.getvalue().encode(), "MYKO", "skfolio KO export")
    assert s.symbol == "MYKO" and s.rows == len(md.frame)
    assert s.provenance.get("vendor") == "skfolio KO export"
    with pytest.raises(ApiError) as e:
        client.upload_data("bad.csv", b"not,a,price\nfile,at,all\n", "BAD", "me")
    assert e.value.status == 422 and e.value.detail


def test_audit_verifies_and_the_tail_names_the_ui_token(client: ApiClient):
    client.set_goal(GOAL)
    v = client.audit_verify()
    assert v.ok and v.records > 0
    tail = client.audit_tail(n=20)
    assert tail.count == len(tail.data) > 0
    assert any(r.actor == "ui" for r in tail.data)
    assert "mlt_" not in str([r.payload for r in tail.data])  # no token value in the log


def test_a_legacy_zip_is_dry_run_first_then_imported_once(client: ApiClient):
    import json
    import zipfile

    chat = {
        "messages": [
            {"role": "user", "content": "train a ridge on SPX", "timestamp": "2025-07-09T19:48:59"},
            {"role": "mltrainer", "content": "Ridge it is.", "timestamp": "2025-07-09T19:49:01"},
        ],
        "saved_at": "2025-07-09T19:49:02",
        "max_messages": 200,
    }
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("logs/chat_history.json", json.dumps(chat))
    data = buf.getvalue()
    dry = client.migrate("logs.zip", data)
    assert dry["dry_run"] is True and dry["totals"]["messages"] == 2
    assert client.memory_stats().total == 0  # a dry run writes nothing
    real = client.migrate("logs.zip", data, dry_run=False)
    assert real["dry_run"] is False and client.memory_stats().total == 2
    again = client.migrate("logs.zip", data, dry_run=False)
    assert again["already_imported"] is True and client.memory_stats().total == 2
    with pytest.raises(ApiError) as e:
        client.migrate("logs.zip", b"not a zip")
    assert e.value.status == 422
