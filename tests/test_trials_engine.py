"""The walk-forward engine: leakage-free folds, metrics, determinism, storage."""

from __future__ import annotations

import math

import numpy as np
import pytest
from sklearn.linear_model import Ridge

from mltrainer.errors import ModelError, NotFound, TrialError
from mltrainer.models.base import ModelSpec
from mltrainer.models.registry import Registry
from mltrainer.trials import TrialSpec, WalkForwardEngine, plan_folds
from mltrainer.trials import metrics as M


class _Recorder:
    """A ridge regression that records which rows it was trained and asked about."""

    log: list[tuple[str, object]] = []

    def __init__(self, alpha: float = 1.0):
        self.alpha = alpha

    def fit(self, X, y):
        _Recorder.log.append(("fit", X.index.copy()))
        self.model_ = Ridge(alpha=self.alpha).fit(X, y)
        return self

    def predict(self, X):
        _Recorder.log.append(("predict", X.index.copy()))
        return self.model_.predict(X)


def _engine(app, *specs: ModelSpec) -> WalkForwardEngine:
    return WalkForwardEngine(Registry(specs), app.data.fetch)


RIDGE = ModelSpec(
    id="ridge_t",
    family="linear",
    task="regression",
    library="scikit-learn",
    factory=lambda alpha: Ridge(alpha=alpha),
    description="ridge",
    defaults={"alpha": 1.0},
)
RECORDER = ModelSpec(
    id="recorder",
    family="test",
    task="regression",
    library="scikit-learn",
    factory=_Recorder,
    description="records rows",
    defaults={"alpha": 1.0},
)


@pytest.mark.parametrize(
    "horizon,embargo,window", [(10, 0, "expanding"), (5, 3, "rolling"), (21, 0, "rolling")]
)
def test_no_training_label_window_overlaps_its_test_fold(app, horizon, embargo, window):
    _Recorder.log.clear()
    spec = TrialSpec(
        model_id="recorder",
        symbol="SPX",
        start="2010-01-01",
        end="2013-12-31",
        horizon=horizon,
        embargo=embargo,
        window=window,
        window_size=252,
        refit_every=42,
    )
    _engine(app, RECORDER).run(spec)
    full = app.data.fetch("SPX", start="2010-01-01", end="2013-12-31").frame.index
    fits = [ix for kind, ix in _Recorder.log if kind == "fit"]
    preds = [ix for kind, ix in _Recorder.log if kind == "predict"]
    assert len(fits) == len(preds) > 5
    for train_ix, test_ix in zip(fits, preds, strict=True):
        last_label_end = full.get_loc(train_ix[-1]) + horizon  # the label of the last row ends here
        first_test = full.get_loc(test_ix[0])
        assert last_label_end < first_test - embargo + 1, (
            "a training label reaches into the test fold"
        )
        assert train_ix.max() < test_ix.min()
        if window == "rolling":
            assert len(train_ix) <= 252


def test_folds_cover_test_rows_once_in_time_order():
    spec = TrialSpec(model_id="x", symbol="SPX", window_size=100, refit_every=30, horizon=10)
    folds = plan_folds(400, spec)
    starts = [f.s for f in folds]
    assert starts == sorted(starts)
    assert folds[0].s == 110 and folds[-1].e == 400
    assert all(a.e == b.s for a, b in zip(folds, folds[1:], strict=False))
    assert all(f.hi == f.s - 10 for f in folds)


def test_too_little_data_is_a_clear_error(app):
    spec = TrialSpec(
        model_id="ridge_t", symbol="SPX", start="2018-01-01", end="2018-06-30", window_size=504
    )
    with pytest.raises(TrialError, match="not enough data"):
        _engine(app, RIDGE).run(spec)


def test_same_spec_twice_gives_identical_metrics(app):
    spec = TrialSpec(
        model_id="ridge_t", symbol="AAPL", start="2008-01-01", end="2014-12-31", horizon=5
    )
    eng = _engine(app, RIDGE)
    a, b = eng.run(spec), eng.run(spec)
    assert a.metrics == b.metrics
    assert a.predictions == b.predictions
    assert a.data_sha256 == b.data_sha256 and a.spec_hash == b.spec_hash


def test_result_metrics_recompute_from_its_own_equity_curve(app):
    res = _engine(app, RIDGE).run(
        TrialSpec(model_id="ridge_t", symbol="SPX", start="2006-01-01", end="2012-12-31")
    )
    eq = np.array([e[1] for e in res.equity])
    r = np.diff(np.concatenate([[1.0], eq])) / np.concatenate([[1.0], eq[:-1]])
    assert math.isclose(res.metrics["sharpe"], M.sharpe_ratio(r, 252), rel_tol=1e-9)
    assert math.isclose(res.metrics["max_drawdown"], M.max_drawdown(r), rel_tol=1e-9)
    bh = np.array([e[2] for e in res.equity])
    assert math.isclose(res.benchmark["total_return"], bh[-1] - 1, rel_tol=1e-9)


def test_costs_reduce_returns_by_turnover_times_bps(app):
    base = TrialSpec(
        model_id="ridge_t",
        symbol="SPX",
        start="2006-01-01",
        end="2010-12-31",
        commission_bps=0,
        slippage_bps=0,
    )
    eng = _engine(app, RIDGE)
    free = eng.run(base)
    costly = eng.run(base.model_copy(update={"commission_bps": 5.0, "slippage_bps": 5.0}))
    pos = np.array([p[2] for p in free.predictions])
    eq_free = np.array([e[1] for e in free.equity])
    # The last execution_delay + 1 positions have no complete holding period.
    assert len(eq_free) == len(pos) - base.execution_delay - 1
    turnover = np.abs(np.diff(np.concatenate([[0.0], pos])))[: len(eq_free)]
    eq_cost = np.array([e[1] for e in costly.equity])
    r_free = eq_free / np.concatenate([[1.0], eq_free[:-1]]) - 1
    r_cost = eq_cost / np.concatenate([[1.0], eq_cost[:-1]]) - 1
    np.testing.assert_allclose(r_free - r_cost, turnover * 10 / 1e4, atol=1e-12)


def test_unknown_model_parameter_is_rejected_before_running(app):
    spec = TrialSpec(model_id="ridge_t", symbol="SPX", params={"alpah": 2.0})
    with pytest.raises(ModelError, match="did you mean alpha"):
        _engine(app, RIDGE).run(spec)


def test_unknown_model_suggests_close_ids(app):
    with pytest.raises(NotFound, match="ridge_t"):
        _engine(app, RIDGE).run(TrialSpec(model_id="ridge_x", symbol="SPX"))


def test_economic_series_cannot_be_traded(app):
    with pytest.raises(TrialError, match="prices"):
        _engine(app, RIDGE).run(TrialSpec(model_id="ridge_t", symbol="CPILFESL"))


def test_spec_rejects_start_after_end():
    with pytest.raises(ValueError, match="before end"):
        TrialSpec(model_id="ridge", symbol="SPX", start="2015-01-01", end="2010-01-01")
