"""The sealed holdout of a search run (research/holdout.py, data/sealed.py)."""

from __future__ import annotations

from datetime import date, timedelta

import pandas as pd
import pytest

from mltrainer.data.bundled import BundledSource
from mltrainer.data.sealed import Unseal, reaches
from mltrainer.errors import ComplianceError
from mltrainer.executor.executor import UnifiedExecutor
from mltrainer.goals import Constraint
from mltrainer.research.holdout import (
    evaluate_on_holdout,
    in_sample_spec,
    seal_for,
    seal_run,
)
from mltrainer.runs.store import RunStore
from mltrainer.seals import check_seal
from mltrainer.trials.spec import TrialSpec


def _search_run(ex: UnifiedExecutor) -> str:
    return RunStore.for_executor(ex).create_run("search", [], owner="test")


def test_seal_is_the_last_fifth_of_bars_widened_to_min_years() -> None:
    md = BundledSource().fetch("SPX")
    idx = md.frame.index
    n = len(idx)
    # 20% of 5031 daily bars: the first sealed bar is bar floor(0.8 * n).
    assert seal_for(md) == idx[int(n * 0.8)].isoformat()
    # Six years is more than 20% here: the seal starts at the first bar on or after
    # last - 6 * 365.25 days (a calendar computation).
    six = idx[-1] - timedelta(days=6 * 365.25)
    assert seal_for(md, min_years=6) == idx[idx >= six][0].isoformat()
    # Hourly bars: the seal starts at the first bar of a day, so a trial's date end
    # (the day before) includes no sealed bar.
    fx = BundledSource().fetch("EURUSD")
    sealed = pd.Timestamp(seal_for(fx, min_years=0.1))
    pos = fx.frame.index.get_loc(sealed)
    assert fx.frame.index[pos - 1].normalize() < sealed.normalize()


def test_reaches_treats_a_date_end_as_its_whole_day() -> None:
    assert reaches(None, "2015-01-02T00:00:00")
    assert reaches(date(2015, 1, 2), "2015-01-02T00:00:00")
    assert reaches("2015-01-02", "2015-01-02T09:00:00")
    assert not reaches(date(2014, 12, 31), "2015-01-02T00:00:00")
    assert not reaches("2015-01-02T08:00:00", "2015-01-02T09:00:00")


def test_sealed_dates_are_refused_and_audited_while_the_run_is_active(app) -> None:
    ex = UnifiedExecutor(app)
    run_id = _search_run(ex)
    sealed_from = seal_run(app, run_id, "SPX")
    assert seal_run(app, run_id, "SPX") == sealed_from  # sealed once
    day = date.fromisoformat(sealed_from[:10])
    for end in (None, day, day + timedelta(days=30)):
        with pytest.raises(ComplianceError, match=f"sealed holdout of search run {run_id}"):
            app.data.fetch("SPX", start="2010-01-01", end=end)
    refusals = [
        r.payload
        for r in app.audit.records(("compliance",))
        if r.payload["check"] == "holdout" and not r.payload["allowed"]
    ]
    assert len(refusals) == 3
    assert refusals[0]["subject"]["run_id"] == run_id
    assert refusals[0]["subject"]["sealed_from"] == sealed_from
    # A hand-made capability is not the one the guard issued.
    with pytest.raises(ComplianceError, match="sealed holdout"):
        app.data.fetch("SPX", unseal=Unseal(run_id, "guessed"))
    # In-sample reads, other series, and the issued capability are fine.
    md = app.data.fetch("SPX", end=day - timedelta(days=1))
    assert md.frame.index[-1] < pd.Timestamp(sealed_from)
    app.data.fetch("NASDAQ")
    cap = app.data.holdouts.unseal(run_id)
    assert app.data.fetch("SPX", unseal=cap).frame.index[-1] >= pd.Timestamp(sealed_from)
    app.data.holdouts.revoke(cap)
    with pytest.raises(ComplianceError):
        app.data.fetch("SPX", unseal=cap)
    # A finished run's seal no longer applies.
    RunStore.for_executor(ex).finish_run(run_id, "exhausted")
    app.data.fetch("SPX")
    ex.shutdown()


def test_search_trials_never_see_a_sealed_bar_and_the_holdout_decides(app) -> None:
    ex = UnifiedExecutor(app)
    run_id = _search_run(ex)
    sealed_from = seal_run(app, run_id, "SPX")
    spec = TrialSpec(model_id="dummy_mean", symbol="SPX", start=date(2009, 1, 1), max_folds=12)
    # The trial as a search would write it without the seal is refused outright.
    with pytest.raises(ComplianceError, match="sealed holdout"):
        ex.run_trial(spec)
    ins = in_sample_spec(spec, sealed_from)
    tid, res = ex.run_trial(ins, study=run_id)
    stamps = [p[0] for p in res.predictions] + [e[0] for e in res.equity]
    stamps += [f.test_end for f in res.folds] + [f.train_end for f in res.folds]
    assert max(pd.Timestamp(s) for s in stamps) < pd.Timestamp(sealed_from)

    # Thresholds taken from this trial's own in-sample result: in sample, the goal is met
    # by construction (actual >= target, exactly). The holdout result alone decides.
    ins_sharpe = res.metrics["sharpe"]
    assert ins_sharpe is not None and ins_sharpe > 1.0  # long the mean in 2013-2014
    constraints = [Constraint(metric="sharpe", op=">=", value=ins_sharpe)]
    verdict = evaluate_on_holdout(app, ins, run_id, constraints, registry=ex.registry)
    hold = ex.store.result(verdict.trial_id)
    # Only holdout bars were tested, by the same model and walk-forward settings.
    assert pd.Timestamp(hold.folds[0].test_start) == pd.Timestamp(sealed_from)
    assert min(pd.Timestamp(p[0]) for p in hold.predictions) == pd.Timestamp(sealed_from)
    assert hold.spec.model_id == "dummy_mean" and hold.spec.refit_every == ins.refit_every
    assert hold.metrics["sharpe"] == verdict.metrics["sharpe"]
    assert verdict.results[0]["actual"] == hold.metrics["sharpe"]
    assert verdict.met == (hold.metrics["sharpe"] >= ins_sharpe)
    # Its last 12 in-sample folds (2013-2014) were a steady rise; the held-out 2015-2018
    # had the 2015-16 and 2018 sell-offs, so the holdout Sharpe is lower.
    assert hold.metrics["sharpe"] < ins_sharpe
    assert verdict.met is False
    assert "is not >=" in verdict.reason
    # Stored and sealed in the audit chain; evaluated once only.
    assert check_seal(app.audit, "trial.seal", verdict.trial_id) == "matches"
    recs = [r.payload for r in app.audit.records(("holdout.evaluate",))]
    assert recs[-1]["run_id"] == run_id and recs[-1]["met"] is False
    with pytest.raises(ComplianceError, match="already evaluated"):
        evaluate_on_holdout(app, ins, run_id, constraints, registry=ex.registry)
    # The capability died with the evaluation: the holdout is sealed again.
    with pytest.raises(ComplianceError, match="sealed holdout"):
        app.data.fetch("SPX")
    ex.shutdown()
