"""``mltrainer up``: API, worker pool and web UI from one command, on loopback, with an
isolated home; the UI's token (0600, reused, replaced when revoked); clean stops."""

from __future__ import annotations

import os
import signal
import socket
import stat
import subprocess
import time
from pathlib import Path

import httpx
import pytest

from mltrainer.api.tokens import TokenStore
from mltrainer.cli.up import TOKEN_FILE, ensure_ui_token
from ui_helpers import CLI, free_port, pid_alive, processes_with_env, start_up, up_env

pytestmark = pytest.mark.slow


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def _wait_gone(pids: list[int], timeout: float = 30.0) -> list[int]:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        left = [p for p in pids if pid_alive(p)]
        if not left:
            return []
        time.sleep(0.2)
    return [p for p in pids if pid_alive(p)]


def test_up_serves_the_api_and_the_ui_and_sigterm_stops_every_child(tmp_path: Path):
    home = tmp_path / "home"
    up = start_up(home, workers=1)
    try:
        health = httpx.get(f"{up.api_url}/health", timeout=10)
        assert health.status_code == 200 and health.json()["status"] == "ok"
        ui = httpx.get(f"{up.url}/_stcore/health", timeout=10)
        assert ui.status_code == 200 and ui.text.strip() == "ok"
        token_file = home / TOKEN_FILE
        assert _mode(token_file) == 0o600
        token = up.token()
        assert httpx.get(f"{up.api_url}/trials", timeout=10).status_code == 401
        r = httpx.get(
            f"{up.api_url}/trials", headers={"Authorization": f"Bearer {token}"}, timeout=10
        )
        assert r.status_code == 200, r.text
        assert up.info["token_created"] is True and up.info["workers"] == 1
        pids = list(up.info["pids"].values())
        assert all(pid_alive(p) for p in pids)
        spawned = processes_with_env(MLTRAINER_HOME=str(home.resolve()))
        assert set(pids) - {up.info["pids"]["ui"]} <= set(spawned)
    finally:
        code = up.stop(signal.SIGTERM)
    assert code == 0, up.log()
    assert _wait_gone(pids) == []
    assert processes_with_env(MLTRAINER_HOME=str(home.resolve())) == []
    out = up.drain()
    assert '"status": "stopped"' in out
    for text in (out, up.log(), *(Path(p).read_text() for p in up.info["logs"].values())):
        assert token not in text  # the token is never printed or logged


def test_a_second_start_reuses_the_ui_token(tmp_path: Path):
    home = tmp_path / "home"
    first = start_up(home)
    token = first.token()
    assert first.stop() == 0, first.log()
    again = start_up(home)
    try:
        assert again.info["token_created"] is False
        assert again.token() == token
    finally:
        assert again.stop() == 0, again.log()


def test_a_revoked_ui_token_is_replaced_by_a_new_one(app):
    tokens = TokenStore(app.engine, app.audit)
    home = app.settings.home
    token, created = ensure_ui_token(home, tokens)
    assert created and _mode(home / TOKEN_FILE) == 0o600
    assert ensure_ui_token(home, tokens) == (token, False)
    tokens.revoke("local-ui")
    new, created = ensure_ui_token(home, tokens)
    assert created and new != token
    assert (home / TOKEN_FILE).read_text().strip() == new
    assert _mode(home / TOKEN_FILE) == 0o600
    info = tokens.authenticate(new)
    assert info is not None and info.name == "local-ui-2" and info.can_write()


def test_a_token_file_left_readable_by_others_is_made_private(app):
    tokens = TokenStore(app.engine, app.audit)
    home = app.settings.home
    token, _ = ensure_ui_token(home, tokens)
    (home / TOKEN_FILE).chmod(0o644)
    assert ensure_ui_token(home, tokens) == (token, False)
    assert _mode(home / TOKEN_FILE) == 0o600


def test_a_port_in_use_is_exit_2_and_starts_nothing(tmp_path: Path):
    home = tmp_path / "home"
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        p = subprocess.run(
            [*CLI, "up", "--api-port", str(port), "--ui-port", str(free_port()), "--json"],
            env=up_env(home),
            capture_output=True,
            text=True,
            timeout=120,
        )
    assert p.returncode == 2, p.stderr
    assert f"port {port}" in p.stderr and "already in use" in p.stderr and "--api-port" in p.stderr
    assert p.stdout == "" and not (home / TOKEN_FILE).exists()


def test_a_child_that_dies_stops_the_rest_and_exits_1(tmp_path: Path):
    home = tmp_path / "home"
    up = start_up(home)
    pids = up.info["pids"]
    os.kill(pids["api"], signal.SIGKILL)
    try:
        code = up.proc.wait(timeout=150)
    except subprocess.TimeoutExpired:
        up.stop(signal.SIGKILL)
        raise
    assert code == 1
    assert "the API" in up.log() and "exited" in up.log()
    assert _wait_gone(list(pids.values())) == []
    assert processes_with_env(MLTRAINER_HOME=str(home.resolve())) == []


def test_up_killed_with_sigkill_leaves_no_orphans(tmp_path: Path):
    home = tmp_path / "home"
    up = start_up(home)
    pids = list(up.info["pids"].values())
    up.proc.kill()  # no handler runs: the kernel's parent-death signal stops the children
    up.proc.wait(timeout=30)
    assert _wait_gone(pids, timeout=120) == []
    assert _wait_gone(processes_with_env(MLTRAINER_HOME=str(home.resolve())), 60) == []
