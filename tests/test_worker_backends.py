"""``mltrainer worker`` picks its backend from MLTRAINER_EXECUTOR, and a worker pool splits
the cores between its workers' fold pools instead of oversubscribing them."""

from __future__ import annotations

import json
import signal
from pathlib import Path

import pytest
from typer.testing import CliRunner

from mltrainer.app import App
from mltrainer.cli import app as cli
from mltrainer.executor import UnifiedExecutor
from mltrainer.runs import RunStore
from mltrainer.runs.ray_backend import ray_available
from mltrainer.runs.worker import WorkerPool, pool_settings
from mltrainer.settings import load_settings
from mltrainer.trials.engine import cpu_cores


# -- fold jobs of pool children ---------------------------------------------------------------
@pytest.mark.parametrize(
    ("cores", "concurrency", "fold_jobs"),
    [(2, 1, 2), (2, 2, 1), (2, 3, 1), (8, 3, 2), (16, 4, 4), (1, 1, 1)],
)
def test_pool_children_split_the_cores(settings, cores, concurrency, fold_jobs):
    assert settings.fold_jobs is None
    assert pool_settings(settings, concurrency, cores=cores).fold_jobs == fold_jobs
    assert settings.fold_jobs is None  # the caller's settings are not changed


def test_an_explicit_fold_jobs_setting_wins(settings_factory, monkeypatch, tmp_path: Path):
    assert pool_settings(settings_factory(fold_jobs=3), 2, cores=2).fold_jobs == 3
    monkeypatch.setenv("MLTRAINER_HOME", str(tmp_path / "env"))
    monkeypatch.setenv("MLTRAINER_FOLD_JOBS", "2")
    assert pool_settings(load_settings(), 4, cores=16).fold_jobs == 2


def test_worker_pool_hands_its_children_the_split(settings):
    pool = WorkerPool(settings, 2)
    assert pool.settings.fold_jobs == max(1, cpu_cores() // 2)
    assert pool.settings.home == settings.home


# -- MLTRAINER_EXECUTOR=ray -------------------------------------------------------------------
STEPS = [
    {
        "action": "train_model",
        "params": {
            "model_id": "ridge",
            "symbol": "SPX",
            "horizon": h,
            "start": "2012-01-01",
            "end": "2016-12-31",
            "max_folds": 2,
        },
    }
    for h in (5, 10)
]


@pytest.fixture
def restore_signals():
    """The worker command installs SIGTERM/SIGINT handlers; give pytest its own back."""
    saved = {s: signal.getsignal(s) for s in (signal.SIGTERM, signal.SIGINT)}
    yield
    for s, handler in saved.items():
        signal.signal(s, handler)


@pytest.mark.skipif(
    not ray_available(), reason="ray is not installed (pip install 'mltrainer[ray]')"
)
@pytest.mark.slow  # starts a local Ray (5-20 s)
def test_worker_command_runs_steps_as_ray_tasks(settings, monkeypatch, restore_signals):
    import ray

    with App(settings) as app:
        store = RunStore.for_executor(UnifiedExecutor(app))
        run_id = store.create_run("batch", STEPS, owner="test")
    monkeypatch.setenv("MLTRAINER_HOME", str(settings.home))
    monkeypatch.setenv("MLTRAINER_EXECUTOR", "ray")
    monkeypatch.setenv("MLTRAINER_RAY_ADDRESS", "local")  # a new local Ray, in this process
    try:
        res = CliRunner().invoke(
            cli, ["worker", "--once", "--max-seconds", "300", "--json"], catch_exceptions=False
        )
    finally:
        ray.shutdown()
    assert res.exit_code == 0, res.output
    assert json.loads(res.stdout) == {"executor": "ray", "steps": {"succeeded": 2}}
    with App(settings) as app:
        run = RunStore(app.engine, app.audit).get(run_id)
        assert run["status"] == "finished" and run["finish_reason"] == "exhausted", run
        assert all(s["worker_id"].startswith("ray-") for s in run["steps"])
        assert all(s["outcome"]["metrics"]["n_bars"] > 0 for s in run["steps"])
        assert app.audit.verify().ok
