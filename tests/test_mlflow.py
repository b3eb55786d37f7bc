"""MLflow tracking of finished trials (trials/tracking.py), against a local file store."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from mltrainer.app import App
from mltrainer.executor.executor import UnifiedExecutor

mlflow = pytest.importorskip(
    "mlflow", reason="mlflow is not installed (pip install 'mltrainer[mlflow]')"
)


def test_finished_trials_are_logged_to_mlflow(
    settings_factory, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # MLflow 3 keeps the file store in maintenance mode behind this opt-in.
    monkeypatch.setenv("MLFLOW_ALLOW_FILE_STORE", "true")
    store = tmp_path / "mlruns"
    uri = store.as_uri()  # file:///.../mlruns
    with App(settings_factory(mlflow_tracking_uri=uri)) as app:
        ex = UnifiedExecutor(app)
        spec_params = {"model_id": "ridge", "symbol": "SPX", "start": "2014-01-01", "max_folds": 2}
        out = ex.execute("train_model", spec_params, actor="test")
        assert out["success"], out["error"]
        tid = out["data"]["trial_id"]
        stored = ex.store.get(tid)
        ex.shutdown()

    from mlflow.tracking import MlflowClient

    client = MlflowClient(tracking_uri=uri)
    exp = client.get_experiment_by_name("mltrainer")  # no goal, no study
    assert exp is not None
    (run,) = client.search_runs([exp.experiment_id])
    assert run.data.tags["mltrainer.trial_id"] == tid
    assert run.data.tags["mltrainer.data_sha256"] == stored["data_hash"]
    assert run.data.tags["mltrainer.spec_hash"] == stored["spec_hash"]
    assert run.data.params["model_id"] == "ridge" and run.data.params["symbol"] == "SPX"
    metrics = stored["result"]["metrics"]
    assert run.data.metrics["sharpe"] == pytest.approx(metrics["sharpe"])
    assert set(run.data.metrics) == {k for k, v in metrics.items() if v is not None}
    arts = {a.path for a in client.list_artifacts(run.info.run_id)}
    assert arts == {"spec.json", f"{tid}.html"}
    spec_file = client.download_artifacts(run.info.run_id, "spec.json", str(tmp_path / "dl"))
    assert json.loads(Path(spec_file).read_text()) == stored["spec"]
    assert run.info.status == "FINISHED"


def test_no_tracking_without_the_setting(app, tmp_path: Path) -> None:
    ex = UnifiedExecutor(app)
    assert ex.runner.tracking_uri is None
    ex.shutdown()
