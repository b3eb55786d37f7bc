"""The Ray backend runs a batch run's steps as Ray tasks with the local backend's results."""

from __future__ import annotations

import pytest

from mltrainer.app import App
from mltrainer.executor import UnifiedExecutor
from mltrainer.runs import RunStore
from mltrainer.runs.ray_backend import ray_available, run_ray_workers, task_settings
from mltrainer.runs.worker import run_worker

pytestmark = [
    pytest.mark.skipif(
        not ray_available(), reason="ray is not installed (pip install 'mltrainer[ray]')"
    ),
    pytest.mark.slow,  # starting Ray and its worker processes takes 20-60 s
]

# Three horizons: three questions, so each trial's DSR count (N = 1) does not depend on
# the order in which parallel tasks finish.
STEPS = [
    {
        "action": "train_model",
        "params": {
            "model_id": "ridge",
            "symbol": "SPX",
            "horizon": h,
            "start": "2010-01-01",
            "end": "2016-12-31",
            "max_folds": 2,
        },
    }
    for h in (5, 10, 20)
]


def _submit(app: App) -> tuple[RunStore, str]:
    store = RunStore.for_executor(UnifiedExecutor(app))
    return store, store.create_run("batch", STEPS, owner="test")


def _metrics(store: RunStore, run_id: str) -> list[dict]:
    run = store.get(run_id)
    assert run["status"] == "finished", run
    assert [s["status"] for s in run["steps"]] == ["succeeded"] * 3
    return [s["outcome"]["metrics"] for s in run["steps"]]


@pytest.fixture(scope="module")
def ray_local():
    import ray

    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield ray
    ray.shutdown()


def test_ray_batch_run_matches_local_backend(ray_local, settings_factory, tmp_path):
    local_settings = settings_factory(home=tmp_path / "local")
    with App(local_settings) as app:
        store, run_id = _submit(app)
        run_worker(local_settings, once=True, app=app)
        local = _metrics(store, run_id)

    ray_settings = settings_factory(home=tmp_path / "ray", executor="ray")
    with App(ray_settings) as app:
        store, run_id = _submit(app)
        counts = run_ray_workers(ray_settings, once=True)
        assert counts == {"succeeded": 3}
        steps = store.get(run_id)["steps"]
        assert all(s["worker_id"].startswith("ray-") for s in steps)
        assert _metrics(store, run_id) == local
        assert app.audit.verify().ok


def test_task_settings_carry_no_secret(settings_factory, tmp_path):
    s = settings_factory(home=tmp_path / "h", polygon_api_key="pk-not-for-ray", fold_jobs=2)
    fields = task_settings(s)
    assert "polygon_api_key" not in fields and "pk-not-for-ray" not in repr(fields)
    assert fields["home"] == s.home and fields["fold_jobs"] == 1
