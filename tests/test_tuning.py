"""Optuna tuning (research/tuning.py) and the tune_model action."""

from __future__ import annotations

import pytest
from sqlalchemy import inspect, select
from sqlalchemy.orm import Session

from mltrainer.app import App
from mltrainer.db.tables import TrialRow
from mltrainer.executor.executor import UnifiedExecutor

optuna = pytest.importorskip("optuna", reason="optuna is not installed")

QUICK = {"symbol": "SPX", "start": "2012-01-01", "end": "2016-12-31", "max_folds": 2}


def _tune(ex: UnifiedExecutor, n: int = 3, **kw) -> dict:
    out = ex.execute(
        "tune_model", {"model_id": "ridge", "n_trials": n, "seed": 7, **QUICK, **kw}, actor="test"
    )
    assert out["success"], out["error"]
    return out["data"]


def _rows(app: App, study: str) -> list[TrialRow]:
    with Session(app.engine) as s:
        return list(s.scalars(select(TrialRow).where(TrialRow.study == study)))


def _check_study(app: App, data: dict, n: int) -> None:
    rows = {r.id: r for r in _rows(app, data["study"])}
    assert len(rows) == n == data["n_trials"]
    for t in data["trials"]:
        row = rows[t["trial_id"]]
        assert row.status == "done" and t["state"] == "COMPLETE"
        assert row.spec["params"]["alpha"] == t["params"]["alpha"]
        assert t["params"]["alpha"] in (0.1, 1.0, 10.0, 100.0, 1000.0)
        assert t["value"] == pytest.approx(row.result["metrics"]["sharpe"])
    # Each trial is deflated over the study's trials finished before it: 1, 2, 3 ...
    counts = sorted(r.result["n_trials"] for r in rows.values())
    assert counts == list(range(1, n + 1))
    st = optuna.load_study(study_name=data["study"], storage=_storage(app))
    assert [t.user_attrs["trial_id"] for t in st.trials] == [t["trial_id"] for t in data["trials"]]


def _storage(app: App):
    from mltrainer.research.tuning import optuna_storage

    return optuna_storage(app)


def test_tune_model_stores_every_optuna_trial_as_a_counted_trial(app) -> None:
    ex = UnifiedExecutor(app)
    data = _tune(ex, 3)
    _check_study(app, data, 3)
    assert data["best"]["value"] == max(t["value"] for t in data["trials"])
    # Optuna's tables are beside the app's, not among them (their names collide).
    names = set(inspect(app.engine).get_table_names())
    assert "studies" not in names and "trials" in names
    # The same seed proposes the same parameters in a fresh study.
    again = _tune(ex, 3, study="again")
    assert [t["params"] for t in again["trials"]] == [t["params"] for t in data["trials"]]
    # The same study name resumes the study: its count goes on.
    more = _tune(ex, 1, study="again")
    assert more["trials"][0]["number"] >= 3  # after the study's 3 (a repeated draw is skipped)
    alphas = [r.spec["params"]["alpha"] for r in _rows(app, "again")]
    assert len(set(alphas)) == len(alphas) == 4  # no point of the 5-point space run twice
    assert max(r.result["n_trials"] for r in _rows(app, "again")) == 4
    ex.shutdown()


def test_failed_trials_are_recorded_not_dropped(app) -> None:
    ex = UnifiedExecutor(app)
    # A training window longer than the data: every fold plan fails inside the trial.
    data = _tune(ex, 2, study="fails", start="2016-01-01", window_size=5000)
    assert data["n_failed"] == 2 and data["best"] is None
    rows = _rows(app, "fails")
    assert len(rows) == 2 and all(r.status == "failed" for r in rows)
    assert all("not enough data" in (t["error"] or "") for t in data["trials"])
    assert {t["trial_id"] for t in data["trials"]} == {r.id for r in rows}
    ex.shutdown()


def test_a_model_without_search_space_is_refused(app) -> None:
    ex = UnifiedExecutor(app)
    mid = next(s.id for s in ex.registry if not s.search_space and s.task == "regression")
    out = ex.execute("tune_model", {"model_id": mid, "n_trials": 1, **QUICK})
    assert not out["success"] and "no search space" in out["error"]
    ex.shutdown()


def test_a_study_name_longer_than_the_trials_column_is_refused(app) -> None:
    # trials.study is VARCHAR(80): PostgreSQL would reject the insert mid-study.
    ex = UnifiedExecutor(app)
    out = ex.execute("tune_model", {"model_id": "ridge", "study": "s" * 81, **QUICK})
    assert not out["success"] and "study" in out["error"] and "80" in out["error"]
    ex.shutdown()


def test_tuning_on_postgresql_shares_the_database(settings_factory, pg_url) -> None:
    with App(settings_factory(database_url=pg_url)) as app:
        ex = UnifiedExecutor(app)
        data = _tune(ex, 3)
        _check_study(app, data, 3)
        insp = inspect(app.engine)
        assert "studies" in insp.get_table_names(schema="optuna")
        assert "studies" not in insp.get_table_names()
        ex.shutdown()


_KILLED_MID_TRIAL = """
import os, signal, sys
from mltrainer.app import App
from mltrainer.executor.executor import UnifiedExecutor
from mltrainer.settings import Settings

ex = UnifiedExecutor(App(Settings(home=sys.argv[1])))
# The first fold is done and stored as progress; the process dies as a killed worker does.
ex.on_fold = lambda done, total: os.kill(os.getpid(), signal.SIGKILL)
ex.execute("tune_model", {"model_id": "ridge", "n_trials": 1, "seed": 7, "study": "killed",
                          "symbol": "SPX", "start": "2012-01-01", "end": "2016-12-31",
                          "max_folds": 2}, actor="test")
"""


def test_a_tuning_trial_killed_mid_run_is_finished_under_its_own_id_by_the_retry(app) -> None:
    """The retry of a killed tune step resumes the Optuna trial and the mlTrainer trial its
    first attempt began: no orphan ``interrupted`` row, no RUNNING trial left in the study,
    the point run once."""
    import signal
    import subprocess
    import sys

    killed = subprocess.run(
        [sys.executable, "-c", _KILLED_MID_TRIAL, str(app.settings.home)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert killed.returncode == -signal.SIGKILL, killed.stderr
    (orphan,) = _rows(app, "killed")
    assert orphan.status == "running"  # its owner is dead: shown as interrupted
    ex = UnifiedExecutor(app)
    assert ex.store.get(orphan.id)["status"] == "interrupted"

    data = _tune(ex, 1, study="killed")
    assert [t["trial_id"] for t in data["trials"]] == [orphan.id]
    _check_study(app, data, 1)  # one row, done, COMPLETE in the study with its Sharpe
    st = optuna.load_study(study_name="killed", storage=_storage(app))
    assert [t.state.name for t in st.trials] == ["COMPLETE"]
    resumed = [r for r in app.audit.tail(1000) if r.kind == "trial.resume"]
    assert [r.payload["trial_id"] for r in resumed] == [orphan.id]
    # The next call goes on to a new point of the study.
    more = _tune(ex, 1, study="killed")
    assert more["trials"][0]["trial_id"] != orphan.id
    assert {r.status for r in _rows(app, "killed")} == {"done"}
    ex.shutdown()
