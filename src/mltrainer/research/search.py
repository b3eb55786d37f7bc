"""The goal-driven search: a ``search`` run whose steps its planner adds as it goes.

:func:`start_search` seals the holdout of the run's symbol and stores a run with no step;
workers then call :func:`plan_search` (registered as the planner of ``search`` runs)
whenever the run has no open step. Each call reads the finished steps' feedback and
either proposes the next candidates (at most ``workers`` at a time, never more than
``max_trials`` steps in all, none once ``max_minutes`` have passed) or, when the
candidates or the budget are used up, ends the search:

1. the best in-sample candidate is chosen from the finished steps only (most goal
   constraints passed in sample, then the highest Sharpe, then the earliest step);
2. it alone is evaluated once on the sealed holdout;
3. the run finishes ``goal_met`` only if every constraint of the goal holds on the
   holdout, else ``budget_spent`` (trials or minutes ran out) or ``exhausted``.

Feedback: a model whose step failed gets no further variants (the same model on the same
data fails again), and after the first pass (every model at each timeframe's midpoint)
the remaining variants are tried best model first, by that model's best in-sample Sharpe
so far. The order is deterministic for the same feedback.

The run summary (``runs.summary``) holds the leaderboard, N, the run-level DSR (N = every
finished trial toward the goal, this run's included), PBO by CSCV over the matrix of the
run's trials' per-period returns, and the holdout verdict constraint by constraint.
"""

from __future__ import annotations

import logging
import math
from datetime import UTC, date, datetime, timedelta
from typing import TYPE_CHECKING, Any, TypeGuard

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field

from ..errors import InputError, MLTrainerError, NotFound, TrialError
from ..goals import Goal, GoalSystem
from ..models.registry import build_registry
from ..runs.planner import FinishReason, register_planner
from ..trials.overfitting import pbo_cscv, run_dsr
from ..trials.store import TrialStore
from .candidates import Candidate, propose_candidates
from .holdout import (
    DEFAULT_FRACTION,
    DEFAULT_MIN_YEARS,
    evaluate_on_holdout,
    run_seals,
    seal_run,
)

if TYPE_CHECKING:
    from ..app import App
    from ..executor.executor import UnifiedExecutor

__all__ = [
    "SearchConfig",
    "start_search",
    "plan_search",
    "candidate_key",
    "search_summary",
]

log = logging.getLogger(__name__)

_TRIAL_SETTINGS = (
    "source",
    "start",
    "window",
    "window_size",
    "refit_every",
    "commission_bps",
    "slippage_bps",
    "execution_delay",
    "max_folds",
)


class SearchConfig(BaseModel):
    """What a search run searches and its budget (stored in ``runs.config``)."""

    model_config = ConfigDict(extra="forbid")

    symbol: str = "SPX"
    source: str = "bundled"
    max_trials: int = Field(ge=1, le=10_000)
    max_minutes: float = Field(gt=0, le=60 * 24 * 30)
    workers: int = Field(1, ge=1, le=256)
    """Steps proposed per planning round (one per worker keeps them all busy)."""
    max_folds: int | None = Field(None, ge=1)
    start: date | None = None
    window: str = "rolling"
    window_size: int = Field(756, ge=30)
    refit_every: int = Field(63, ge=1)
    per_term: int = Field(3, ge=1, le=50)
    pbo_blocks: int = Field(16, ge=2)
    top_n: int = Field(5, ge=1, le=50)
    """Candidates kept with their equity curves in the summary (for the report)."""


def candidate_key(params: dict[str, Any]) -> str:
    """The candidate a ``train_model`` step runs (see :attr:`Candidate.key`)."""
    return (
        f"{params.get('model_id')}|h{params.get('horizon', 10)}|"
        f"{params.get('feature_set', 'basic')}|{params.get('position_rule', 'sign')}"
    )


def _goals(app: App) -> GoalSystem:
    return GoalSystem(app.engine, app.gateway, app.audit, app.data.lookup_symbol)


# -- starting ---------------------------------------------------------------------------------
def start_search(
    executor: UnifiedExecutor,
    config: SearchConfig,
    *,
    goal_id: str | None = None,
    owner: str = "user",
) -> str:
    """Seal the holdout and store a ``search`` run (no step yet: the planner adds them).

    The goal is ``goal_id`` or the active one and needs at least one constraint (the
    search is judged by it). Returns the run id at once; workers do the rest."""
    app = executor.app
    goals = _goals(app)
    goal = goals.get(goal_id) if goal_id else goals.current()
    if goal is None:
        raise InputError(
            "a search needs a goal; set one first, e.g. "
            "'mltrainer goal set \"momentum on SPX, Sharpe above 1 over 7-12 days\"'"
        )
    if not goal.components.constraints:
        raise InputError(
            f"goal {goal.id} ('{goal.text}') has no measurable constraint (e.g. 'Sharpe "
            "above 1'); a search could never tell whether it is met"
        )
    symbol = app.data.resolve_symbol(config.symbol, config.source)
    config = config.model_copy(update={"symbol": symbol})
    cands = propose_candidates(goal.components, executor.registry, per_term=config.per_term)
    if not cands.candidates:
        raise InputError(f"goal {goal.id} gives no candidate to search: {'; '.join(cands.notes)}")
    run_config = {
        "budget": {"max_trials": config.max_trials, "max_minutes": config.max_minutes},
        "search": config.model_dump(mode="json"),
        "holdout": {"fraction": DEFAULT_FRACTION, "min_years": DEFAULT_MIN_YEARS},
        "notes": cands.notes,
    }
    runs = executor.runs
    # Proposed first: no worker plans it before its holdout is sealed; then approved.
    run_id = runs.create_run(
        "search", [], owner=owner, goal_id=goal.id, config=run_config, approved=False
    )
    try:
        seal_run(app, run_id, symbol, config.source, actor=owner)
    except MLTrainerError as e:
        runs.cancel(run_id, actor=owner)
        raise InputError(f"cannot seal a holdout of {symbol} ({config.source}): {e}") from None
    runs.approve(run_id, actor=owner)
    return run_id


def sealed_from(app: App, run: dict[str, Any]) -> str:
    """ISO timestamp of the first sealed bar of the run's symbol."""
    cfg = _config(run)
    found = run_seals(app, run["id"]).get((cfg.symbol, cfg.source))
    if found is None:
        raise MLTrainerError(f"search run {run['id']} has no sealed holdout of {cfg.symbol}")
    return found


# -- the planner ------------------------------------------------------------------------------
def _config(run: dict[str, Any]) -> SearchConfig:
    return SearchConfig.model_validate(run["config"]["search"])


def _elapsed_minutes(run: dict[str, Any]) -> float:
    t0 = datetime.fromisoformat(run["created_at"])  # the budget runs from the start
    return (datetime.now(UTC) - t0).total_seconds() / 60.0


def in_sample_end(seal: str) -> str:
    """The last day a search trial may read: the day before the first sealed bar."""
    return (datetime.fromisoformat(seal).date() - timedelta(days=1)).isoformat()


def _step_settings(app: App, run: dict[str, Any], cfg: SearchConfig) -> dict[str, Any]:
    settings = {k: v for k, v in cfg.model_dump(mode="json").items() if k in _TRIAL_SETTINGS}
    settings = {k: v for k, v in settings.items() if v is not None}
    settings["end"] = in_sample_end(sealed_from(app, run))
    return settings


def _next_candidates(
    cands: list[Candidate], steps: list[dict[str, Any]], limit: int
) -> list[Candidate]:
    """Untried candidates in search order, adjusted by the feedback (module docstring)."""
    tried = {candidate_key(s["params"]) for s in steps if s["action"] == "train_model"}
    failed_models = {s["params"].get("model_id") for s in steps if s["status"] == "failed"}
    best: dict[str, float] = {}
    for s in steps:
        sharpe = ((s.get("outcome") or {}).get("metrics") or {}).get("sharpe")
        mid = s["params"].get("model_id")
        if s["status"] == "succeeded" and _finite(sharpe):
            best[mid] = max(best.get(mid, -math.inf), float(sharpe))
    first_pass = [c for c in cands if c.level == 0]
    rest = [c for c in cands if c not in first_pass]
    order = {c.key: i for i, c in enumerate(cands)}
    rest.sort(key=lambda c: (-best.get(c.model_id, -math.inf), order[c.key]))
    todo = [
        c for c in [*first_pass, *rest] if c.key not in tried and c.model_id not in failed_models
    ]
    return todo[:limit]


def _finite(x: Any) -> TypeGuard[float]:
    return isinstance(x, int | float) and not isinstance(x, bool) and math.isfinite(x)


def plan_search(app: App, run: dict[str, Any]) -> list[dict[str, Any]] | FinishReason:
    """Next steps of a search run, or its finish reason with the summary."""
    cfg = _config(run)
    steps = run.get("steps", [])
    goal = _goals(app).get(run["goal_id"])
    registry = build_registry()
    cands = propose_candidates(goal.components, registry, per_term=cfg.per_term).candidates
    remaining = cfg.max_trials - len(steps)
    out_of_time = _elapsed_minutes(run) >= cfg.max_minutes
    if remaining > 0 and not out_of_time:
        nxt = _next_candidates(cands, steps, min(cfg.workers, remaining))
        if nxt:
            settings = _step_settings(app, run, cfg)
            return [
                {"action": "train_model", "params": c.trial_params(cfg.symbol, **settings)}
                for c in nxt
            ]
    reason = "budget_spent" if remaining <= 0 or out_of_time else "exhausted"
    summary = search_summary(app, run, goal)
    if summary.get("holdout", {}).get("met"):
        reason = "goal_met"
    summary["finish_reason"] = reason
    error = None
    if not summary["leaderboard"]:
        error = "no trial of the search finished; nothing was evaluated on the holdout"
        if steps and all(s["status"] in ("failed", "refused") for s in steps):
            reason = "failed"
        summary["finish_reason"] = reason
    return FinishReason(reason, summary=summary, error=error)


# -- the summary --------------------------------------------------------------------------------
def _rank_key(row: dict[str, Any]) -> tuple[float, float, int]:
    sharpe = row["sharpe"] if _finite(row["sharpe"]) else -math.inf
    return (-row["constraints_passed"], -sharpe, row["seq"])


def _leaderboard(run: dict[str, Any], goal: Goal) -> list[dict[str, Any]]:
    rows = []
    for s in run.get("steps", []):
        outcome = s.get("outcome") or {}
        metrics = outcome.get("metrics")
        if s["status"] != "succeeded" or not metrics:
            continue
        ev = goal.evaluate(metrics, horizon=s["params"].get("horizon"))
        rows.append(
            {
                "seq": s["seq"],
                "candidate": candidate_key(s["params"]),
                "model_id": s["params"].get("model_id"),
                "params": {
                    k: s["params"].get(k)
                    for k in ("horizon", "feature_set", "position_rule", "params")
                    if s["params"].get(k) is not None
                },
                "trial_id": s.get("trial_id") or outcome.get("trial_id"),
                "sharpe": metrics.get("sharpe"),
                "sharpe_per_period": metrics.get("sharpe_per_period"),
                "dsr": metrics.get("dsr"),
                "max_drawdown": metrics.get("max_drawdown"),
                "cagr": metrics.get("cagr"),
                "constraints_passed": sum(r.passed for r in ev.results),
                "constraints_total": len(ev.results),
                "met_in_sample": ev.met,
            }
        )
    rows.sort(key=_rank_key)
    return rows


def _returns(store: TrialStore, trial_id: str) -> pd.Series:
    equity = store.result(trial_id).equity
    s = pd.Series([e[1] for e in equity], index=pd.Index([e[0] for e in equity]), dtype=float)
    return s.pct_change().dropna()


def _pbo(series: list[pd.Series], n_blocks: int) -> dict[str, Any]:
    if len(series) < 2:
        return {"pbo": None, "reason": f"PBO needs at least 2 trials, the run has {len(series)}"}
    matrix = pd.concat(series, axis=1, join="inner").dropna()
    try:
        res = pbo_cscv(matrix.to_numpy(), n_blocks=n_blocks)
    except TrialError as e:
        return {"pbo": None, "reason": str(e), "rows": len(matrix)}
    return res.summary()


def _goal_sharpes(store: TrialStore, goal_id: str) -> list[float]:
    """Per-period Sharpes of every finished trial toward the goal (N for the run DSR; an
    undefined Sharpe is NaN: it counts toward N, not toward the variance). Holdout trials
    are not search trials and are never counted."""
    out: list[float] = []
    for t in store.list(limit=100_000, goal_id=goal_id):
        if t["status"] == "done" and not str(t.get("study") or "").endswith(":holdout"):
            v = (t.get("metrics") or {}).get("sharpe_per_period")
            out.append(float(v) if _finite(v) else math.nan)
    return out


def search_summary(app: App, run: dict[str, Any], goal: Goal) -> dict[str, Any]:
    """Leaderboard, N, run DSR, PBO and the holdout verdict of a search run."""
    cfg = _config(run)
    board = _leaderboard(run, goal)
    store = TrialStore(app.engine, app.scrub)
    series: list[pd.Series] = []
    curves: dict[str, list[list[Any]]] = {}
    for row in board:
        if row["trial_id"]:
            try:
                r = _returns(store, row["trial_id"])
            except NotFound:
                continue
            series.append(r.rename(row["candidate"]))
            if len(curves) < cfg.top_n:
                curves[row["candidate"]] = [
                    [str(t), float(v)] for t, v in (1 + r).cumprod().items()
                ]
    sharpes = _goal_sharpes(store, run["goal_id"])
    summary: dict[str, Any] = {
        "goal_id": goal.id,
        "goal": goal.text,
        "symbol": cfg.symbol,
        "n_steps": len(run.get("steps", [])),
        "n_trials": len(board),
        "n_trials_goal": len(sharpes),
        "leaderboard": board,
        "pbo": _pbo(series, cfg.pbo_blocks),
        "equity": curves,
        "trial_sharpes": [row["sharpe"] for row in board],
        "holdout": {"evaluated": False},
    }
    if board:
        best = board[0]
        best_returns = series[0].to_numpy() if series else np.array([])
        own = best["sharpe_per_period"]
        d = run_dsr(best_returns, sharpes or [float(own) if _finite(own) else math.nan])
        summary["best"] = best["candidate"]
        summary["run_dsr"] = {
            "dsr": d.dsr if math.isfinite(d.dsr) else None,
            "n_trials": d.n_trials,
            "sharpe_per_period": d.sharpe if math.isfinite(d.sharpe) else None,
            "sr_variance": d.sr_variance,
            "hurdle": d.hurdle,
        }
        summary["holdout"] = _evaluate_holdout(app, run, goal, best)
    return summary


# -- the sealed holdout (research/holdout.py) ---------------------------------------------------
def _evaluate_holdout(
    app: App, run: dict[str, Any], goal: Goal, best: dict[str, Any]
) -> dict[str, Any]:
    """Evaluate the best in-sample candidate, and only it, once on the sealed holdout."""
    store = TrialStore(app.engine, app.scrub)
    try:
        spec = store.result(best["trial_id"]).spec  # exactly what ran in sample
        verdict = evaluate_on_holdout(
            app,
            spec,
            run["id"],
            goal.components.constraints,
            goal_id=goal.id,
            actor=f"planner:{run['kind']}",
        )
    except MLTrainerError as e:
        return {"evaluated": False, "candidate": best["candidate"], "reason": str(e), "met": False}
    step = next((s for s in run["steps"] if s["seq"] == best["seq"]), None)
    in_sample: dict[str, Any] = ((step or {}).get("outcome") or {}).get("metrics") or {}
    constraints = [{**r, "in_sample": in_sample.get(r["metric"])} for r in verdict.results]
    try:
        curve = _returns(store, verdict.trial_id)
        equity = [[str(t), float(v)] for t, v in (1 + curve).cumprod().items()]
    except NotFound:
        equity = []
    return {
        "evaluated": True,
        "candidate": best["candidate"],
        "in_sample_trial_id": best["trial_id"],
        "trial_id": verdict.trial_id,
        "met": verdict.met,
        "reason": verdict.reason,
        "sealed_from": verdict.sealed_from,
        "period": f"from {verdict.sealed_from[:10]}, {verdict.n_bars} bars",
        "constraints": constraints,
        "metrics": verdict.metrics,
        "equity": equity,
    }


register_planner("search", plan_search)
