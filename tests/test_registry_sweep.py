"""Every registry model runs one short walk-forward trial on bundled data with finite metrics
and predictions that vary, unlike a constant baseline."""

from __future__ import annotations

import math

import numpy as np
import pytest

from mltrainer.models.registry import build_registry
from mltrainer.trials import TrialSpec, WalkForwardEngine

REGISTRY = build_registry()
CORE = ("sharpe", "cagr", "volatility", "max_drawdown", "exposure", "turnover")
# Models whose predictions may legitimately be one constant within a fold, and why.
MAY_BE_CONSTANT = {
    "dummy_mean": "the constant baseline itself: the training mean",
    "dummy_prior": "the constant baseline itself: the training class prior",
    "autoreg_aic": "the information criterion may choose zero lags on returns: the mean",
    "autoreg_bic": "the information criterion may choose zero lags on returns: the mean",
    "lasso_cv": "the cross-validated L1 penalty may zero every coefficient in a fold",
}


def _constant(values: np.ndarray) -> bool:
    """Equal up to rounding noise (relative to the values' size)."""
    return bool(np.ptp(values) <= 1e-9 * max(float(np.abs(values).max()), 1e-12))


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
    preds = np.array([p[1] for p in res.predictions])
    folds = np.split(preds, np.cumsum([f.n_test for f in res.folds])[:-1])
    assert not _constant(preds), f"{model_id} predicts one constant"
    if model_id in MAY_BE_CONSTANT:
        return
    # A constant per refit is what a baseline predicting the training mean does. Rule
    # strategies may hold one position through a fold, but not through all of them.
    constant = [_constant(f) for f in folds]
    if spec_.task == "strategy":
        assert not all(constant), f"{model_id} holds one position in every fold"
    else:
        assert not any(constant), f"{model_id} is constant within a fold, like a baseline"
