"""REST API auth: every route (read from the route table, so a new route cannot skip
the check) needs a bearer token; a read token cannot write; tokens are stored hashed."""

from __future__ import annotations

import json
import re
import sqlite3
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from mltrainer.api import API_PREFIX, create_app
from mltrainer.api.deps import READ_METHODS
from mltrainer.settings import Settings

PUBLIC = {f"{API_PREFIX}/health"}


@pytest.fixture
def client(settings: Settings) -> Iterator[TestClient]:
    with TestClient(create_app(settings), raise_server_exceptions=False) as c:
        yield c


def _tokens(client: TestClient) -> tuple[str, str]:
    store = client.app.state.services.tokens  # type: ignore[attr-defined]
    return store.create("reader", "read"), store.create("writer", "write")


def _routes(client: TestClient) -> list[tuple[str, str]]:
    """Every (method, path) of the API, from the OpenAPI route table (FastAPI builds it
    from every included router), path parameters filled in."""
    out = []
    for path, ops in client.app.openapi()["paths"].items():  # type: ignore[attr-defined]
        if path.startswith(API_PREFIX):
            out += [(m.upper(), re.sub(r"\{[^}]+\}", "x", path)) for m in ops]
    return out


def test_the_route_table_covers_every_resource(client: TestClient):
    paths = {p for _m, p in _routes(client)}
    for part in (
        "models",
        "data",
        "trials",
        "goals",
        "runs",
        "financial",
        "memory",
        "audit",
        "chat",
        "conversations",
        "metrics",
        "migrate",
        "research",
    ):
        assert any(p.startswith(f"{API_PREFIX}/{part}") for p in paths), part


def test_every_route_but_health_is_401_without_a_token(client: TestClient):
    for method, path in _routes(client):
        r = client.request(method, path, json={})
        if path in PUBLIC:
            assert r.status_code == 200, (method, path)
            continue
        assert r.status_code == 401, (method, path, r.status_code)
        body = r.json()
        assert body["status"] == 401 and body["title"] == "unauthorized"
        assert r.headers["www-authenticate"] == "Bearer"


def test_an_unknown_or_revoked_token_is_401(client: TestClient):
    _reader, writer = _tokens(client)
    bad = {"Authorization": "Bearer mlt_not-a-token"}
    assert client.get(f"{API_PREFIX}/models", headers=bad).status_code == 401
    ok = {"Authorization": f"Bearer {writer}"}
    assert client.get(f"{API_PREFIX}/models", headers=ok).status_code == 200
    client.app.state.services.tokens.revoke("writer")  # type: ignore[attr-defined]
    assert client.get(f"{API_PREFIX}/models", headers=ok).status_code == 401


def test_a_read_token_is_403_on_every_write_route(client: TestClient):
    reader, _writer = _tokens(client)
    headers = {"Authorization": f"Bearer {reader}"}
    writes = [(m, p) for m, p in _routes(client) if m not in READ_METHODS]
    assert writes
    for method, path in writes:
        r = client.request(method, path, json={}, headers=headers)
        assert r.status_code == 403, (method, path, r.status_code)
        assert "scope read" in r.json()["detail"]


def test_the_token_is_never_stored_or_audited_in_clear(client: TestClient, settings: Settings):
    reader, writer = _tokens(client)
    headers = {"Authorization": f"Bearer {writer}"}
    assert (
        client.put(
            f"{API_PREFIX}/goals/current", json={"text": "Sharpe above 1 on SPX"}, headers=headers
        ).status_code
        == 200
    )
    assert client.get(f"{API_PREFIX}/audit/tail", headers=headers).status_code == 200
    raw = (settings.home / "mltrainer.db").read_bytes()
    for wal in settings.home.glob("mltrainer.db-wal"):
        raw += wal.read_bytes()
    for token in (reader, writer):
        assert token.encode() not in raw
    con = sqlite3.connect(settings.home / "mltrainer.db")
    try:
        audit_text = " ".join(
            f"{actor} {payload}"
            for actor, payload in con.execute("SELECT actor, payload FROM audit_log")
        )
        names = {row[0] for row in con.execute("SELECT name FROM api_tokens")}
    finally:
        con.close()
    assert reader not in audit_text and writer not in audit_text
    assert "writer" in audit_text  # the goal change names the token as its actor
    assert names == {"reader", "writer"}


def test_token_cli_prints_the_token_once_and_it_authenticates(settings: Settings, monkeypatch):
    from typer.testing import CliRunner

    from mltrainer.cli import app as cli

    monkeypatch.setenv("MLTRAINER_HOME", str(settings.home))
    runner = CliRunner()
    made = runner.invoke(cli, ["token", "create", "laptop", "--scope", "write", "--json"])
    assert made.exit_code == 0, made.output
    token = json.loads(made.output)["token"]
    listed = runner.invoke(cli, ["token", "list", "--json"])
    assert token not in listed.output
    assert [t["name"] for t in json.loads(listed.output)] == ["laptop"]
    dup = runner.invoke(cli, ["token", "create", "laptop"])
    assert dup.exit_code != 0
    bad = runner.invoke(cli, ["token", "create", "x", "--scope", "admin"])
    assert bad.exit_code == 2
    with TestClient(create_app(settings)) as c:
        ok = {"Authorization": f"Bearer {token}"}
        assert (
            c.put(
                f"{API_PREFIX}/goals/current", json={"text": "Sharpe above 1"}, headers=ok
            ).status_code
            == 200
        )
        assert runner.invoke(cli, ["token", "revoke", "laptop"]).exit_code == 0
        assert c.get(f"{API_PREFIX}/goals/current", headers=ok).status_code == 401
