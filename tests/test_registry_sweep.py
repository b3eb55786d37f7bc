"""Every registry model runs one short walk-forward trial on bundled data with finite metrics."""

from __future__ import annotations

import math

import pytest

from mltrainer.models.registry import build_registry
from mltrainer.trials import TrialSpec, WalkForwardEngine

REGISTRY = build_registry()
CORE = ("sharpe", "cagr", "volatility", "max_drawdown", "exposure", "turnover")


def test_registry_holds_at_least_140_models_runnable_without_the_deep_extra():
    assert len([s for s in REGISTRY if s.extra is None]) >= 140


def test_registry_ids_are_unique_snake_case_with_descriptions():
    ids = REGISTRY.ids()
    assert len(ids) == len(set(ids))
    for s in REGISTRY:
        assert s.id == s.id.lower() and " " not in s.id
        assert s.description and s.library


def test_no_clustering_model_is_scored_as_a_return_predictor():
    assert not [s.id for s in REGISTRY if "cluster" in s.id or "kmeans" in s.id]


@pytest.fixture(scope="module")
def sweep_engine(tmp_path_factory):
    from mltrainer.app import App
    from mltrainer.settings import Settings

    app = App(
        Settings(home=tmp_path_factory.mktemp("sweep"), polygon_api_key=None, fred_api_key=None)
    )
    return WalkForwardEngine(REGISTRY, app.data.fetch)


@pytest.mark.slow
@pytest.mark.parametrize("model_id", REGISTRY.ids())
def test_model_runs_a_short_walk_forward_trial_with_finite_metrics(sweep_engine, model_id):
    spec_ = REGISTRY.get(model_id)
    if not spec_.available:
        pytest.skip(f"{model_id} unavailable: {spec_.install_hint}")
    spec = TrialSpec(
        model_id=model_id,
        symbol="SPX",
        start="2014-01-01",
        end="2016-12-31",
        window_size=252,
        refit_every=63,
        max_folds=3,
    )
    res = sweep_engine.run(spec)
    assert len(res.folds) == 3
    for k in CORE:
        assert res.metrics[k] is not None and math.isfinite(res.metrics[k]), (k, res.metrics[k])
    assert res.metrics["n_bars"] > 150
