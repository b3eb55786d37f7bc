"""A small real goal-driven search on SPX: budget respected, the holdout sealed and used
once, and a goal met in sample but not on the holdout reported as not met."""

from __future__ import annotations

import time

import pandas as pd
import pytest

from mltrainer.app import App
from mltrainer.errors import ComplianceError, InputError
from mltrainer.executor import UnifiedExecutor
from mltrainer.goals import GoalSystem
from mltrainer.research.report import report_tables, summary_text, write_html
from mltrainer.research.search import SearchConfig, in_sample_end, sealed_from, start_search
from mltrainer.runs.worker import run_worker
from mltrainer.settings import Settings
from mltrainer.trials.overfitting import run_dsr
from mltrainer.trials.store import TrialStore

# In sample (the last 2 folds before the seal) ridge_strong's drawdown stays under 10%;
# over the sealed 2015-2018 holdout it does not.
GOAL = "ridge over 7-12 days with max drawdown under 10%"


def _goal(app: App, text: str) -> str:
    return GoalSystem(app.engine, app.gateway, app.audit, app.data.lookup_symbol).set_goal(text).id


@pytest.fixture(scope="module")
def finished(tmp_path_factory):
    """One search of 3 trials (2 folds each) run to its end by an in-process worker."""
    from conftest import make_settings

    settings = make_settings(tmp_path_factory.mktemp("search") / "home")
    app = App(settings)
    gid = _goal(app, GOAL)
    ex = UnifiedExecutor(app)
    cfg = SearchConfig(symbol="SPX", max_trials=3, max_minutes=20, max_folds=2)
    run_id = start_search(ex, cfg)
    seal = sealed_from(app, ex.runs.get(run_id))
    # while the run is active no tool reads the sealed range
    with pytest.raises(ComplianceError, match="sealed holdout"):
        app.data.fetch("SPX", actor="test")
    run_worker(settings, once=True)
    yield app, ex, ex.runs.get(run_id), gid, seal
    app.close()


def test_the_budget_is_respected_and_every_trial_ends_before_the_seal(finished):
    app, _ex, run, _gid, seal = finished
    assert run["status"] == "finished"
    assert run["finish_reason"] == "budget_spent"
    assert run["steps_total"] == 3  # never more than max_trials
    for step in run["steps"]:
        assert step["status"] == "succeeded"
        assert step["params"]["end"] == in_sample_end(seal)
        spec = TrialStore(app.engine).result(step["trial_id"]).spec
        assert spec.end.isoformat() < seal[:10]


def test_met_in_sample_but_not_on_the_holdout_is_not_met(finished):
    app, _ex, run, _gid, _seal = finished
    summary = run["summary"]
    best = summary["leaderboard"][0]
    assert best["met_in_sample"] is True  # the goal holds in sample...
    holdout = summary["holdout"]
    assert holdout["evaluated"] and holdout["candidate"] == best["candidate"]
    assert holdout["met"] is False  # ...but not on the holdout
    assert run["finish_reason"] != "goal_met"
    (dd,) = holdout["constraints"]
    stored = TrialStore(app.engine).result(holdout["trial_id"])
    assert dd["actual"] == stored.metrics["max_drawdown"]
    assert abs(dd["actual"]) >= 0.10 > abs(dd["in_sample"])
    assert stored.folds[0].test_start >= holdout["sealed_from"]  # only holdout bars tested
    assert "the goal is NOT met" in summary_text(run)


def test_summary_has_leaderboard_n_dsr_and_pbo(finished, tmp_path):
    app, _ex, run, gid, _seal = finished
    summary = run["summary"]
    assert summary["n_trials"] == 3 and len(summary["leaderboard"]) == 3
    sharpes = [r["sharpe"] for r in summary["leaderboard"]]
    assert sorted(summary["trial_sharpes"]) == sorted(sharpes)
    assert summary["run_dsr"]["n_trials"] == 3  # the holdout trial is not counted
    assert 0.0 <= summary["pbo"]["pbo"] <= 1.0 and summary["pbo"]["n_blocks"] == 16
    html = write_html(run, tmp_path / "report.html")
    text = html.read_text()
    assert "Distribution of the trials' Sharpe ratios (N=3)" in text
    assert "In sample vs holdout" in text
    assert report_tables(run) is not None
    assert app.audit.verify().ok
    kinds = [r.kind for r in app.audit.records(("holdout.seal", "holdout.evaluate"))]
    assert kinds == ["holdout.seal", "holdout.evaluate"]  # sealed once, evaluated once


def test_every_leaderboard_dsr_is_deflated_by_the_runs_n(finished):
    """The leaderboard showed each trial's own DSR, which counted only the trials finished
    before it (the first one: N = 1, a PSR), beside a run DSR over every trial: the best
    candidate had two different DSRs. Each row is now deflated by the run's N and Sharpe
    variance (checked against run_dsr on the stored trials); the trial's own is kept."""
    app, _ex, run, gid, _seal = finished
    summary, store = run["summary"], TrialStore(app.engine)
    sharpes = [
        t["metrics"]["sharpe_per_period"]
        for t in store.list(goal_id=gid)
        if not str(t.get("study") or "").endswith(":holdout")
    ]
    assert len(sharpes) == 3
    for row in summary["leaderboard"]:
        result = store.result(row["trial_id"])
        rets = pd.Series([e[1] for e in result.equity]).pct_change().dropna().to_numpy()
        assert row["dsr"] == pytest.approx(run_dsr(rets, sharpes).dsr, rel=1e-12)
        assert row["dsr_at_trial"] == result.metrics["dsr"]
    assert summary["leaderboard"][0]["dsr"] == summary["run_dsr"]["dsr"]
    first = min(summary["leaderboard"], key=lambda r: r["seq"])
    assert first["dsr_at_trial"] != first["dsr"]  # it was deflated by N = 1 when it ran


def test_no_new_trial_after_max_minutes(settings: Settings):
    with App(settings) as app:
        _goal(app, GOAL)
        ex = UnifiedExecutor(app)
        cfg = SearchConfig(symbol="SPX", max_trials=50, max_minutes=0.001, max_folds=2)
        run_id = start_search(ex, cfg)
        time.sleep(0.2)  # the 0.06 s budget is spent before any worker plans (no race)
        run_worker(settings, once=True)
        run = ex.runs.get(run_id)
        assert run["finish_reason"] == "budget_spent"
        assert run["steps_total"] == 0 and "no trial of the search finished" in run["error"]


def test_a_search_needs_a_goal_with_constraints(app: App):
    ex = UnifiedExecutor(app)
    cfg = SearchConfig(max_trials=2, max_minutes=1)
    with pytest.raises(InputError, match="needs a goal"):
        start_search(ex, cfg)
    _goal(app, "momentum on SPX")
    with pytest.raises(InputError, match="no measurable constraint"):
        start_search(ex, cfg)
    assert ex.runs.list() == []  # nothing stored


def _cli(monkeypatch, capsys, home, *argv: str):
    import sys

    from mltrainer.cli import main

    monkeypatch.setenv("MLTRAINER_HOME", str(home))
    monkeypatch.setattr(sys, "argv", ["mltrainer", *argv])
    with pytest.raises(SystemExit) as e:
        main()
    return e.value.code, capsys.readouterr()


def test_cli_report_json_and_html(finished, monkeypatch, capsys, tmp_path):
    import json

    app, _ex, run, _gid, _seal = finished
    page = tmp_path / "r.html"
    code, out = _cli(
        monkeypatch, capsys, app.settings.home, "research", "report", run["id"], "--json",
        "--html", str(page),
    )  # fmt: skip
    assert code in (0, None), out.err
    data = json.loads(out.out)
    assert data["summary"]["holdout"]["met"] is False and data["html"] == str(page)
    assert page.exists()


def test_cli_start_without_a_goal_is_exit_2_and_stores_nothing(
    settings: Settings, monkeypatch, capsys
):
    App(settings).close()
    code, out = _cli(
        monkeypatch, capsys, settings.home, "research", "start", "--max-trials", "2",
        "--max-minutes", "1", "--no-worker",
    )  # fmt: skip
    assert code == 2 and "needs a goal" in out.err
    with App(settings) as app:
        assert UnifiedExecutor(app).runs.list() == []
