"""The sealed holdout of a search run: where it starts, its rows, and the one final test.

When a search run starts, the final part of each series it trades is sealed
(:func:`seal_run`): by default the last 20% of bars and at least one year, starting at the
first bar of a day. The boundary is a ``holdouts`` row, and while the run is active the
data service refuses any read reaching it (:mod:`mltrainer.data.sealed`). Every trial of
the search ends the day before (:func:`in_sample_spec`).

When the search ends, :func:`evaluate_on_holdout` runs the chosen candidate once more, on
the whole series, with the run's unseal capability: the same walk-forward (same window,
refit cadence and parameters), with the fold grid placed so that the first test fold
starts exactly at the first sealed bar; only holdout bars are tested (earlier folds are
dropped), so the stored trial's metrics are holdout-only. Each constraint is checked on
those metrics; the goal counts as met only when every one holds. The trial's result is
sealed in the audit chain as every trial is, and a ``holdout.evaluate`` record seals the
verdict. A run's holdout is evaluated once; a second attempt is refused.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import pandas as pd
from sqlalchemy import select
from sqlalchemy.orm import Session

from ..data.sealed import Unseal
from ..db.tables import HoldoutRow
from ..errors import ComplianceError, TrialError
from ..goals import Constraint, Goal, GoalComponents
from ..seals import content_sha256
from ..trials.engine import WalkForwardEngine, plan_folds
from ..trials.runner import TrialRunner
from ..trials.spec import TrialResult, TrialSpec
from ..trials.store import TrialStore

if TYPE_CHECKING:
    from ..app import App
    from ..data.market import MarketData
    from ..data.service import CatalogueEntry
    from ..models.registry import Registry

__all__ = [
    "HoldoutVerdict",
    "seal_for",
    "seal_run",
    "run_seals",
    "in_sample_spec",
    "evaluate_on_holdout",
    "holdout_study",
]

DEFAULT_FRACTION = 0.2
DEFAULT_MIN_YEARS = 1.0


def _first_bar_of_day(index: pd.DatetimeIndex, i: int) -> int:
    """``i`` or the first bar of the next day: a seal starts at a day boundary so that a
    trial's date ``end`` (the day before) never includes a sealed bar."""
    day = index[i].normalize()
    if i == 0 or index[i - 1].normalize() != day:
        return i
    later = index.normalize() > day
    if not later.any():
        raise TrialError("the series is too short to seal a holdout")
    return int(later.argmax())


def seal_for(
    data: MarketData | CatalogueEntry,
    fraction: float = DEFAULT_FRACTION,
    min_years: float = DEFAULT_MIN_YEARS,
) -> str:
    """ISO timestamp of the first sealed bar: the last ``fraction`` of bars, widened to at
    least ``min_years`` of calendar time. A catalogue entry (no bars read) splits its date
    span instead, at midnight."""
    if not 0 < fraction < 1:
        raise TrialError(f"holdout fraction must be between 0 and 1, got {fraction}")
    if min_years < 0:
        raise TrialError(f"min_years must be >= 0, got {min_years}")
    year = timedelta(days=365.25 * min_years)
    if hasattr(data, "frame"):
        index = pd.DatetimeIndex(data.frame.index)  # type: ignore[union-attr]
        n = len(index)
        i = min(int(math.floor(n * (1 - fraction))), int(index.searchsorted(index[-1] - year)))
        if i < 2:
            raise TrialError(
                f"{n} bars are too few to keep {fraction:.0%} (at least {min_years:g} years) "
                "sealed and still train"
            )
        return index[_first_bar_of_day(index, i)].isoformat()
    first = datetime.fromisoformat(str(data.first)[:10])  # type: ignore[union-attr]
    last = datetime.fromisoformat(str(data.last)[:10])  # type: ignore[union-attr]
    cut = min(last - (last - first) * fraction, last - year)
    if cut <= first:
        raise TrialError(f"{data.symbol}: {first:%Y-%m-%d}..{last:%Y-%m-%d} is too short to seal")
    return (cut + timedelta(days=1)).replace(hour=0, minute=0, second=0, microsecond=0).isoformat()


def run_seals(app: App, run_id: str) -> dict[tuple[str, str], str]:
    """``{(symbol, source): sealed_from}`` of a run."""
    with Session(app.engine) as s:
        rows = s.execute(
            select(HoldoutRow.symbol, HoldoutRow.source, HoldoutRow.sealed_from).where(
                HoldoutRow.run_id == run_id
            )
        )
        return {(sym, src): f for sym, src, f in rows}


def seal_run(
    app: App,
    run_id: str,
    symbol: str,
    source: str = "bundled",
    interval: str | None = None,
    *,
    fraction: float = DEFAULT_FRACTION,
    min_years: float = DEFAULT_MIN_YEARS,
    actor: str = "research",
) -> str:
    """Seal ``symbol`` for ``run_id`` (once; a second call returns the stored boundary).

    The boundary is measured on the whole series, read before the seal exists. When an
    active run already sealed the same series, the earliest such boundary is reused: the
    series stays unread past it, and both searches hold out at least as much.
    """
    sym = app.data.resolve_symbol(symbol, source)
    stored = run_seals(app, run_id).get((sym, source))
    if stored is not None:
        return stored
    guard = app.data.holdouts
    others = guard.active_seals(sym, source) if guard is not None else []
    if others:
        sealed_from = others[0].sealed_from
    else:
        md = app.data.fetch(sym, source=source, interval=interval, actor=actor)
        sealed_from = seal_for(md, fraction, min_years)
    with Session(app.engine) as s, s.begin():
        s.add(
            HoldoutRow(
                run_id=run_id,
                symbol=sym,
                source=source,
                interval=interval,
                sealed_from=sealed_from,
                created_at=datetime.now(UTC),
            )
        )
    app.audit.append(
        "holdout.seal",
        {
            "run_id": run_id,
            "symbol": sym,
            "source": source,
            "sealed_from": sealed_from,
            "fraction": fraction,
            "min_years": min_years,
        },
        actor=actor,
    )
    return sealed_from


def in_sample_spec(spec: TrialSpec, sealed_from: str) -> TrialSpec:
    """``spec`` ending on the day before the seal (or earlier, if it already did)."""
    last = datetime.fromisoformat(sealed_from).date() - timedelta(days=1)
    end = min(spec.end, last) if spec.end else last
    if spec.start and spec.start >= end:
        raise TrialError(
            f"{spec.symbol}: start {spec.start} is inside the sealed holdout (from "
            f"{sealed_from[:10]}); search trials must start before it"
        )
    return spec.model_copy(update={"end": end})


def holdout_study(run_id: str) -> str:
    """The study name of a run's holdout trial: a separate question, so the search's
    in-sample trial count (and its DSR) never includes it."""
    return f"{run_id}:holdout"


@dataclass(frozen=True)
class HoldoutVerdict:
    run_id: str
    trial_id: str
    met: bool
    reason: str
    sealed_from: str
    results: list[dict[str, Any]]
    """One entry per constraint: metric, op, target, actual, passed, reason."""
    metrics: dict[str, float | None]
    n_bars: int

    def to_dict(self) -> dict[str, Any]:
        return {
            "run_id": self.run_id,
            "trial_id": self.trial_id,
            "met": self.met,
            "reason": self.reason,
            "sealed_from": self.sealed_from,
            "results": self.results,
            "metrics": self.metrics,
            "n_bars": self.n_bars,
        }


def _already_evaluated(app: App, run_id: str) -> str | None:
    for rec in app.audit.records(("holdout.evaluate",)):
        if rec.payload.get("run_id") == run_id:
            return str(rec.payload.get("trial_id"))
    return None


def _aligned(engine: WalkForwardEngine, spec: TrialSpec, sealed_from: str) -> TrialSpec:
    """``spec`` over the whole series with its first test fold at the first sealed bar.

    The fold grid starts ``window_size + purge + embargo`` usable rows in and steps by
    ``refit_every``; ``window_size`` grows by fewer than ``refit_every`` bars so that one
    fold starts at the seal, and ``max_folds`` keeps that fold and the ones after it. An
    expanding window trains on the same rows either way; a rolling one on that many more.
    """
    full = spec.model_copy(update={"end": None, "max_folds": None})
    mspec = engine.registry.get(spec.model_id)
    _, X, *_ = engine._inputs(full, mspec)  # the rows the run itself will use
    h = int(X.index.searchsorted(pd.Timestamp(sealed_from)))
    n = len(X)
    if h >= n:
        raise TrialError(f"no usable bars of {spec.symbol} at or after {sealed_from[:10]}")
    first = spec.window_size + spec.effective_purge + spec.embargo
    if h < first:
        raise TrialError(
            f"{spec.symbol}: only {h} usable bars before the holdout; the walk-forward needs "
            f"{first} to train the first fold"
        )
    window = spec.window_size + (h - first) % spec.refit_every
    folds = math.ceil((n - h) / spec.refit_every)
    aligned = full.model_copy(update={"window_size": window, "max_folds": folds})
    plan = plan_folds(n, aligned)
    if plan[0].s != h:  # the invariant the holdout-only metrics rest on
        raise TrialError(f"holdout folds misaligned: first test row {plan[0].s}, seal at {h}")
    return TrialSpec.model_validate(aligned.model_dump())


def evaluate_on_holdout(
    app: App,
    spec: TrialSpec,
    run_id: str,
    constraints: Sequence[Constraint | dict[str, Any]],
    *,
    registry: Registry | None = None,
    goal_id: str | None = None,
    actor: str = "research",
) -> HoldoutVerdict:
    """Evaluate ``spec`` (the search's chosen candidate) once on ``run_id``'s holdout."""
    from ..models.registry import build_registry

    sealed_from = run_seals(app, run_id).get((spec.symbol, spec.source))
    if sealed_from is None:
        raise TrialError(f"run {run_id} sealed no holdout of {spec.symbol} ({spec.source})")
    done = _already_evaluated(app, run_id)
    if done is not None:
        raise ComplianceError(
            f"compliance: the holdout of run {run_id} was already evaluated (trial {done}); "
            "it is evaluated once and never used to choose among candidates"
        )
    guard = app.data.holdouts
    if guard is None:
        raise TrialError("the data service has no holdout guard (no audit log)")
    cap: Unseal = guard.unseal(run_id)
    try:

        def fetch(symbol, source="bundled", start=None, end=None, interval=None):
            return app.data.fetch(
                symbol,
                source=source,
                start=start,
                end=end,
                interval=interval,
                actor=actor,
                unseal=cap,
            )

        st = app.settings
        engine = WalkForwardEngine(registry or build_registry(), fetch, fold_jobs=st.fold_jobs)
        store = TrialStore(
            app.engine, app.scrub, lease_s=st.trial_lease_s, heartbeat_s=st.trial_heartbeat_s
        )
        aligned = _aligned(engine, spec, sealed_from)
        runner = TrialRunner(engine, store, app.audit, tracking_uri=st.mlflow_tracking_uri)
        trial_id, result = runner.run(
            aligned, goal_id=goal_id, study=holdout_study(run_id), actor=actor
        )
    finally:
        guard.revoke(cap)
    verdict = _verdict(run_id, trial_id, sealed_from, result, constraints, goal_id)
    body = verdict.to_dict()
    app.audit.append(
        "holdout.evaluate",
        {
            "run_id": run_id,
            "trial_id": trial_id,
            "met": verdict.met,
            "sealed_from": sealed_from,
            "spec_hash": result.spec_hash,
            "sha256": content_sha256(body),
        },
        actor=actor,
    )
    return verdict


def _verdict(
    run_id: str,
    trial_id: str,
    sealed_from: str,
    result: TrialResult,
    constraints: Sequence[Constraint | dict[str, Any]],
    goal_id: str | None,
) -> HoldoutVerdict:
    cons = [c if isinstance(c, Constraint) else Constraint.model_validate(c) for c in constraints]
    goal = Goal(
        id=goal_id or run_id,
        text="holdout constraints",
        components=GoalComponents(constraints=cons),
        created_at=datetime.now(UTC),
    )
    metrics = dict(result.metrics)
    ev = goal.evaluate({k: v for k, v in metrics.items() if v is not None})
    first_test = result.folds[0].test_start if result.folds else sealed_from
    if pd.Timestamp(first_test) < pd.Timestamp(sealed_from):
        raise TrialError(f"holdout trial tested from {first_test}, before the seal {sealed_from}")
    return HoldoutVerdict(
        run_id=run_id,
        trial_id=trial_id,
        met=ev.met,
        reason=ev.reason,
        sealed_from=sealed_from,
        results=[r.model_dump() for r in ev.results],
        metrics=metrics,
        n_bars=int(metrics.get("n_bars") or 0),
    )
