"""``mltrainer serve`` as a real process on a free loopback port, for tests and benchmarks
that must talk HTTP to the running app (schemathesis, concurrent clients).

The server gets an isolated ``MLTRAINER_HOME``; a write token is created with the CLI
before it starts (printed once, kept here only). :func:`served_api` waits until
``/api/v1/health`` answers, and stops the server with SIGTERM (then SIGKILL) on exit, its
output kept in ``home/serve.log`` for a failing test to show.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

__all__ = ["ServedApi", "served_api", "free_port"]

MLTRAINER = [sys.executable, "-c", "from mltrainer.cli import main; main()"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class ServedApi:
    url: str  # e.g. http://127.0.0.1:PORT
    token: str
    home: Path
    proc: subprocess.Popen[bytes]

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}

    def log(self) -> str:
        return (self.home / "serve.log").read_text(errors="replace")


@contextmanager
def served_api(
    home: Path, env: dict[str, str] | None = None, wait_s: float = 60
) -> Iterator[ServedApi]:
    home.mkdir(parents=True, exist_ok=True)
    full_env = {**os.environ, "MLTRAINER_HOME": str(home), **(env or {})}
    made = subprocess.run(
        [*MLTRAINER, "token", "create", "bench", "--scope", "write", "--json"],
        env=full_env,
        capture_output=True,
        text=True,
        check=True,
    )
    token = json.loads(made.stdout)["token"]
    port = free_port()
    log = (home / "serve.log").open("wb")
    proc = subprocess.Popen(
        [*MLTRAINER, "serve", "--port", str(port)], env=full_env, stdout=log, stderr=log
    )
    api = ServedApi(f"http://127.0.0.1:{port}", token, home, proc)
    try:
        deadline = time.monotonic() + wait_s
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"mltrainer serve exited with {proc.returncode}:\n{api.log()}")
            try:
                if httpx.get(f"{api.url}/api/v1/health", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"mltrainer serve did not answer in {wait_s} s:\n{api.log()}")
            time.sleep(0.2)
        yield api
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()
