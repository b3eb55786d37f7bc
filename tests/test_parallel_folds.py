"""Fold-parallel fitting: identical results to the sequential run, progress in the parent,
thread settings that do not oversubscribe, the MLTRAINER_FOLD_JOBS setting, the ETA."""

from __future__ import annotations

import os

import numpy as np
import pytest
from rich.progress import TimeRemainingColumn

from mltrainer.cli._common import fold_progress
from mltrainer.errors import ConfigError
from mltrainer.executor import UnifiedExecutor
from mltrainer.models.registry import build_registry
from mltrainer.settings import load_settings
from mltrainer.trials import TrialSpec
from mltrainer.trials.engine import WalkForwardEngine, model_threads

REGISTRY = build_registry()


def _spec(model_id: str, **kw) -> TrialSpec:
    return TrialSpec(
        model_id=model_id,
        symbol="SPX",
        start="2012-01-01",
        end="2016-12-31",
        max_folds=6,
        seed=7,
        **kw,
    )


def _engine(app, jobs: int) -> WalkForwardEngine:
    # bars at 0: go parallel after the first fold, however quick the model is.
    return WalkForwardEngine(
        REGISTRY,
        app.data.fetch,
        fold_jobs=jobs,
        parallel_min_s=0.0,
        thread_parallel_min_s=0.0,
    )


@pytest.mark.parametrize(
    ("model_id", "on_threads"), [("ridge", 0), ("random_forest", 1), ("lightgbm", 1)]
)
def test_parallel_folds_give_identical_results(app, model_id, on_threads):
    """Worker processes (ridge) and fold threads (models that release the GIL) give the
    sequential run's predictions, bit for bit."""
    spec = _spec(model_id, params={"n_estimators": 20} if model_id == "random_forest" else {})
    seq = _engine(app, 1).run(spec)
    par = _engine(app, 2).run(spec)
    assert seq.timings["fold_jobs"] == 1 and seq.timings["fold_threads"] == 0
    assert par.timings["fold_jobs"] == 2 and par.timings["fold_threads"] == on_threads
    assert len(par.folds) == 6
    a = np.array([p[1] for p in seq.predictions])
    b = np.array([p[1] for p in par.predictions])
    assert a.tobytes() == b.tobytes()  # bit for bit
    assert seq.predictions == par.predictions
    assert seq.metrics == par.metrics
    assert [f.model_dump(exclude={"fit_seconds"}) for f in seq.folds] == [
        f.model_dump(exclude={"fit_seconds"}) for f in par.folds
    ]


def test_fold_phase_wall_time_sits_between_the_folds_own_times_and_the_trial(app):
    """``folds_s`` is the wall time of the fold loop (what cross_val_predict is
    compared with): sequential, it holds every fold's fit and predict; in parallel, the
    folds' own times overlap; either way it is part of the trial after its inputs."""
    spec = _spec("random_forest", params={"n_estimators": 20})
    for jobs in (1, 2):
        t = _engine(app, jobs).run(spec).timings
        own = t["fit_s"] + t["predict_s"]
        assert 0 < t["folds_s"] < t["total_s"] - t["data_s"]
        assert t["fold_jobs"] == jobs
        if jobs == 1:
            assert t["folds_s"] >= own


def test_a_model_known_to_be_slow_starts_its_next_trial_in_parallel_at_once(app):
    """The first trial fits one fold in the caller to project the rest; the engine keeps
    that figure, so the next trial of the same model and parameters skips the probe."""
    engine = _engine(app, 2)
    first, second = engine.run(_spec("ridge")), engine.run(_spec("ridge"))
    assert first.timings["folds_in_caller"] == 1 and second.timings["folds_in_caller"] == 0
    assert second.timings["fold_jobs"] == 2
    assert second.predictions == first.predictions
    other = engine.run(_spec("ridge", params={"alpha": 3.0}))  # other parameters: a probe
    assert other.timings["folds_in_caller"] == 1


def test_a_model_that_releases_the_gil_goes_parallel_on_threads_below_the_cold_bar(app):
    """No workers to start: a short LightGBM trial in a fresh engine fits its folds on two
    threads although it projects far below the 3 s that starting processes needs."""
    fresh = WalkForwardEngine(REGISTRY, app.data.fetch, fold_jobs=2)
    assert fresh.parallel_min_s == 3.0 and REGISTRY.get("lightgbm").fold_threads
    res = fresh.run(_spec("lightgbm"))
    assert res.timings["fold_jobs"] == 2 and res.timings["fold_threads"] == 1
    assert res.timings["folds_in_caller"] == 1  # one probe fold, the rest on threads
    seq = WalkForwardEngine(REGISTRY, app.data.fetch, fold_jobs=1).run(_spec("lightgbm"))
    assert res.predictions == seq.predictions


def test_a_stop_from_on_fold_ends_a_threaded_trial_within_a_fold(app, monkeypatch):
    """Folds on threads cannot be killed: a stop drops the folds not started and waits
    for at most the running ones (one per thread), then re-raises."""
    import mltrainer.trials.engine as engine_module

    class Stop(Exception):
        pass

    fitted: list[int] = []
    real_fit_fold = engine_module.fit_fold

    def counting_fit_fold(*args):
        fitted.append(args[3])
        return real_fit_fold(*args)

    monkeypatch.setattr(engine_module, "fit_fold", counting_fit_fold)
    started: list[int] = []

    def on_fold(done: int, total: int) -> None:
        started.append(done)
        if done == 2:
            raise Stop("paused")

    spec = TrialSpec(model_id="lightgbm", symbol="SPX", horizon=10, max_folds=40)
    engine = _engine(app, 2)
    with pytest.raises(Stop):
        engine.run(spec, on_fold=on_fold)
    assert started == [1, 2]
    # the probe, the fold that completed, and at most one running per thread: not 40
    assert len(fitted) <= 4


def test_on_fold_runs_in_the_caller_as_folds_complete(app):
    calls: list[tuple[int, int, int]] = []
    _engine(app, 2).run(_spec("ridge"), on_fold=lambda d, n: calls.append((d, n, os.getpid())))
    assert [(d, n) for d, n, _ in calls] == [(k, 6) for k in range(1, 7)]
    assert {pid for *_, pid in calls} == {os.getpid()}


def test_an_error_in_on_fold_stops_a_parallel_trial(app):
    class Stop(Exception):
        pass

    def on_fold(done: int, total: int) -> None:
        if done == 3:
            raise Stop("cancelled")

    with pytest.raises(Stop):
        _engine(app, 2).run(_spec("ridge"), on_fold=on_fold)


def test_the_stop_warning_filter_matches_both_of_joblibs_messages():
    """``filterwarnings`` matches from the message's start; joblib prefixes the count of
    finished but unused tasks when there are some (seen in CI as a stray warning)."""
    import re

    from mltrainer.trials.engine import JOBLIB_STOP_WARNING

    for msg in (
        "2 tasks which were still being processed by the workers have been cancelled.",
        "1 tasks have been successfully executed  but not used. Additionally, 2 tasks which "
        "were still being processed by the workers have been cancelled. You could benefit "
        "from adjusting the input task iterator to limit unnecessary computation time.",
    ):
        assert re.compile(JOBLIB_STOP_WARNING, re.I).match(msg), msg


def test_model_threads_rule():
    assert model_threads({"n_jobs": 1, "n_threads": 1}, 2) == 1
    assert model_threads({"n_jobs": -1}, 2) == 2
    assert model_threads({"n_jobs": None}, 4) == 1  # scikit-learn: None means 1
    assert model_threads({"n_threads": None}, 4) == 4  # no cap: every core
    assert model_threads({"num_threads": 0}, 4) == 4  # lightgbm: 0 = OpenMP default
    assert model_threads({"thread_count": 8}, 2) == 2
    assert model_threads({"alpha": 3}, 2) == 1


def test_registry_defaults_use_one_thread_per_fold():
    """Every model's own threading defaults to one thread, so folds can use the cores."""
    for s in REGISTRY:
        assert model_threads(s.defaults, 64) == 1, s.id


def test_a_threaded_model_runs_its_folds_sequentially(app):
    """A model that uses every core itself is not also run in parallel folds."""
    res = _engine(app, 2).run(_spec("random_forest", params={"n_estimators": 10, "n_jobs": -1}))
    assert res.timings["fold_jobs"] == 1


def test_fold_jobs_setting(app, monkeypatch, settings_factory):
    assert load_settings().fold_jobs is None  # one per core
    assert UnifiedExecutor(app).engine.fold_jobs is None
    monkeypatch.setenv("MLTRAINER_FOLD_JOBS", "1")
    assert load_settings().fold_jobs == 1
    from mltrainer.app import App

    with App(settings_factory(fold_jobs=1)) as one:
        assert UnifiedExecutor(one).engine.fold_jobs == 1
    monkeypatch.setenv("MLTRAINER_FOLD_JOBS", "0")
    with pytest.raises(ConfigError, match="MLTRAINER_FOLD_JOBS"):
        load_settings()


def test_progress_bar_shows_time_remaining():
    assert any(isinstance(c, TimeRemainingColumn) for c in fold_progress().columns)


def test_a_trial_goes_parallel_on_warm_workers_below_the_cold_bar(app):
    """Starting loky workers costs about 1.7 s, so a trial goes parallel only when its folds
    project more than ``parallel_min_s``; once this engine's workers are alive a start
    costs dispatch only, and the lower ``warm_parallel_min_s`` applies. Another engine
    (or another thread cap) does not count the workers as its own."""
    engine = _engine(app, 2)
    engine.run(_spec("ridge"))  # parallel_min_s=0: goes parallel, the workers stay alive
    engine.parallel_min_s, engine.warm_parallel_min_s = 1e9, 0.0
    warm = engine.run(_spec("ridge", params={"alpha": 2.0}))
    assert warm.timings["fold_jobs"] == 2
    cold = WalkForwardEngine(
        REGISTRY, app.data.fetch, fold_jobs=2, parallel_min_s=1e9, warm_parallel_min_s=0.0
    ).run(_spec("ridge", params={"alpha": 2.0}))
    assert cold.timings["fold_jobs"] == 1
    assert cold.predictions == warm.predictions


@pytest.mark.deep
def test_a_float32_network_gives_the_same_predictions_in_fold_processes(app):
    """The deep models train in float32: a fold fitted in a loky worker must give the bits
    the same fold gives in the caller, or a replay could differ from the trial."""
    pytest.importorskip("torch")
    spec = _spec("gru_regressor", params={"epochs": 2})
    seq = _engine(app, 1).run(spec)
    par = _engine(app, 2).run(spec)
    assert (seq.timings["fold_jobs"], par.timings["fold_jobs"]) == (1, 2)
    assert seq.predictions == par.predictions
    assert seq.metrics == par.metrics
