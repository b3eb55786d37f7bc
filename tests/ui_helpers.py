"""Starting ``mltrainer up`` for tests: free loopback ports, an isolated home, the
``--json`` ready line, and a clean stop. Shared by test_up.py and test_ui_browser.py."""

from __future__ import annotations

import json
import os
import queue
import signal
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

CLI = [sys.executable, "-c", "from mltrainer.cli import main; main()"]
READY_S = 180.0
_KEYS = ("POLYGON_API_KEY", "FRED_API_KEY", "ANTHROPIC_API_KEY", "OPENAI_API_KEY")


def free_port() -> int:
    """A TCP port nothing listens on now (the kernel's pick on loopback)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def up_env(home: Path, workers: int = 1, **extra: str) -> dict[str, str]:
    """This environment with an isolated home, no API key and no MLTRAINER_* setting from
    the developer's shell (the offline planner answers the chat)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("MLTRAINER_") and k not in _KEYS}
    env.update({"MLTRAINER_HOME": str(home), "MLTRAINER_WORKERS": str(workers), **extra})
    return env


@dataclass
class Up:
    """A running ``mltrainer up --json``: its process, the ready line, its stderr file."""

    proc: subprocess.Popen[str]
    home: Path
    stderr: Path
    info: dict[str, Any] = field(default_factory=dict)
    lines: queue.Queue[str] = field(default_factory=queue.Queue)

    @property
    def url(self) -> str:
        return str(self.info["url"])

    @property
    def api_url(self) -> str:
        return str(self.info["api_url"])

    def token(self) -> str:
        return (self.home / "ui_token").read_text(encoding="utf-8").strip()

    def next_line(self, timeout: float) -> str | None:
        try:
            return self.lines.get(timeout=timeout)
        except queue.Empty:
            return None

    def drain(self, timeout: float = 1.0) -> str:
        """Every line printed since, until none comes for ``timeout`` seconds."""
        out = []
        while (line := self.next_line(timeout)) is not None:
            out.append(line)
        return "".join(out)

    def log(self) -> str:
        return self.stderr.read_text(encoding="utf-8", errors="replace")

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 150.0) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        try:
            return self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            raise AssertionError(
                f"mltrainer up did not stop in {timeout}s:\n{self.log()}"
            ) from None


def start_up(
    home: Path,
    *args: str,
    workers: int = 1,
    api_port: int | None = None,
    ui_port: int | None = None,
    wait: bool = True,
    **env: str,
) -> Up:
    """Start ``mltrainer up --json`` on free ports; with ``wait``, return once the ready
    line is printed (raises, with the log, if it exits or takes longer than READY_S)."""
    home.mkdir(parents=True, exist_ok=True)
    stderr = home.parent / f"up-{time.time_ns()}.stderr"
    ports = [
        "--api-port",
        str(api_port or free_port()),
        "--ui-port",
        str(ui_port or free_port()),
    ]
    with open(stderr, "w") as err:
        proc = subprocess.Popen(
            [*CLI, "up", *ports, "--json", *args],
            env=up_env(home, workers, **env),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=err,
            text=True,
        )
    up = Up(proc, home, stderr)

    def pump() -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            up.lines.put(line)

    threading.Thread(target=pump, daemon=True).start()
    if not wait:
        return up
    deadline = time.monotonic() + READY_S
    while time.monotonic() < deadline:
        line = up.next_line(0.5)
        if line and line.strip().startswith("{"):
            up.info = json.loads(line)
            assert up.info["status"] == "up", line
            return up
        if proc.poll() is not None and up.lines.empty():
            raise AssertionError(f"mltrainer up exited {proc.returncode}:\n{up.log()}")
    up.stop(signal.SIGKILL)
    raise AssertionError(f"mltrainer up was not ready in {READY_S}s:\n{up.log()}")


def pid_alive(pid: int) -> bool:
    """True while ``pid`` exists and is not a zombie (an exited child nobody reaped)."""
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().rsplit(")", 1)[1].split()[0] != "Z"
    except (FileNotFoundError, ProcessLookupError, IndexError):
        return False


def processes_with_env(**match: str) -> list[int]:
    """Pids of live processes (of this user) whose environment holds any ``NAME=value``
    of ``match``: how a test finds what ``up`` started, grandchildren included."""
    wanted = {f"{k}={v}".encode() for k, v in match.items()}
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or int(entry) == os.getpid():
            continue
        try:
            with open(f"/proc/{entry}/environ", "rb") as fh:
                env = set(fh.read().split(b"\0"))
        except OSError:
            continue
        if env & wanted and pid_alive(int(entry)):
            found.append(int(entry))
    return found
