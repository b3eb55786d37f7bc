"""The goal-driven search tunes its candidates with Optuna: every tuned trial is a stored
walk-forward trial counted by the budget, N and PBO; one study per candidate, continued
across planning steps; the leaderboard and the holdout use the tuned parameters."""

from __future__ import annotations

import pytest
from rich.console import Console
from sqlalchemy import select
from sqlalchemy.orm import Session

from mltrainer.app import App
from mltrainer.db.tables import TrialRow
from mltrainer.executor import UnifiedExecutor
from mltrainer.goals import GoalSystem
from mltrainer.models.registry import build_registry
from mltrainer.research.report import report_tables, summary_text
from mltrainer.research.search import SearchConfig, plan_search, start_search, study_name
from mltrainer.research.tuning import optuna_storage
from mltrainer.runs.worker import run_worker
from mltrainer.settings import Settings
from mltrainer.trials.store import TrialStore

optuna = pytest.importorskip("optuna", reason="optuna is not installed")

# Four candidates (ridge at h10: basic/returns features, sign/long_only/vol_target rules),
# each with ridge's 5-point alpha space. 6 trials = 4 first trials + 2 tuning trials.
GOAL = "ridge with max drawdown under 10%"
MAX_TRIALS = 6


def _goal(app: App, text: str) -> str:
    return GoalSystem(app.engine, app.gateway, app.audit, app.data.lookup_symbol).set_goal(text).id


def _run_rows(app: App, run_id: str) -> list[TrialRow]:
    """Trial rows of the run's search (its studies), the holdout trial excluded."""
    with Session(app.engine) as s:
        rows = s.scalars(select(TrialRow).where(TrialRow.study.like(f"{run_id}:%")))
        return [r for r in rows if r.study != f"{run_id}:holdout"]


@pytest.fixture(scope="module")
def searched(tmp_path_factory):
    from conftest import make_settings

    settings = make_settings(tmp_path_factory.mktemp("tuned") / "home")
    app = App(settings)
    _goal(app, GOAL)
    ex = UnifiedExecutor(app)
    cfg = SearchConfig(
        symbol="SPX", max_trials=MAX_TRIALS, max_minutes=20, max_folds=2, per_term=1, tune_trials=3
    )
    run_id = start_search(ex, cfg)
    run_worker(settings, once=True)
    yield app, ex.runs.get(run_id)
    app.close()


def test_tuned_trials_count_toward_the_budget(searched):
    app, run = searched
    assert run["status"] == "finished" and run["finish_reason"] == "budget_spent"
    steps = run["steps"]
    assert [s["action"] for s in steps] == ["tune_model"] * MAX_TRIALS
    assert all(s["status"] == "succeeded" and s["params"]["n_trials"] == 1 for s in steps)
    rows = _run_rows(app, run["id"])
    assert len(rows) == MAX_TRIALS  # never more trial rows than max_trials
    assert {r.id for r in rows} == {s["trial_id"] for s in steps}
    summary = run["summary"]
    assert summary["n_trials"] == MAX_TRIALS and len(summary["trial_sharpes"]) == MAX_TRIALS
    assert summary["run_dsr"]["n_trials"] == MAX_TRIALS  # every tuned trial is in N
    assert summary["pbo"]["pbo"] is not None and 0.0 <= summary["pbo"]["pbo"] <= 1.0


def test_one_study_per_candidate_continued_across_planning_steps(searched):
    app, run = searched
    best = run["summary"]["leaderboard"][0]
    mine = [s for s in run["steps"] if s["params"]["study"] == best["study"]]
    assert best["study"] == study_name(run["id"], best["candidate"])
    # Its first trial, then the two tuning trials: three planning steps, one study.
    assert len(mine) == 3 and best["n_trials"] == 3
    st = optuna.load_study(study_name=best["study"], storage=optuna_storage(app))
    ran = [t for t in st.trials if t.state.name == "COMPLETE"]
    assert [t.user_attrs["trial_id"] for t in ran] == [s["trial_id"] for s in mine]
    numbers = [s["outcome"]["result"]["trials"][0]["number"] for s in mine]
    assert numbers == [t.number for t in ran] and numbers[0] == 0
    default = build_registry().get("ridge").defaults["alpha"]
    assert ran[0].params == {"alpha": default}  # the first trial: the registry default
    # A resumed study goes on to new points: no point of the small space is run twice.
    assert len({t.params["alpha"] for t in ran}) == 3
    # A draw that repeated a tried point ran no trial; it is kept as PRUNED and says so.
    assert all("duplicate_of" in t.user_attrs for t in st.trials if t not in ran)
    # The other candidates had their first trial only, each in its own study.
    others = [s for s in run["steps"] if s not in mine]
    assert len({s["params"]["study"] for s in others}) == len(others) == 3


def test_leaderboard_holds_each_candidates_best_tuned_trial(searched):
    app, run = searched
    summary = run["summary"]
    board = summary["leaderboard"]
    assert len(board) == summary["n_candidates"] == 4
    store = TrialStore(app.engine)
    best = board[0]
    tuned = [s for s in run["steps"] if s["params"]["study"] == best["study"]]
    sharpes = {s["trial_id"]: s["outcome"]["metrics"]["sharpe"] for s in tuned}
    passed = {
        s["trial_id"]: store.result(s["trial_id"]).metrics["max_drawdown"] > -0.10 for s in tuned
    }
    top = max(sharpes, key=lambda t: (passed[t], sharpes[t]))
    assert best["trial_id"] == top  # goal constraints first, then Sharpe
    spec = store.result(best["trial_id"]).spec
    assert best["tuned_params"] == {"alpha": spec.params["alpha"]}
    assert best["params"]["params"] == spec.params
    text = _render(run)
    assert f"alpha={spec.params['alpha']} (best of 3 tuned trials)" in text
    assert f"alpha={spec.params['alpha']}" in summary_text(run)


def test_the_holdout_evaluates_the_tuned_parameters_once(searched):
    app, run = searched
    summary = run["summary"]
    best, holdout = summary["leaderboard"][0], summary["holdout"]
    assert holdout["evaluated"] and holdout["in_sample_trial_id"] == best["trial_id"]
    store = TrialStore(app.engine)
    in_sample = store.result(best["trial_id"]).spec
    evaluated = store.result(holdout["trial_id"]).spec
    assert evaluated.params == in_sample.params == holdout["params"]
    assert evaluated.model_id == in_sample.model_id and evaluated.horizon == in_sample.horizon
    kinds = [r.kind for r in app.audit.records(("holdout.evaluate",))]
    assert kinds == ["holdout.evaluate"]
    assert app.audit.verify().ok


def test_a_planning_round_never_proposes_more_trials_than_the_budget(settings: Settings):
    with App(settings) as app:
        _goal(app, GOAL)
        ex = UnifiedExecutor(app)
        cfg = SearchConfig(symbol="SPX", max_trials=2, max_minutes=5, workers=3, per_term=1)
        run_id = start_search(ex, cfg)
        steps = plan_search(app, ex.runs.get(run_id))
        assert isinstance(steps, list) and len(steps) == 2
        for s in steps:
            assert s["action"] == "tune_model" and s["params"]["n_trials"] == 1
            assert s["params"]["study"].startswith(f"{run_id}:ridge|h10|")
        ex.runs.cancel(run_id, actor="test")


def _render(run: dict) -> str:
    console = Console(record=True, width=300)
    console.print(report_tables(run))
    return console.export_text()
