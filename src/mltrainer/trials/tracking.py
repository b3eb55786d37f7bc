"""Optional MLflow tracking: each finished trial logged as an MLflow run.

Active when ``MLTRAINER_MLFLOW_TRACKING_URI`` is set (the ``mlflow`` extra installs
``mlflow-skinny``). The experiment is named after the trial's goal, else its study (a
tuning study or search run), else ``mltrainer``. Logged: the spec (flattened as params and
whole as ``spec.json``), the finite metrics, the data and spec hashes as tags, and the
HTML report. MLflow is a copy for browsing: the database and the audit chain stay the
record, so a tracking failure is logged as a warning and never fails the trial.
"""

from __future__ import annotations

import json
import logging
import math
import tempfile
from pathlib import Path

from .spec import TrialResult

__all__ = ["experiment_name", "log_trial"]

log = logging.getLogger(__name__)


def experiment_name(goal_id: str | None, study: str | None) -> str:
    if goal_id:
        return f"goal {goal_id}"
    return study or "mltrainer"


def log_trial(
    uri: str, trial_id: str, result: TrialResult, *, goal_id: str | None, study: str | None
) -> str | None:
    """Log one trial; returns the MLflow run id, or None when tracking failed."""
    try:
        from mlflow.tracking import MlflowClient

        from .report import write_report

        client = MlflowClient(tracking_uri=uri)
        name = experiment_name(goal_id, study)
        exp = client.get_experiment_by_name(name)
        exp_id = exp.experiment_id if exp else client.create_experiment(name)
        spec = result.spec.canonical()
        run = client.create_run(
            exp_id,
            run_name=trial_id,
            tags={
                "mltrainer.trial_id": trial_id,
                "mltrainer.data_sha256": result.data_sha256,
                "mltrainer.spec_hash": result.spec_hash,
                "mltrainer.goal_id": goal_id or "",
                "mltrainer.study": study or "",
            },
        )
        rid = run.info.run_id
        flat = {k: json.dumps(v) if isinstance(v, dict | list) else v for k, v in spec.items()}
        for k, v in flat.items():
            client.log_param(rid, k, "" if v is None else str(v)[:6000])
        for k, v in result.metrics.items():
            if v is not None and math.isfinite(v):
                client.log_metric(rid, k, float(v))
        with tempfile.TemporaryDirectory() as tmp:
            (Path(tmp) / "spec.json").write_text(json.dumps(spec, indent=1, sort_keys=True))
            html, _ = write_report(result, trial_id, Path(tmp) / "report")
            client.log_artifact(rid, str(Path(tmp) / "spec.json"))
            client.log_artifact(rid, str(html))
        client.set_terminated(rid, "FINISHED")
        return rid
    except Exception as e:  # tracking is a copy; the trial is stored and sealed already
        log.warning("MLflow tracking of trial %s failed: %s: %s", trial_id, type(e).__name__, e)
        return None
