"""``mltrainer up``: the API, a worker pool and the web UI together, on this machine.

Three child processes: ``mltrainer serve`` (uvicorn), ``mltrainer worker`` (the pool that
runs background steps) and ``streamlit run`` on the UI's entry script. ``up`` waits until
the API's ``/api/v1/health`` and the UI answer, prints the URL, and then watches them: a
child that dies stops the others and ``up`` exits 1 naming it; Ctrl-C or SIGTERM stops
every child (SIGTERM, then SIGKILL to its process group after a grace period), so nothing
is left running. Each child also gets SIGTERM from the kernel if ``up`` itself is killed.

The UI authenticates with a local write token: created on first start
(``TokenStore.create("local-ui", "write")``), kept in ``$MLTRAINER_HOME/ui_token`` (mode
0600, written atomically) and reused later; a revoked one is replaced. The token reaches
the UI in its environment only (``MLTRAINER_UI_TOKEN``): it is never printed, logged or
put in a URL.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

import typer

from ._common import console, err_console, make_app, print_json, safe

if TYPE_CHECKING:
    from ..api.tokens import TokenStore
    from ..settings import Settings

__all__ = ["register", "up", "ensure_ui_token", "TOKEN_FILE", "TOKEN_NAME"]

TOKEN_FILE = "ui_token"
TOKEN_NAME = "local-ui"
READY_TIMEOUT_S = 180.0
STOP_GRACE_S = {"ui": 10.0, "api": 15.0, "workers": 90.0}
"""Seconds each child has to stop after SIGTERM (a worker finishes its current fold)."""
_SECRET_ENV = ("KEY", "TOKEN", "SECRET", "PASSWORD", "PASSWD")


def register(app: typer.Typer) -> None:
    app.command("up")(up)


# -- the UI's token -----------------------------------------------------------------------------
def _write_secret(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` atomically, readable by the owner only (0600 from the
    moment the temp file exists, so the secret is never world-readable)."""
    from ..fsio import StagedFiles

    with StagedFiles() as staged:
        tmp = staged.temp_for(path)
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)


def ensure_ui_token(home: Path, tokens: TokenStore) -> tuple[str, bool]:
    """The UI's write token, and whether it was created now.

    ``<home>/ui_token`` is reused while it holds a live write token; otherwise a new token
    named ``local-ui`` (``local-ui-2``... when that name is taken) replaces it."""
    from ..errors import ConfigError
    from ..fsio import file_lock

    path = home / TOKEN_FILE
    with file_lock(home / f".{TOKEN_FILE}.lock"):
        try:
            old = path.read_text(encoding="utf-8").strip()
        except FileNotFoundError:
            old = ""
        except OSError as e:
            raise ConfigError(
                f"cannot read {path}: {e.strerror or e}; remove it and run mltrainer up again"
            ) from e
        if old:
            info = tokens.authenticate(old)
            if info is not None and info.can_write():
                if path.stat().st_mode & 0o077:
                    os.chmod(path, 0o600)
                return old, False
        taken = {t.name for t in tokens.list()}
        name, n = TOKEN_NAME, 1
        while name in taken:
            n += 1
            name = f"{TOKEN_NAME}-{n}"
        token = tokens.create(name, "write", actor="up")
        _write_secret(path, token + "\n")
        return token, True


# -- ports and URLs -----------------------------------------------------------------------------
def _url(host: str, port: int) -> str:
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


def _connect_host(host: str) -> str:
    """Where to reach a server listening on ``host`` (a wildcard is reached on loopback)."""
    return {"0.0.0.0": "127.0.0.1", "": "127.0.0.1", "::": "::1"}.get(host, host)


def _require_free(host: str, port: int, option: str) -> None:
    from ..errors import InputError

    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((host, port))
        except OSError as e:
            if e.errno == 98 or "in use" in str(e).lower():
                raise InputError(
                    f"port {port} on {host} is already in use; stop what listens there or "
                    f"choose another port with {option}"
                ) from None
            raise InputError(f"cannot listen on {host}:{port}: {e.strerror or e}") from None


# -- children -----------------------------------------------------------------------------------
def _die_with_parent() -> Any:
    """A ``preexec_fn`` asking Linux to SIGTERM the child when ``up`` dies (no orphans
    even after ``kill -9``); None where prctl does not exist."""
    if not sys.platform.startswith("linux"):
        return None
    import ctypes

    try:
        libc = ctypes.CDLL(None, use_errno=True)
        prctl = libc.prctl
    except (OSError, AttributeError):
        return None
    parent = os.getpid()

    def preexec() -> None:
        prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
        if os.getppid() != parent:  # up died before prctl took effect
            os._exit(1)

    return preexec


def _child_env(settings: Settings, extra: dict[str, str], keep_secrets: bool) -> dict[str, str]:
    """The children's environment: this one with the home made explicit. The UI's gets no
    secret-looking variable it does not need (API keys stay with the API and workers)."""
    from .. import ui

    env = {k: v for k, v in os.environ.items() if k not in (ui.ENV_TOKEN, ui.ENV_API_URL)}
    if not keep_secrets:
        env = {
            k: v
            for k, v in env.items()
            if not k.startswith("MLTRAINER_") and not any(s in k.upper() for s in _SECRET_ENV)
        }
    else:
        env["MLTRAINER_HOME"] = str(settings.home)
    env.update(extra)
    return env


@dataclass
class _Child:
    name: str
    label: str
    proc: subprocess.Popen[bytes]
    log: Path

    def exited(self) -> int | None:
        return self.proc.poll()


def _spawn(name: str, label: str, args: list[str], env: dict[str, str], log: Path) -> _Child:
    log.parent.mkdir(parents=True, exist_ok=True)
    out: IO[bytes] = open(log, "ab")  # noqa: SIM115 - the child owns it; closed below
    try:
        proc = subprocess.Popen(
            args,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group: stopped as a whole
            preexec_fn=_die_with_parent(),  # up is single-threaded when it spawns
        )
    finally:
        out.close()
    return _Child(name, label, proc, log)


def _stop(children: list[_Child]) -> dict[str, int | None]:
    """SIGTERM every child, wait for each (its grace period), SIGKILL the process group
    of any that is still there; returns the exit codes."""
    for c in children:
        if c.exited() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(c.proc.pid, signal.SIGTERM)
    for c in children:
        try:
            c.proc.wait(timeout=STOP_GRACE_S.get(c.name, 15.0))
        except subprocess.TimeoutExpired:
            err_console.print(f"{c.label} did not stop in time; killing it")
        # whatever is left of its group (a stuck child, a pool process)
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(c.proc.pid, signal.SIGKILL)
        c.proc.wait()
    return {c.name: c.proc.returncode for c in children}


def _log_tail(path: Path, lines: int = 12) -> str:
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return ""
    return "\n".join(text.splitlines()[-lines:])


def _answers(url: str, expect: str | None = None) -> bool:
    import httpx

    try:
        r = httpx.get(url, timeout=2.0)
    except httpx.HTTPError:
        return False
    return r.status_code == 200 and (expect is None or expect in r.text)


# -- the command --------------------------------------------------------------------------------
def up(
    host: str = typer.Option("127.0.0.1", help="Interface the API and the UI listen on."),
    api_port: int = typer.Option(8000, min=1, max=65535, help="The API's TCP port."),
    ui_port: int = typer.Option(8501, min=1, max=65535, help="The web UI's TCP port."),
    workers: int | None = typer.Option(
        None, min=1, max=256, help="Worker processes (default MLTRAINER_WORKERS)."
    ),
    as_json: bool = typer.Option(
        False, "--json", help="Print one JSON line when up and one when stopped."
    ),
) -> None:
    """Start the API, a worker pool and the web UI; print the URL; Ctrl-C stops them all.
    A port in use is exit 2; a part that dies stops the rest (exit 1)."""
    from .. import ui
    from ..api.tokens import TokenStore
    from ..errors import InputError
    from ..scrub import Scrubber
    from ..settings import load_settings

    if api_port == ui_port:
        raise InputError(f"--api-port and --ui-port are both {api_port}; give them two ports")
    settings = load_settings()
    _require_free(host, api_port, "--api-port")
    _require_free(host, ui_port, "--ui-port")
    app = make_app(settings)  # the schema is migrated once, here, before any child starts
    try:
        token, created = ensure_ui_token(settings.home, TokenStore(app.engine, app.audit))
    finally:
        app.close()
    scrub = Scrubber.of_installation(settings).including(token)
    n = workers or settings.workers
    reach = _connect_host(host)
    api_url, ui_url = _url(host, api_port), _url(host, ui_port)
    logs = settings.home / "logs"
    cli = [sys.executable, "-c", "from mltrainer.cli import main; main()"]
    # the pool below runs the steps: the API must not start workers of its own
    api_env = _child_env(settings, {"MLTRAINER_EMBEDDED_WORKERS": "false"}, keep_secrets=True)
    ui_env = _child_env(
        settings, {ui.ENV_API_URL: _url(reach, api_port), ui.ENV_TOKEN: token}, keep_secrets=False
    )
    stop_signal: list[int] = []

    def on_signal(signum: int, _frame: Any) -> None:
        stop_signal.append(signum)

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    children: list[_Child] = []
    try:
        children.append(
            _spawn(
                "api",
                "the API",
                [*cli, "serve", "--host", host, "--port", str(api_port)],
                api_env,
                logs / "up-api.log",
            )
        )
        children.append(
            _spawn(
                "workers",
                "the worker pool",
                [*cli, "worker", "--concurrency", str(n)],
                _child_env(settings, {}, keep_secrets=True),
                logs / "up-workers.log",
            )
        )
        children.append(
            _spawn(
                "ui",
                "the web UI",
                [
                    sys.executable,
                    "-m",
                    "streamlit",
                    "run",
                    str(ui.APP_PATH),
                    "--server.headless",
                    "true",
                    "--server.port",
                    str(ui_port),
                    "--server.address",
                    host,
                    "--server.fileWatcherType",
                    "none",
                    "--browser.gatherUsageStats",
                    "false",
                    "--client.showErrorDetails",
                    "none",
                    "--client.toolbarMode",
                    "minimal",
                ],
                ui_env,
                logs / "up-ui.log",
            )
        )
        code = _supervise(
            children,
            stop_signal,
            ready=lambda: (
                _answers(f"{_url(reach, api_port)}/api/v1/health", '"ok"')
                and _answers(f"{_url(reach, ui_port)}/_stcore/health", "ok")
            ),
            on_ready=lambda: _announce(
                as_json, ui_url, api_url, settings.home, created, n, children
            ),
            scrub=scrub.text,
        )
    finally:
        codes = _stop(children)
    if as_json:
        print_json({"status": "stopped", "exit_codes": codes})
    elif code == 0:
        err_console.print("mlTrainer stopped.")
    raise typer.Exit(code)


def _announce(
    as_json: bool,
    ui_url: str,
    api_url: str,
    home: Path,
    created: bool,
    n: int,
    children: list[_Child],
) -> None:
    if as_json:
        import json

        print(
            json.dumps(
                {
                    "status": "up",
                    "url": ui_url,
                    "api_url": f"{api_url}/api/v1",
                    "home": str(home),
                    "token_file": str(home / TOKEN_FILE),
                    "token_created": created,
                    "workers": n,
                    "pids": {c.name: c.proc.pid for c in children},
                    "logs": {c.name: str(c.log) for c in children},
                }
            ),
            flush=True,
        )
        return
    say = console.print
    say(f"[bold green]mlTrainer is up:[/] open [bold]{safe(ui_url)}[/]", soft_wrap=True)
    say(
        f"API {safe(api_url)}/api/v1 (docs at /docs) · {n} worker(s) · logs in "
        f"{safe(str(home / 'logs'))}",
        soft_wrap=True,
    )
    if created:
        say(f"created the UI's token in {safe(str(home / TOKEN_FILE))} (mode 0600)", soft_wrap=True)
    say("Ctrl-C stops everything.")


def _supervise(
    children: list[_Child],
    stop_signal: list[int],
    *,
    ready: Any,
    on_ready: Any,
    scrub: Any,
) -> int:
    """Wait until every part answers, then until a signal comes (0) or a child dies (1)."""
    deadline = time.monotonic() + READY_TIMEOUT_S
    is_up = False
    while not stop_signal:
        for c in children:
            rc = c.exited()
            if rc is not None:
                tail = scrub(_log_tail(c.log))
                err_console.print(
                    f"[bold red]error:[/] {c.label} (pid {c.proc.pid}) exited with code {rc}"
                    f"{'' if is_up else ' while starting'}; stopping the rest. "
                    f"Its log: {safe(str(c.log))}"
                )
                if tail:
                    err_console.print(safe(tail))
                return 1
        if not is_up:
            if ready():
                is_up = True
                on_ready()
            elif time.monotonic() > deadline:
                err_console.print(
                    f"[bold red]error:[/] not every part answered within {READY_TIMEOUT_S:.0f}s; "
                    f"stopping. Logs: {safe(str(children[0].log.parent))}"
                )
                return 1
            else:
                time.sleep(0.25)
                continue
        time.sleep(0.5)
    return 0
