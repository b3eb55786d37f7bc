"""The API's streams and newer resources against the real app: chat and run progress as
Server-Sent Events (framing checked line by line), conversations and their messages,
Prometheus metrics, and CSV/Parquet upload with a declared vendor (real bundled data)."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from mltrainer.api import API_PREFIX, create_app
from mltrainer.errors import ProviderError
from mltrainer.settings import Settings

V = API_PREFIX
SECRET = "pk_StReAmSeCrEt_5e4d3c2b1a"
QUICK_RIDGE = {
    "model_id": "ridge",
    "symbol": "SPX",
    "start": "2012-01-01",
    "end": "2015-12-31",
    "horizon": 5,
    "max_folds": 2,
}
"""A ridge trial on real SPX closes small enough for a test (two quarterly folds)."""


@pytest.fixture
def api(settings_factory) -> Iterator[tuple[TestClient, dict[str, str]]]:
    settings: Settings = settings_factory(polygon_api_key=SECRET, embedded_workers=False)
    with TestClient(create_app(settings), raise_server_exceptions=False) as c:
        token = c.app.state.services.tokens.create("phone", "write")  # type: ignore[attr-defined]
        yield c, {"Authorization": f"Bearer {token}"}


def _events(raw: str) -> list[tuple[str, dict]]:
    """Parse an SSE body strictly: frames end with a blank line; each non-comment frame
    has exactly one ``event:`` and one ``data:`` line whose value is JSON."""
    assert raw.endswith("\n\n"), raw[-200:]
    out = []
    for block in raw[:-2].split("\n\n"):
        lines = [ln for ln in block.split("\n") if not ln.startswith(":")]
        if not lines:
            continue  # a keep-alive comment
        fields = dict(ln.split(": ", 1) for ln in lines)
        assert set(fields) == {"event", "data"} and len(lines) == 2, block
        out.append((fields["event"], json.loads(fields["data"])))
    return out


def _stream(c: TestClient, h, message: str, **extra) -> tuple[int, str, list[tuple[str, dict]]]:
    with c.stream("POST", f"{V}/chat/stream", json={"message": message, **extra}, headers=h) as r:
        body = "".join(r.iter_text())
        ctype = r.headers.get("content-type", "")
        if r.status_code != 200:
            return r.status_code, ctype, [("problem", json.loads(body))]
    return r.status_code, ctype, _events(body)


def test_a_streamed_chat_turn_sends_actions_fold_progress_and_the_stored_sharpe(api):
    c, h = api
    status, ctype, events = _stream(c, h, "train ridge on SPX from 2010 to 2016")
    assert status == 200 and ctype.startswith("text/event-stream")
    kinds = [k for k, _ in events]
    assert kinds[-1] == "reply" and kinds.count("reply") == 1 and "error" not in kinds
    assert kinds.index("action") < kinds.index("progress") < kinds.index("reply")
    assert "text" in kinds  # the planner's reply text arrives as deltas before the reply
    action = next(d for k, d in events if k == "action")
    assert action["name"] == "train_model" and action["params"]["model_id"] == "ridge"
    progress = [d for k, d in events if k == "progress"]
    assert progress[-1]["done"] == progress[-1]["total"] >= 1
    assert [p["done"] for p in progress] == sorted(p["done"] for p in progress)
    reply = events[-1][1]
    (act,) = [a for a in reply["actions"] if a["name"] == "train_model"]
    stored = c.app.state.services.executor.store.get(act["data"]["trial_id"])
    assert act["data"]["metrics"]["sharpe"] == stored["sharpe"]
    streamed = "".join(d["delta"] for k, d in events if k == "text")
    assert f"{stored['sharpe']:.2f}" in streamed and f"{stored['sharpe']:.2f}" in reply["text"]
    # the same conversation continues from the streamed reply
    status, _, more = _stream(
        c, h, "which symbols can I use?", conversation_id=reply["conversation_id"]
    )
    assert status == 200 and more[-1][1]["conversation_id"] == reply["conversation_id"]


def test_stream_checks_come_before_the_stream_starts(api, settings):
    c, h = api
    status, ctype, events = _stream(c, h, "hello", conversation_id="conv_nope")
    assert status == 404 and ctype.startswith("application/json")
    assert "conv_nope" in events[0][1]["detail"]
    big = "x" * (settings.max_message_bytes + 1)
    status, _ctype, events = _stream(c, h, big)
    assert status == 422 and "MLTRAINER_MAX_MESSAGE_BYTES" in events[0][1]["detail"]


def test_a_provider_failure_mid_stream_is_one_scrubbed_error_event(api, monkeypatch):
    from mltrainer.agent.conversation import Conversation

    def failing(self, text, on_text=None, on_action=None):
        on_text("Working on it")
        raise ProviderError(f"provider unreachable (key {SECRET})")

    monkeypatch.setattr(Conversation, "send", failing)
    c, h = api
    status, _ctype, events = _stream(c, h, "train ridge on SPX")
    assert status == 200
    assert [k for k, _ in events] == ["text", "error"]
    problem = events[-1][1]
    assert problem["status"] == 502 and problem["title"] == "bad gateway"
    assert "provider unreachable" in problem["detail"] and SECRET not in json.dumps(events)


def test_run_events_stream_the_run_until_it_ends(api):
    c, h = api
    step = {
        "action": "train_model",
        "params": QUICK_RIDGE,
    }
    run = c.post(f"{V}/runs", json={"steps": [step]}, headers=h).json()
    seen: list[tuple[str, dict]] = []

    def cancel_after_first_event() -> None:
        while not seen:
            threading.Event().wait(0.05)
        c.post(f"{V}/runs/{run['id']}/cancel", headers=h)

    t = threading.Thread(target=cancel_after_first_event)
    t.start()
    with c.stream("GET", f"{V}/runs/{run['id']}/events", params={"poll_s": 0.1}, headers=h) as r:
        assert r.status_code == 200 and r.headers["content-type"].startswith("text/event-stream")
        buf = ""
        for chunk in r.iter_text():
            buf += chunk
            if buf.endswith("\n\n"):
                seen[:] = _events(buf)
    t.join(timeout=10)
    kinds = [k for k, _ in seen]
    assert kinds[0] == "run" and seen[0][1]["status"] == "queued"
    assert kinds[-1] == "end" and seen[-1][1]["status"] == "cancelled"
    assert seen[-2][1]["status"] == "cancelled" and seen[-2][1]["id"] == run["id"]
    r = c.get(f"{V}/runs/r_nope/events", headers=h)
    assert r.status_code == 404 and r.json()["status"] == 404


def test_conversations_list_and_their_messages_in_order(api):
    c, h = api
    first = c.post(f"{V}/chat", json={"message": "which symbols can I use?"}, headers=h).json()
    cid = first["conversation_id"]
    c.post(
        f"{V}/chat",
        json={
            "message": "price a call with spot 100 strike 105 vol 25% rate 4% 6 months",
            "conversation_id": cid,
        },
        headers=h,
    )
    listed = c.get(f"{V}/conversations", headers=h).json()
    (conv,) = [x for x in listed["data"] if x["id"] == cid]
    msgs = c.get(f"{V}/conversations/{cid}/messages", headers=h).json()
    assert conv["open"] is True and conv["messages"] == msgs["count"] >= 4
    roles = [m["role"] for m in msgs["data"]]
    assert roles[0] == "user" and roles[-1] == "assistant"
    assert msgs["data"][0]["content"] == "which symbols can I use?"
    assert [m["id"] for m in msgs["data"]] == sorted(m["id"] for m in msgs["data"])
    made = c.post(f"{V}/conversations", headers=h)
    assert made.status_code == 201 and made.json()["messages"] == 0
    assert c.get(f"{V}/conversations/{made.json()['id']}/messages", headers=h).json()["count"] == 0
    r = c.get(f"{V}/conversations/conv_nope/messages", headers=h)
    assert r.status_code == 404 and "conv_nope" in r.json()["detail"]


def _metric(text: str, name: str, **labels: str) -> float:
    for line in text.splitlines():
        if line.startswith(name) and all(f'{k}="{v}"' in line for k, v in labels.items()):
            head = line.split(" ")[0]
            if head == name or head.startswith(name + "{"):
                return float(line.rsplit(" ", 1)[1])
    raise AssertionError(f"{name} {labels} not in metrics")


def test_metrics_count_requests_by_route_template_and_show_the_stores(api):
    c, h = api
    assert c.get(f"{V}/metrics").status_code == 401
    c.get(f"{V}/trials/t_one", headers=h)
    c.get(f"{V}/trials/t_two", headers=h)
    c.post(
        f"{V}/trials",
        json=QUICK_RIDGE,
        headers=h,
    )
    r = c.get(f"{V}/metrics", headers=h)
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/plain")
    text = r.text
    route = f"{V}/trials/{{trial_id}}"
    assert _metric(text, "mltrainer_http_requests_total", route=route, status="404") == 2
    assert "t_one" not in text  # raw paths never become labels
    assert _metric(text, "mltrainer_trials") == c.app.state.services.executor.store.count() == 1
    assert _metric(text, "mltrainer_audit_records") == c.app.state.services.app.audit.count()
    assert _metric(text, "mltrainer_http_request_duration_seconds_count", route=f"{V}/trials") == 1
    assert SECRET not in text


@pytest.fixture
def spx_csv(tmp_path: Path, app) -> Path:
    """Real SPX closes from the bundled data, written as a vendor-style CSV export."""
    md = app.data.fetch("SPX", start="2014-01-01", end="2016-12-31")
    path = tmp_path / "spx export.csv"
    md.frame.rename_axis("Date").to_csv(path)
    return path


def test_an_uploaded_csv_becomes_a_file_symbol_with_provenance(api, spx_csv: Path):
    c, h = api
    with spx_csv.open("rb") as f:
        r = c.post(
            f"{V}/data/upload",
            files={"file": (spx_csv.name, f, "text/csv")},
            data={"symbol": "myspx", "vendor": "arch package export"},
            headers=h,
        )
    assert r.status_code == 201, r.text
    made = r.json()
    assert made["symbol"] == "MYSPX" and made["provenance"]["source"] == "file"
    assert made["provenance"]["vendor"] == "arch package export"
    assert made["provenance"]["dataset"] == "spx_export.csv"  # the name, made safe
    again = c.get(f"{V}/data/symbols/MYSPX", params={"source": "file"}, headers=h).json()
    assert again["sha256"] == made["sha256"] and again["rows"] == made["rows"] > 700
    audit = c.app.state.services.app.audit.tail(50, kind="data.import")
    assert audit and audit[-1].actor == "phone"


@pytest.mark.parametrize(
    ("name", "content", "form", "needle"),
    [
        (
            "prices.exe",
            b"Date,close\n2020-01-02,1\n",
            {"symbol": "BAD", "vendor": "x"},
            ".csv or .parquet",
        ),
        (
            "prices.csv",
            b"Date,close\n2020-01-02,1\n2020-01-03,nan\n2020-01-06,2\n",
            {"symbol": "BAD", "vendor": "Stooq"},
            "BAD",
        ),
        (
            "prices.csv",
            b"not,a,table\n\x00\x01",
            {"symbol": "BAD", "vendor": "Stooq"},
            "prices.csv",
        ),
        ("prices.csv", b"Date,close\n2020-01-02,1\n", {"symbol": "BAD"}, "vendor"),
    ],
)
def test_a_bad_upload_is_422_and_stores_nothing(api, name, content, form, needle):
    c, h = api
    r = c.post(
        f"{V}/data/upload", files={"file": (name, content, "text/csv")}, data=form, headers=h
    )
    assert r.status_code == 422, r.text
    assert needle in r.json()["detail"] and "Traceback" not in r.text
    assert "BAD" not in c.app.state.services.app.data.files.symbols()


@pytest.mark.parametrize("end", ["0285-12-04", "2299-01-01"])
def test_a_date_outside_the_data_range_is_422_not_500(api, end):
    """Found by schemathesis: pandas could not cast year 285 to a nanosecond index."""
    c, h = api
    r = c.get(f"{V}/data/symbols/SPX", params={"end": end}, headers=h)
    assert r.status_code == 422 and end in r.json()["detail"]


def test_an_offset_past_the_database_integer_is_422_not_500(api):
    """Found by schemathesis: offset=3213712456455016153088 overflowed SQLite's INTEGER."""
    c, h = api
    r = c.get(f"{V}/trials", params={"offset": 3213712456455016153088}, headers=h)
    assert r.status_code == 422 and "offset" in r.json()["detail"]


def test_a_run_posted_with_embedded_workers_is_run_by_a_background_worker(settings_factory):
    """Under plain ``mltrainer serve`` a queued run starts a worker process, as chat does;
    its events end with the run finished and the step's stored metrics."""
    settings = settings_factory(embedded_workers=True)
    with TestClient(create_app(settings), raise_server_exceptions=False) as c:
        h = {"Authorization": f"Bearer {c.app.state.services.tokens.create('phone', 'write')}"}
        step = {
            "action": "train_model",
            "params": QUICK_RIDGE,
        }
        run = c.post(f"{V}/runs", json={"steps": [step]}, headers=h).json()
        with c.stream(
            "GET", f"{V}/runs/{run['id']}/events", params={"max_minutes": 3}, headers=h
        ) as r:
            events = _events("".join(r.iter_text()))
        assert events[-1] == ("end", {"status": "finished", "finish_reason": "exhausted"})
        report = c.get(f"{V}/runs/{run['id']}/report", headers=h).json()
        (done,) = report["steps"]
        assert done["status"] == "succeeded"
        stored = c.app.state.services.executor.store.get(done["trial_id"])
        assert done["sharpe"] == stored["sharpe"] and done["spec_hash"] == stored["spec_hash"]


def test_a_streamed_turn_with_a_real_provider_sdk_streams_its_deltas_and_runs_its_tool(
    settings_factory,
):
    """The same stream with the Anthropic provider (its real SDK against a local server in
    Anthropic's wire format): the model's text deltas arrive as ``text`` events, its tool
    call runs a real trial, a number the model invents is flagged, and the key never
    appears in the stream."""
    from llm_servers import ANTHROPIC_TEST_KEY, AnthropicServer, ScriptedToolCall, Turn

    params = QUICK_RIDGE
    with AnthropicServer() as srv:
        srv.push(
            Turn(
                text=["Training ", "ridge."], tool_calls=[ScriptedToolCall("train_model", params)]
            ),
            Turn(text=["Done: ", "Sharpe 9.87 on SPX."]),
        )
        settings = settings_factory(
            anthropic_api_key=ANTHROPIC_TEST_KEY,
            anthropic_base_url=srv.url,
            embedded_workers=False,
        )
        with TestClient(create_app(settings), raise_server_exceptions=False) as c:
            h = {"Authorization": f"Bearer {c.app.state.services.tokens.create('p', 'write')}"}
            status, _ctype, events = _stream(c, h, "train ridge on SPX from 2012 to 2015")
    assert status == 200
    deltas = [d["delta"] for k, d in events if k == "text"]
    assert deltas == ["Training ", "ridge.", "Done: ", "Sharpe 9.87 on SPX."]
    reply = events[-1][1]
    (act,) = reply["actions"]
    assert act["name"] == "train_model" and act["success"] and act["params"] == params
    assert any("9.87" in f for f in reply["flags"])  # not a number any result holds
    assert ANTHROPIC_TEST_KEY not in json.dumps(events)
