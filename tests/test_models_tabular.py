"""Tabular model families (scikit-learn, LightGBM, XGBoost, CatBoost) on real SPX data."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest
from sklearn.pipeline import Pipeline

from mltrainer.data.bundled import BundledSource
from mltrainer.errors import ModelError
from mltrainer.models import boosting, sklearn_models
from mltrainer.models.base import ModelSpec
from mltrainer.models.registry import build_registry
from mltrainer.models.sklearn_models import DirectionClassifier, FeatureRegressor

ALL_SPECS: list[ModelSpec] = [*sklearn_models.SPECS, *boosting.SPECS]
HORIZON = 10


def _features_and_labels(**window: str) -> tuple[pd.DataFrame, pd.Series]:
    md = BundledSource().fetch("SPX", **window)
    close = md.frame["close"]
    ret1 = close.pct_change()
    feats = pd.DataFrame({f"ret_{n}": close.pct_change(n) for n in (1, 5, 10, 20)})
    feats["vol_5"] = ret1.rolling(5).std()
    feats["vol_20"] = ret1.rolling(20).std()
    feats["dist_ma_20"] = close / close.rolling(20).mean() - 1.0
    fwd = (close.shift(-HORIZON) / close - 1.0).rename("fwd")
    frame = pd.concat([feats, fwd], axis=1).dropna()
    return frame.drop(columns="fwd"), frame["fwd"]


@pytest.fixture(scope="module")
def data() -> dict[str, pd.DataFrame | pd.Series]:
    X, y = _features_and_labels(start="2012-01-01", end="2016-12-31")
    cut = int(len(X) * 0.7)
    return {
        "X_train": X.iloc[:cut],
        "X_test": X.iloc[cut:],
        "y_train": y.iloc[:cut],
        "y_test": y.iloc[cut:],
    }


def _label(spec: ModelSpec, y: pd.Series) -> pd.Series:
    return (y > 0).astype(int) if spec.task == "classification" else y


def _inner(est: object) -> object:
    """The library estimator inside an adapter (last step of a pipeline)."""
    inner = est.estimator  # type: ignore[attr-defined]
    return inner.steps[-1][1] if isinstance(inner, Pipeline) else inner


# --- catalogue ---------------------------------------------------------------------------------


def test_ids_unique_snake_case_and_enough() -> None:
    ids = [s.id for s in ALL_SPECS]
    assert len(ids) == len(set(ids))
    assert all(re.fullmatch(r"[a-z][a-z0-9]*(_[a-z0-9]+)*", i) for i in ids), ids
    assert len(ALL_SPECS) >= 95
    reg = build_registry(("sklearn_models", "boosting"))
    assert len(reg) == len(ALL_SPECS)


@pytest.mark.parametrize("spec", ALL_SPECS, ids=lambda s: s.id)
def test_spec_metadata(spec: ModelSpec) -> None:
    assert spec.task in ("regression", "classification")
    assert spec.inputs == "features" and spec.sequential is False
    assert spec.library in ("scikit-learn", "lightgbm", "xgboost", "catboost")
    if spec.library != "scikit-learn":
        assert spec.family == spec.library
    assert spec.description and "\n" not in spec.description
    assert set(spec.search_space) <= set(spec.defaults)
    est = spec.build()
    adapter = DirectionClassifier if spec.task == "classification" else FeatureRegressor
    assert isinstance(est, adapter)
    inner = _inner(est)
    if "random_state" in inner.get_params(deep=False):  # type: ignore[attr-defined]
        assert spec.defaults.get("random_state") == 0, "seed must be a default"
    # every search-space candidate is accepted by the factory
    for key, values in spec.search_space.items():
        for v in values:
            spec.build(**{key: v})


@pytest.mark.parametrize("spec", ALL_SPECS, ids=lambda s: s.id)
def test_unknown_parameter_raises(spec: ModelSpec) -> None:
    with pytest.raises(ModelError, match="bogus"):
        spec.build(bogus=1)


# --- training ----------------------------------------------------------------------------------


@pytest.mark.parametrize("spec", ALL_SPECS, ids=lambda s: s.id)
def test_fit_predict_deterministic(spec: ModelSpec, data: dict) -> None:
    X_train, X_test = data["X_train"], data["X_test"]
    y_train = _label(spec, data["y_train"])
    est = spec.build()
    assert est.fit(X_train, y_train) is est
    pred = est.predict(X_test)
    assert isinstance(pred, np.ndarray) and pred.dtype == float
    assert pred.ndim == 1 and len(pred) == len(X_test)
    assert np.isfinite(pred).all()
    if spec.task == "classification":
        assert ((pred >= 0.0) & (pred <= 1.0)).all()
    else:
        # return units: same order of magnitude as 10-day returns, not standardised units
        assert np.abs(pred).max() < 1.0
    if spec.family != "baseline":
        assert np.ptp(pred) > 0.0, "a trained model should not be constant"
    again = spec.build().fit(X_train, y_train).predict(X_test)
    np.testing.assert_array_equal(pred, again)


# --- adapters ----------------------------------------------------------------------------------


def test_regressor_predicts_in_return_units(data: dict) -> None:
    spec = next(s for s in sklearn_models.SPECS if s.id == "dummy_mean")
    est = spec.build().fit(data["X_train"], data["y_train"])
    np.testing.assert_allclose(est.predict(data["X_test"]), data["y_train"].mean())


def test_gaussian_process_uses_recent_rows_only(data: dict) -> None:
    spec = next(s for s in sklearn_models.SPECS if s.id == "gaussian_process_regressor")
    est = spec.build(max_train_rows=200).fit(data["X_train"], data["y_train"])
    gp = est.estimator_.steps[-1][1]
    assert gp.X_train_.shape[0] == 200
    scaler = est.estimator_.steps[0][1]
    np.testing.assert_allclose(scaler.mean_, data["X_train"].iloc[-200:].mean().to_numpy())


@pytest.mark.parametrize("model_id", ["kernel_ridge_rbf", "kernel_ridge_poly"])
def test_kernel_ridge_fits_the_last_2000_rows_as_plain_scikit_learn_does(model_id: str) -> None:
    from sklearn.kernel_ridge import KernelRidge
    from sklearn.preprocessing import StandardScaler

    X, y = _features_and_labels()  # SPX 1999-2018: more rows than the cap
    X_train, y_train, X_test = X.iloc[:3000], y.iloc[:3000], X.iloc[3000:3200]
    spec = build_registry().get(model_id)
    ours = spec.build().fit(X_train, y_train).predict(X_test)
    kr = {k: v for k, v in spec.params().items() if k not in ("max_train_rows", "n_threads")}
    recent = y_train.iloc[-2000:].to_numpy()
    mean, sd = recent.mean(), recent.std()
    oracle = StandardScaler().fit(X_train.iloc[-2000:].to_numpy())
    fitted = KernelRidge(**kr).fit(
        oracle.transform(X_train.iloc[-2000:].to_numpy()), (recent - mean) / sd
    )
    expected = fitted.predict(oracle.transform(X_test.to_numpy())) * sd + mean
    np.testing.assert_allclose(ours, expected, rtol=1e-9, atol=1e-12)
    # Trials stored before the cap fitted every row; their replays still do.
    assert spec.params(former=True)["max_train_rows"] is None


def test_decision_function_models_give_probabilities(data: dict) -> None:
    for model_id in ("ridge_classifier", "svc_rbf", "linear_svc"):
        spec = next(s for s in sklearn_models.SPECS if s.id == model_id)
        est = spec.build().fit(data["X_train"], (data["y_train"] > 0).astype(int))
        assert not hasattr(est.estimator_, "predict_proba")
        p = est.predict(data["X_test"])
        assert ((p > 0.0) & (p < 1.0)).all()
        score = est.estimator_.decision_function(data["X_test"].to_numpy())
        np.testing.assert_array_equal(p > 0.5, score > 0)


def test_single_class_window_gives_constant_probability(data: dict) -> None:
    up = data["y_train"] > 0
    spec = next(s for s in sklearn_models.SPECS if s.id == "logistic")
    est = spec.build().fit(data["X_train"][up], up[up].astype(int))
    np.testing.assert_array_equal(est.predict(data["X_test"]), 1.0)
