"""Two Ray nodes started with the README's commands share one PostgreSQL database.

A second machine is not available here, so the two nodes run on this one: ``ray start
--head`` and ``ray start --address=...`` as README's "Ray: running steps across machines"
shows, each a separate raylet with its own CPU, object store and worker processes. The
driver sends the steps of a batch to both nodes; the results equal the local backend's,
every step ran once, and the audit chain verifies.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from mltrainer.app import App
from mltrainer.executor import UnifiedExecutor
from mltrainer.runs import RunStore
from mltrainer.runs.ray_backend import ray_available, run_ray_workers
from mltrainer.runs.worker import run_worker

pytestmark = [
    pytest.mark.skipif(
        not ray_available(), reason="ray is not installed (pip install 'mltrainer[ray]')"
    ),
    pytest.mark.slow,  # two Ray nodes and their worker processes: 30-90 s
]

# Four horizons: four questions, so no trial's DSR count depends on which node ends first.
STEPS = [
    {
        "action": "train_model",
        "params": {
            "model_id": "ridge",
            "symbol": "SPX",
            "horizon": h,
            "start": "2010-01-01",
            "end": "2016-12-31",
            "max_folds": 3,
        },
    }
    for h in (5, 10, 15, 20)
]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _ray_cli() -> str:
    exe = Path(sys.executable).with_name("ray")
    return str(exe) if exe.exists() else (shutil.which("ray") or "ray")


def _wait_for_port(port: int, timeout: float) -> None:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.5)
    raise AssertionError(f"the Ray head did not open port {port} within {timeout:.0f} s")


@pytest.fixture
def two_nodes(tmp_path: Path, pg_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """A head node and a second node, one CPU each; yields the cluster address. ``--block``
    keeps each node in the foreground, so stopping the process stops its node only.

    Ray's token authentication is on for the nodes and the driver, with the token file
    ``ray get-auth-token --generate`` keeps in ``~/.ray`` (on two machines: the same file
    on both, as the README says). Left unset, a head that finds that file turns tokens on
    and a node joining it does not, and the join fails."""
    got = subprocess.run(
        [_ray_cli(), "get-auth-token", "--generate"], capture_output=True, text=True, timeout=60
    )
    assert got.returncode == 0, got.stderr
    monkeypatch.setenv("RAY_AUTH_MODE", "token")  # for this process: the driver
    port = _free_port()
    env = {
        **os.environ,
        "MLTRAINER_DATABASE_URL": pg_url,
        "RAY_USAGE_STATS_ENABLED": "0",
        "RAY_AUTH_MODE": "token",
    }
    common = ["--num-cpus=1", "--disable-usage-stats", "--block"]
    # A temp dir of its own (short: Ray's socket paths must stay under 108 bytes), so this
    # cluster's address file is not the one a later ray.init() finds and tries to join.
    temp = tempfile.mkdtemp(prefix="mlt-ray-")
    head = [_ray_cli(), "start", "--head", f"--port={port}", f"--temp-dir={temp}"]
    log = (tmp_path / "ray.log").open("w")

    def start(args: list[str]) -> subprocess.Popen:
        return subprocess.Popen(args, env=env, stdout=log, stderr=subprocess.STDOUT)

    nodes = [start([*head, "--include-dashboard=false", *common])]
    try:
        _wait_for_port(port, 120)
        join = [_ray_cli(), "start", f"--address=127.0.0.1:{port}", *common]
        nodes.append(start(join))
        yield f"127.0.0.1:{port}"
    finally:
        import ray

        ray.shutdown()
        for p in reversed(nodes):
            p.terminate()
        for p in nodes:
            try:
                p.wait(60)
            except subprocess.TimeoutExpired:
                p.kill()
        log.close()
        shutil.rmtree(temp, ignore_errors=True)


def _submit(app: App) -> tuple[RunStore, str]:
    store = RunStore.for_executor(UnifiedExecutor(app))
    return store, store.create_run("batch", STEPS, owner="test")


def _metrics(store: RunStore, run_id: str) -> list[dict]:
    run = store.get(run_id)
    assert run["status"] == "finished", run
    assert [s["status"] for s in run["steps"]] == ["succeeded"] * len(STEPS)
    assert [s["attempts"] for s in run["steps"]] == [1] * len(STEPS)
    return [s["outcome"]["metrics"] for s in run["steps"]]


def test_a_batch_runs_on_two_ray_nodes_with_the_local_backends_results(
    two_nodes: str, settings_factory, pg_url: str, tmp_path: Path
):
    import ray

    local_settings = settings_factory(home=tmp_path / "local")
    with App(local_settings) as app:
        store, run_id = _submit(app)
        run_worker(local_settings, once=True, app=app)
        local = _metrics(store, run_id)

    ray.init(address=two_nodes, include_dashboard=False, log_to_driver=False)
    end = time.monotonic() + 120
    while len([n for n in ray.nodes() if n["Alive"]]) < 2:
        assert time.monotonic() < end, "the second Ray node did not join within 120 s"
        time.sleep(0.5)
    assert ray.cluster_resources().get("CPU") == 2

    settings = settings_factory(
        home=tmp_path / "cluster", executor="ray", database_url=pg_url, ray_address=two_nodes
    )
    with App(settings) as app:
        store, run_id = _submit(app)
        events: list[str] = []
        counts = run_ray_workers(settings, once=True, max_seconds=600, on_event=events.append)
        assert counts == {"succeeded": len(STEPS)}
        assert _metrics(store, run_id) == local
        nodes = {e.rsplit("on Ray node ", 1)[1] for e in events if "on Ray node " in e}
        alive = {n["NodeID"][:12] for n in ray.nodes() if n["Alive"]}
        assert len(nodes) == 2 and nodes == alive, events  # both nodes ran steps
        records = app.audit.tail(10_000)
        assert sum(r.kind == "step.done" for r in records) == len(STEPS)
        assert app.audit.verify().ok
