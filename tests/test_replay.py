"""``trial replay``: re-runs a stored trial and compares every value its result holds."""

from __future__ import annotations

import dataclasses
import json

import pytest
from sqlalchemy import text

from mltrainer.app import App
from mltrainer.errors import ModelError
from mltrainer.executor import UnifiedExecutor
from mltrainer.models.registry import Registry
from mltrainer.trials.replay import NOT_COMPARED, replay_trial
from mltrainer.trials.spec import FoldResult, TrialSpec

SPEC = dict(
    model_id="ridge",
    symbol="SPX",
    start="2012-01-01",
    end="2016-12-31",
    horizon=10,
    window_size=252,
    refit_every=63,
    max_folds=3,
)


@pytest.fixture
def ex(app: App) -> UnifiedExecutor:
    return UnifiedExecutor(app)


def _replay(ex: UnifiedExecutor, tid: str):
    return replay_trial(ex.engine, ex.store, ex.app.audit, tid)


def _edit_result(app: App, tid: str, edit) -> None:
    with app.engine.begin() as conn:
        raw = conn.execute(text("SELECT result FROM trials WHERE id = :i"), {"i": tid}).scalar()
        result = json.loads(raw)
        edit(result)
        conn.execute(
            text("UPDATE trials SET result = :r WHERE id = :i"),
            {"r": json.dumps(result), "i": tid},
        )


def test_replay_of_a_real_trial_compares_every_section_and_is_identical(ex: UnifiedExecutor):
    tid, result = ex.run_trial(TrialSpec(**SPEC))
    trials_before = ex.store.count()
    rep = _replay(ex, tid)
    assert rep.identical, rep.differences
    assert rep.n_differences == 0 and rep.seal == "matches"
    # Counts per section, derived from the stored result itself.
    fold_fields = len(FoldResult.model_fields) - 1  # fit_seconds is a timing
    assert rep.compared["metrics"] == len(result.metrics)
    assert rep.compared["benchmark"] == len(result.benchmark)
    assert rep.compared["folds"] == len(result.folds) * fold_fields
    assert rep.compared["equity"] == 3 * len(result.equity)
    assert rep.compared["predictions"] == 4 * len(result.predictions)
    for scalar in ("spec_hash", "data_sha256", "model_task", "n_trials"):
        assert rep.compared[scalar] == 1
    assert {"psr", "dsr", "sharpe"} <= set(result.metrics)
    assert "timings" not in rep.compared and "versions" not in rep.compared
    assert rep.to_dict()["not_compared"] == list(NOT_COMPARED)
    # A replay is a check, not a new trial: nothing stored that a later DSR would count.
    assert ex.store.count() == trials_before
    (rec,) = ex.app.audit.tail(1, kind="trial.replay")
    assert rec.payload["trial_id"] == tid and rec.payload["identical"] is True


def test_replay_uses_the_stored_dsr_context(ex: UnifiedExecutor):
    """The DSR is reproduced with the trials counted when it was stored, not with later ones."""
    ex.run_trial(TrialSpec(**SPEC))
    tid, second = ex.run_trial(TrialSpec(**{**SPEC, "model_id": "lasso"}))
    ex.run_trial(TrialSpec(**{**SPEC, "model_id": "elastic_net"}))
    assert second.n_trials == 2 and len(second.other_sharpes) == 1
    rep = _replay(ex, tid)
    assert rep.identical, rep.differences
    assert rep.compared["other_sharpes"] == 1


def test_tampered_prediction_equity_and_benchmark_are_named(ex: UnifiedExecutor):
    tid, result = ex.run_trial(TrialSpec(**SPEC))

    def tamper(r: dict) -> None:
        r["predictions"][5][2] = -r["predictions"][5][2] or 1.0
        r["equity"][7][1] *= 1.01
        r["benchmark"]["sharpe"] += 0.5

    _edit_result(ex.app, tid, tamper)
    rep = _replay(ex, tid)
    assert not rep.identical
    assert set(rep.differences) == {
        "predictions[5].position",
        "equity[7].strategy",
        "benchmark.sharpe",
    }
    assert rep.differences["benchmark.sharpe"]["replayed"] == result.benchmark["sharpe"]
    assert rep.seal == "differs"  # the edit is also caught by the stored result's seal


def test_cli_replay_reports_counts_and_exits_1_on_a_difference(app: App, monkeypatch):
    from typer.testing import CliRunner

    from mltrainer.cli import app as cli

    monkeypatch.setenv("MLTRAINER_HOME", str(app.settings.home))
    tid, _ = UnifiedExecutor(app).run_trial(TrialSpec(**SPEC))
    runner = CliRunner()
    ok = runner.invoke(cli, ["trial", "replay", tid, "--json"], catch_exceptions=False)
    assert ok.exit_code == 0, ok.output
    out = json.loads(ok.stdout)
    assert out["identical"] and out["values_compared"] == sum(out["compared"].values())
    _edit_result(app, tid, lambda r: r["metrics"].__setitem__("dsr", 0.123))
    bad = runner.invoke(cli, ["trial", "replay", tid], catch_exceptions=False)
    assert bad.exit_code == 1
    assert "metrics.dsr" in bad.stdout and "1 differ" in bad.stdout


def test_a_result_stored_before_the_newer_fields_replays_as_stored(ex: UnifiedExecutor):
    """An older result has no ``other_sharpes`` and its spec no ``execution_delay`` (= 0):
    it replays with delay 0, and what only the replay has is listed, not counted as a diff."""
    from mltrainer.seals import seal_trial

    tid, _ = ex.run_trial(TrialSpec(**{**SPEC, "execution_delay": 0}))

    def as_old(r: dict) -> None:
        r.pop("other_sharpes")
        r["spec"].pop("execution_delay", None)

    _edit_result(ex.app, tid, as_old)
    seal_trial(ex.app.audit, tid)  # as if it had been sealed when stored
    rep = _replay(ex, tid)
    assert rep.identical, rep.differences
    assert "other_sharpes" in rep.only_in_replay


def _release_changing_ridge_defaults(ex: UnifiedExecutor, **changes) -> None:
    """The registry as a later release ships it: ridge's defaults changed, the values they
    replace kept as its former defaults."""
    old = ex.engine.registry.get("ridge")
    new = dataclasses.replace(
        old,
        defaults={**old.defaults, **changes},
        former_defaults={k: old.defaults[k] for k in changes},
    )
    ex.engine.registry = Registry([new if s.id == "ridge" else s for s in ex.engine.registry])


def test_a_changed_default_leaves_a_stored_trials_replay_identical(ex: UnifiedExecutor):
    tid, result = ex.run_trial(TrialSpec(**SPEC))
    alpha = ex.engine.registry.get("ridge").defaults["alpha"]
    assert result.model_params == {"alpha": alpha, **result.model_params}
    _release_changing_ridge_defaults(ex, alpha=alpha * 1000)
    rep = _replay(ex, tid)
    assert rep.identical, rep.differences
    assert rep.compared["model_params"] == len(result.model_params)
    # A new trial of the same spec takes the new default, and it changes the predictions.
    _, fresh = ex.run_trial(TrialSpec(**SPEC))
    assert fresh.model_params["alpha"] == alpha * 1000
    assert fresh.predictions != result.predictions


def test_a_result_from_before_parameters_were_recorded_replays_with_the_former_defaults(
    ex: UnifiedExecutor,
):
    from mltrainer.seals import seal_trial

    tid, result = ex.run_trial(TrialSpec(**SPEC))
    _edit_result(ex.app, tid, lambda r: r.pop("model_params"))
    seal_trial(ex.app.audit, tid)  # as if it had been sealed when stored
    _release_changing_ridge_defaults(ex, alpha=result.model_params["alpha"] * 1000)
    rep = _replay(ex, tid)
    assert rep.identical, rep.differences
    assert "model_params" in rep.only_in_replay


def test_recorded_parameters_come_back_as_the_types_the_model_takes(app: App):
    mlp = UnifiedExecutor(app).registry.get("mlp_regressor_medium")
    stored = json.loads(json.dumps(mlp.params({"hidden_layer_sizes": (32, 16)})))
    assert stored["hidden_layer_sizes"] == [32, 16]  # JSON has no tuples
    assert mlp.recorded(stored)["hidden_layer_sizes"] == (32, 16)
    with pytest.raises(ModelError, match="has no parameter 'layers'"):
        mlp.recorded({"layers": [8]})
