"""The unified executor: dynamic actions, compliance, real trials, background jobs."""

from __future__ import annotations

import math

import pytest

from mltrainer.executor import UnifiedExecutor
from mltrainer.models.registry import build_registry

REGISTRY = build_registry()
QUICK = {
    "start": "2012-01-01",
    "end": "2016-12-31",
    "window_size": 252,
    "refit_every": 63,
    "max_folds": 3,
}


@pytest.fixture
def executor(app):
    ex = UnifiedExecutor(app, registry=REGISTRY)
    yield ex
    ex.shutdown()


def test_every_model_and_financial_model_is_an_action(executor):
    names = set(executor.list_actions())
    assert {f"train_model_{i}" for i in REGISTRY.ids()} <= names
    assert {f"run_financial_{i}" for i in executor.financial.FINANCIAL} <= names
    assert {
        "train_model",
        "compare_models",
        "run_financial",
        "list_models",
        "list_symbols",
        "trial_status",
    } <= names


def test_random_data_source_is_refused_by_compliance(executor):
    out = executor.execute_model_training("random_forest", "AAPL", data_source="random")
    assert out["success"] is False
    assert "compliance" in out["error"]
    assert out["data"] is None and out["model_id"] == "random_forest"


def test_training_on_bundled_data_returns_real_metrics(executor, app):
    out = executor.execute_model_training(
        "random_forest", "AAPL", data_source="bundled", horizon=10, **QUICK
    )
    assert out["success"] is True, out["error"]
    m = out["data"]["metrics"]
    assert math.isfinite(m["sharpe"]) and math.isfinite(m["max_drawdown"])
    stored = executor.store.get(out["data"]["trial_id"])
    assert stored["status"] == "done" and stored["data_hash"] == out["data"]["data_sha256"]
    md = app.data.fetch("AAPL", start="2012-01-01", end="2016-12-31")
    assert stored["data_hash"] == md.provenance.sha256


def test_training_through_the_local_polygon_server(vendor_app, polygon_server):
    ex = UnifiedExecutor(vendor_app, registry=REGISTRY)
    out = ex.execute_model_training("random_forest", "AAPL", data_source="polygon", **QUICK)
    ex.shutdown()
    assert out["success"] is True, out["error"]
    assert math.isfinite(out["data"]["metrics"]["sharpe"])
    assert any("/v2/aggs/ticker/AAPL/" in r.path for r in polygon_server.requests)


def test_unknown_model_gets_suggestions(executor):
    out = executor.execute_model_training("random_forrest", "AAPL")
    assert out["success"] is False and "random_forest" in out["error"]


def test_unknown_symbol_gets_suggestions(executor):
    out = executor.execute_model_training("ridge", "APPL", **QUICK)
    assert out["success"] is False and "AAPL" in out["error"]


def test_unknown_parameter_names_the_valid_ones(executor):
    out = executor.execute_model_training("ridge", "SPX", alpah=2.0)
    assert out["success"] is False and "alpha" in out["error"]


def test_model_parameters_pass_through_to_the_model(executor):
    a = executor.execute_model_training("ridge", "SPX", alpha=0.01, **QUICK)
    b = executor.execute_model_training("ridge", "SPX", alpha=1000.0, **QUICK)
    assert a["success"] and b["success"]
    assert a["data"]["spec_hash"] != b["data"]["spec_hash"]


def test_background_trial_matches_a_synchronous_run(executor):
    params = {"model_id": "ridge", "symbol": "SPX", **QUICK}
    started = executor.execute("start_trial", params)
    assert started["success"] and started["data"]["status"] == "queued"
    tid = started["data"]["trial_id"]
    status = executor.wait(tid, timeout=120)
    assert status["status"] == "done"
    sync = executor.execute("train_model", params)
    # The second run of the same question is deflated over both: only N and the DSR differ.
    assert status["n_trials"] == 1 and sync["data"]["n_trials"] == 2
    same = {k: v for k, v in status["metrics"].items() if k != "dsr"}
    assert same == {k: v for k, v in sync["data"]["metrics"].items() if k != "dsr"}


def test_compare_models_ranks_by_sharpe(executor):
    out = executor.execute(
        "compare_models",
        {"model_ids": ["ridge", "lasso", "ma_crossover_10_20"], "symbol": "SPX", **QUICK},
    )
    assert out["success"], out["error"]
    sharpes = [r["metrics"]["sharpe"] for r in out["data"]["ranking"]]
    assert sharpes == sorted(sharpes, reverse=True)
    assert out["data"]["best"] == out["data"]["ranking"][0]["model_id"]


def test_dynamic_financial_action_prices_black_scholes(executor):
    out = executor.execute(
        "run_financial_black_scholes",
        {"params": {"spot": 100, "strike": 100, "rate": 0.05, "volatility": 0.2, "maturity": 1}},
    )
    assert out["success"], out["error"]
    assert out["data"]["result"]["price"] == pytest.approx(10.4506, abs=1e-4)


def test_unknown_action_is_an_error_with_suggestions(executor):
    out = executor.execute("train_modle", {})
    assert out["success"] is False and "train_model" in out["error"]


def test_every_action_is_audited(executor, app):
    before = app.audit.count()
    executor.execute("list_symbols", {})
    recs = app.audit.tail(5, kind="action")
    assert app.audit.count() > before and recs[-1].payload["action"] == "list_symbols"
    assert app.audit.verify().ok


def test_list_trials_returns_the_stored_trials_newest_first_and_filters(executor):
    made = [
        executor.execute("train_model", {"model_id": m, "symbol": "SPX", **QUICK})["data"]
        for m in ("ridge", "lasso")
    ]
    out = executor.execute("list_trials", {})
    assert out["success"], out["error"]
    assert [t["id"] for t in out["data"]["trials"]] == [made[1]["trial_id"], made[0]["trial_id"]]
    only = executor.execute("list_trials", {"model_id": "ridge"})["data"]
    assert only["count"] == 1 and only["trials"][0]["id"] == made[0]["trial_id"]
    assert executor.execute("list_trials", {"symbol": "NDX"})["data"]["count"] == 0
    bad = executor.execute("list_trials", {"limit": 0})
    assert not bad["success"] and "limit" in bad["error"]
