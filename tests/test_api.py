"""The REST API against the real app on an isolated home: error mapping, a real trial,
a chat turn with the offline planner, runs, and no secret in any response."""

from __future__ import annotations

import math
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from mltrainer.api import API_PREFIX, create_app
from mltrainer.settings import Settings
from vendor_servers import PolygonServer

V = API_PREFIX
SECRET = "pk_ApIsEcReT_9d8c7b6a"  # distinctive, so any leak is easy to find
TRIAL = {
    "model_id": "ridge",
    "symbol": "SPX",
    "start": "2010-01-01",
    "end": "2016-12-31",
    "horizon": 5,
    "max_folds": 3,
}


def _client(settings: Settings) -> Iterator[tuple[TestClient, dict[str, str]]]:
    # queued runs stay queued: no background worker process outlives a test
    settings = settings.model_copy(update={"embedded_workers": False})
    with TestClient(create_app(settings), raise_server_exceptions=False) as c:
        token = c.app.state.services.tokens.create("phone", "write")  # type: ignore[attr-defined]
        yield c, {"Authorization": f"Bearer {token}"}


@pytest.fixture
def api(settings: Settings) -> Iterator[tuple[TestClient, dict[str, str]]]:
    yield from _client(settings)


def _problem(r, status: int) -> str:
    assert r.status_code == status, r.text
    body = r.json()
    assert set(body) == {"type", "title", "status", "detail"} and body["status"] == status
    assert "Traceback" not in r.text
    return body["detail"]


def test_health_is_open_and_names_the_schema(api):
    c, _h = api
    r = c.get(f"{V}/health")
    assert r.status_code == 200 and r.json()["status"] == "ok"
    assert r.json()["schema_revision"] == "0007"


def test_unknown_trial_is_404_with_a_problem_body(api):
    c, h = api
    detail = _problem(c.get(f"{V}/trials/t_nope", headers=h), 404)
    assert "t_nope" in detail


def test_a_source_the_policy_refuses_is_403_with_the_gateway_reason(api):
    c, h = api
    r = c.post(f"{V}/trials", json={**TRIAL, "source": "synthetic"}, headers=h)
    detail = _problem(r, 403)
    services = c.app.state.services
    decision = services.app.gateway.check_source("synthetic", actor="test")
    assert not decision.allowed and detail == decision.reason


def test_a_bad_spec_is_422_naming_the_field(api):
    c, h = api
    detail = _problem(c.post(f"{V}/trials", json={**TRIAL, "horizon": 0}, headers=h), 422)
    assert "horizon" in detail
    detail = _problem(c.post(f"{V}/trials", json={**TRIAL, "bogus": 1}, headers=h), 422)
    assert "bogus" in detail
    assert c.get(f"{V}/trials", headers=h).json()["count"] == 0  # nothing written


def test_an_unknown_model_is_404_with_suggestions(api):
    c, h = api
    detail = _problem(c.post(f"{V}/trials", json={**TRIAL, "model_id": "ridg"}, headers=h), 404)
    assert "ridge" in detail


def test_an_oversize_body_is_413_before_the_route_runs(settings_factory):
    settings = settings_factory(api_max_body_bytes=1024)
    for c, h in _client(settings):
        big = {"text": "Sharpe above 1 on SPX " + "x" * 2000}
        detail = _problem(c.put(f"{V}/goals/current", json=big, headers=h), 413)
        assert "1,024" in detail
        assert c.get(f"{V}/goals/current", headers=h).json() is None


def test_a_trial_created_through_the_api_is_the_stored_trial(api):
    c, h = api
    r = c.post(f"{V}/trials", json=TRIAL, headers=h)
    assert r.status_code == 201, r.text
    made = r.json()
    stored = c.app.state.services.executor.store.get(made["id"])
    assert made["status"] == "done" and stored["status"] == "done"
    assert made["sharpe"] == stored["result"]["metrics"]["sharpe"] == stored["sharpe"]
    assert math.isfinite(made["sharpe"])
    assert made["data_hash"] == stored["data_hash"] and made["spec_hash"] == stored["spec_hash"]
    listed = c.get(f"{V}/trials", params={"model_id": "ridge", "limit": 1}, headers=h).json()
    assert listed["count"] == 1 and listed["data"][0]["id"] == made["id"]
    assert c.get(f"{V}/trials", params={"symbol": "NDX"}, headers=h).json()["count"] == 0
    assert c.get(f"{V}/trials", params={"offset": 1}, headers=h).json()["data"] == []
    shown = c.get(f"{V}/trials/{made['id']}", headers=h).json()
    assert shown["metrics"]["sharpe"] == made["sharpe"]
    html = c.get(f"{V}/trials/{made['id']}/report", headers=h)
    assert html.status_code == 200 and "plotly" in html.text.lower()
    rep = c.post(f"{V}/trials/{made['id']}/replay", headers=h).json()
    assert rep["identical"] is True
    created = [
        rec
        for rec in c.app.state.services.app.audit.tail(200)
        if rec.kind.startswith("trial") and rec.payload.get("trial_id") == made["id"]
    ]
    assert created and all(rec.actor == "phone" for rec in created)


def test_a_chat_turn_trains_ridge_and_reports_the_stored_sharpe(api):
    c, h = api
    r = c.post(f"{V}/chat", json={"message": "train ridge on SPX from 2010 to 2016"}, headers=h)
    assert r.status_code == 200, r.text
    reply = r.json()
    (act,) = [a for a in reply["actions"] if a["name"] == "train_model"]
    assert act["success"] and reply["refused"] is False
    stored = c.app.state.services.executor.store.get(act["data"]["trial_id"])
    assert act["data"]["metrics"]["sharpe"] == stored["sharpe"]
    assert f"{stored['sharpe']:.2f}" in reply["text"]
    again = c.post(
        f"{V}/chat",
        json={"message": "which symbols can I use?", "conversation_id": reply["conversation_id"]},
        headers=h,
    )
    assert again.status_code == 200 and again.json()["conversation_id"] == reply["conversation_id"]
    lost = c.post(f"{V}/chat", json={"message": "hi", "conversation_id": "conv_gone"}, headers=h)
    _problem(lost, 404)


def test_goals_runs_models_data_memory_and_audit_answer(api):
    c, h = api
    g = c.put(f"{V}/goals/current", json={"text": "momentum on SPX, Sharpe above 1"}, headers=h)
    assert g.status_code == 200 and g.json()["created_by"] == "phone"
    assert c.get(f"{V}/goals/current", headers=h).json()["id"] == g.json()["id"]
    assert c.get(f"{V}/goals/history", headers=h).json()["count"] == 1
    refused = c.put(f"{V}/goals/current", json={"text": "train on synthetic data"}, headers=h)
    _problem(refused, 403)
    steps = [{"action": "train_model", "params": {**TRIAL, "max_folds": 2}}]
    run = c.post(f"{V}/runs", json={"steps": steps}, headers=h)
    assert run.status_code == 201, run.text
    rid = run.json()["id"]
    assert run.json()["status"] == "queued" and run.json()["owner"] == "phone"
    assert c.post(f"{V}/runs/{rid}/pause", headers=h).json()["status"] == "paused"
    assert c.post(f"{V}/runs/{rid}/resume", headers=h).json()["status"] == "queued"
    assert c.post(f"{V}/runs/{rid}/cancel", headers=h).json()["status"] == "cancelled"
    assert c.get(f"{V}/runs/{rid}/report", headers=h).json()["counts"] == {"cancelled": 1}
    assert c.get(f"{V}/runs", headers=h).json()["count"] == 1
    bad = c.post(f"{V}/runs", json={"steps": [{"action": "nope", "params": {}}]}, headers=h)
    _problem(bad, 422)
    models = c.get(f"{V}/models", params={"task": "regression"}, headers=h).json()
    assert models["count"] > 0 and all(m["task"] == "regression" for m in models["data"])
    assert c.get(f"{V}/models/ridge", headers=h).json()["library"]
    cat = c.get(f"{V}/data/catalogue", headers=h).json()
    assert any(e["symbol"] == "SPX" for e in cat["data"])
    spx = c.get(f"{V}/data/symbols/SPX", params={"end": "2016-12-31"}, headers=h).json()
    assert spx["provenance"]["package"] and len(spx["sha256"]) == 64
    assert c.get(f"{V}/memory/stats", headers=h).status_code == 200
    assert c.get(f"{V}/memory/search", params={"q": "SPX"}, headers=h).status_code == 200
    assert c.get(f"{V}/financial", headers=h).json()["count"] > 0
    verify = c.get(f"{V}/audit/verify", headers=h).json()
    assert verify["ok"] is True and verify["records"] > 0
    tail = c.get(f"{V}/audit/tail", params={"n": 5, "kind": "goal.set"}, headers=h).json()
    assert tail["data"][0]["actor"] == "phone"


def test_no_response_holds_a_vendor_key(settings_factory):
    with PolygonServer(api_key=SECRET) as srv:
        srv.mode = "echo"  # the server puts the key it was sent into its error body
        settings = settings_factory(
            polygon_api_key=SECRET, polygon_base_url=srv.url, http_retries=0
        )
        for c, h in _client(settings):
            params = {"source": "polygon", "start": "2015-01-01", "end": "2015-12-31"}
            r = c.get(f"{V}/data/symbols/AAPL", params=params, headers=h)
            assert r.status_code == 422 and "***" in r.json()["detail"]
            assert srv.requests and SECRET in str(srv.requests[0].headers)
            bodies = [r.text]
            for path in ("/health", "/models", "/audit/tail", "/memory/stats", "/trials"):
                bodies.append(c.get(f"{V}{path}", headers=h).text)
            bodies.append(c.get("/openapi.json").text)
            assert all(SECRET not in b for b in bodies)


def test_mltrainer_serve_answers_health_on_loopback(settings: Settings):
    import os
    import socket
    import subprocess
    import sys
    import time

    import httpx

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {**os.environ, "MLTRAINER_HOME": str(settings.home)}
    code = "import sys; from mltrainer.cli import main; sys.argv[0] = 'mltrainer'; main()"
    proc = subprocess.Popen(
        [sys.executable, "-c", code, "serve", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                r = httpx.get(f"http://127.0.0.1:{port}{V}/health", timeout=2)
                break
            except httpx.TransportError:
                assert proc.poll() is None, proc.stderr.read().decode() if proc.stderr else ""
                assert time.monotonic() < deadline, "serve did not start in 60 s"
                time.sleep(0.3)
        assert r.status_code == 200 and r.json()["status"] == "ok"
        assert httpx.get(f"http://127.0.0.1:{port}{V}/trials", timeout=5).status_code == 401
    finally:
        proc.terminate()
        proc.wait(timeout=30)
