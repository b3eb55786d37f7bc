"""The goal-driven search: a ``search`` run whose steps its planner adds as it goes.

:func:`start_search` seals the holdout of the run's symbol and stores a run with no step;
workers then call :func:`plan_search` (registered as the planner of ``search`` runs)
whenever the run has no open step. Each call reads the finished steps' feedback and
either proposes the next steps (at most ``workers`` at a time, never more than
``max_trials`` walk-forward trials in all, none once ``max_minutes`` have passed) or,
when the candidates or the budget are used up, ends the search:

1. the best in-sample candidate is chosen from the finished trials only (most goal
   constraints passed in sample, then the highest Sharpe, then the earliest trial), each
   candidate by its best tuned trial;
2. it alone, with its tuned parameters, is evaluated once on the sealed holdout;
3. the run finishes ``goal_met`` only if every constraint of the goal holds on the
   holdout, else ``budget_spent`` (trials or minutes ran out) or ``exhausted``.

Tuning: a candidate whose model has a search space gets up to ``tune_trials`` Optuna
trials (never more than the points in its space), as ``tune_model`` steps of ONE Optuna
trial each, all in one study named after the run and the candidate
(:func:`study_name`), so steps of one study run on any worker of any machine and TPE
reads every trial the study has. The study's first trial is the registry defaults
(research/tuning.py). Candidates without a search space are ``train_model`` steps. Each
step's walk-forward trials count toward ``max_trials`` when it is proposed.

Feedback: a model whose candidate's first trial failed gets no further variants (the same
model on the same data fails again). First every candidate gets its first trial: the first
pass (every model at each timeframe's midpoint), then the remaining variants best model
first, by that model's best in-sample Sharpe so far. Then the tuning trials, the candidate
with the best in-sample Sharpe so far first. The order is deterministic for the same
feedback.

The run summary (``runs.summary``) holds the leaderboard (one row per candidate: its best
tuned trial, with its DSR over the run's N and Sharpe variance, and ``dsr_at_trial``, the
DSR the trial got when it finished), N (every trial the run ran, each tuned trial
included), the run-level DSR (the best row's: N = every finished trial toward the goal,
this run's included), PBO by CSCV over the
matrix of every run trial's per-period returns, and the holdout verdict constraint by
constraint.
"""

from __future__ import annotations

import hashlib
import logging
import math
from collections import Counter
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from typing import TYPE_CHECKING, Any, TypeGuard

import pandas as pd
from pydantic import BaseModel, ConfigDict, Field

from ..errors import InputError, MLTrainerError, NotFound, TrialError
from ..goals import Goal, GoalSystem
from ..models.registry import Registry, build_registry
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
    "study_name",
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
_STUDY_MAX = 80
"""Length of the trials table's ``study`` column."""


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
    tune_trials: int = Field(8, ge=1, le=500)
    """Optuna trials per candidate whose model has a search space (at most the points in
    the space); 1 runs every candidate once at its registry defaults."""


def study_name(run_id: str, key: str) -> str:
    """The Optuna study of one candidate of one run: ``<run id>:<candidate key>`` (a hash
    of the key when that is longer than the trials table's study column)."""
    name = f"{run_id}:{key}"
    if len(name) <= _STUDY_MAX:
        return name
    return f"{run_id}:{hashlib.sha256(key.encode()).hexdigest()[:20]}"


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


def _allotment(registry: Registry, cfg: SearchConfig, model_id: str) -> int:
    """Trials a candidate of ``model_id`` gets: 1, or up to ``tune_trials`` when tuned."""
    space = registry.get(model_id).search_space
    points = math.prod(len(v) for v in space.values()) if space else 1
    return min(cfg.tune_trials, points)


def _step_trials(step: dict[str, Any]) -> int:
    """Walk-forward trials a step runs at most (what the trial budget counts)."""
    if step["action"] == "tune_model":
        return int(step["params"].get("n_trials", 1))
    return 1


def _step_sharpes(step: dict[str, Any]) -> list[float]:
    """In-sample Sharpes of a finished step's completed trials."""
    if step["status"] != "succeeded":
        return []
    outcome = step.get("outcome") or {}
    if step["action"] == "tune_model":
        trials = (outcome.get("result") or {}).get("trials") or []
        values = [t.get("value") for t in trials if t.get("state") == "COMPLETE"]
    else:
        values = [(outcome.get("metrics") or {}).get("sharpe")]
    return [float(v) for v in values if _finite(v)]


def _step_failed(step: dict[str, Any]) -> bool:
    """The step ran no trial to its end (a tune step whose every trial failed included)."""
    if step["status"] == "failed":
        return True
    if step["status"] == "succeeded" and step["action"] == "tune_model":
        result = (step.get("outcome") or {}).get("result") or {}
        return not result.get("n_complete")
    return False


def _next_candidates(
    cands: list[Candidate],
    steps: list[dict[str, Any]],
    limit: int,
    allot: Callable[[Candidate], int],
) -> list[Candidate]:
    """The candidates of the next ``limit`` trials in search order, adjusted by the
    feedback (module docstring); a candidate appears once per tuning trial."""
    planned: Counter[str] = Counter()
    first: dict[str, dict[str, Any]] = {}
    best_model: dict[str, float] = {}
    best_key: dict[str, float] = {}
    for s in sorted(steps, key=lambda s: s["seq"]):
        key, mid = candidate_key(s["params"]), s["params"].get("model_id")
        planned[key] += _step_trials(s)
        first.setdefault(key, s)
        for sharpe in _step_sharpes(s):
            best_model[mid] = max(best_model.get(mid, -math.inf), sharpe)
            best_key[key] = max(best_key.get(key, -math.inf), sharpe)
    failed_models = {s["params"].get("model_id") for s in first.values() if _step_failed(s)}
    live = [c for c in cands if c.model_id not in failed_models]
    order = {c.key: i for i, c in enumerate(cands)}
    first_pass = [c for c in live if c.level == 0]
    rest = [c for c in live if c.level != 0]
    rest.sort(key=lambda c: (-best_model.get(c.model_id, -math.inf), order[c.key]))
    out = [c for c in [*first_pass, *rest] if not planned[c.key]][:limit]
    tuning = [c for c in live if 0 < planned[c.key] < allot(c)]
    tuning.sort(key=lambda c: (-best_key.get(c.key, -math.inf), order[c.key]))
    for c in tuning:
        out += [c] * min(allot(c) - planned[c.key], limit - len(out))
    return out[:limit]


def _step(
    run_id: str, c: Candidate, symbol: str, settings: dict[str, Any], trials: int
) -> dict[str, Any]:
    """A ``tune_model`` step of one Optuna trial in the candidate's study, or a
    ``train_model`` step when the candidate is not tuned."""
    params = c.trial_params(symbol, **settings)
    if trials <= 1:
        return {"action": "train_model", "params": params}
    study = study_name(run_id, c.key)
    return {"action": "tune_model", "params": {**params, "n_trials": 1, "study": study}}


def _finite(x: Any) -> TypeGuard[float]:
    return isinstance(x, int | float) and not isinstance(x, bool) and math.isfinite(x)


def plan_search(app: App, run: dict[str, Any]) -> list[dict[str, Any]] | FinishReason:
    """Next steps of a search run, or its finish reason with the summary."""
    cfg = _config(run)
    steps = run.get("steps", [])
    goal = _goals(app).get(run["goal_id"])
    registry = build_registry()
    cands = propose_candidates(goal.components, registry, per_term=cfg.per_term).candidates
    remaining = cfg.max_trials - sum(_step_trials(s) for s in steps)
    out_of_time = _elapsed_minutes(run) >= cfg.max_minutes
    if remaining > 0 and not out_of_time:

        def allot(c: Candidate) -> int:
            return _allotment(registry, cfg, c.model_id)

        nxt = _next_candidates(cands, steps, min(cfg.workers, remaining), allot)
        if nxt:
            settings = _step_settings(app, run, cfg)
            return [_step(run["id"], c, cfg.symbol, settings, allot(c)) for c in nxt]
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
def _rank_key(row: dict[str, Any]) -> tuple[float, float, int, int]:
    sharpe = row["sharpe"] if _finite(row["sharpe"]) else -math.inf
    return (-row["constraints_passed"], -sharpe, row["seq"], row["order"])


def _run_trials(run: dict[str, Any]) -> list[dict[str, Any]]:
    """Every walk-forward trial the run's finished steps completed, in step order: the
    trial of a ``train_model`` step, every completed Optuna trial of a ``tune_model``
    step (with the parameters it tuned)."""
    out: list[dict[str, Any]] = []
    for s in sorted(run.get("steps", []), key=lambda s: s["seq"]):
        outcome = s.get("outcome") or {}
        if s["status"] != "succeeded":
            continue
        base = {"seq": s["seq"], "step_params": s["params"]}
        if s["action"] == "tune_model":
            result = outcome.get("result") or {}
            for t in result.get("trials") or []:
                if t.get("state") == "COMPLETE" and t.get("trial_id"):
                    tuned = t.get("params") or {}
                    study = result.get("study")
                    out.append({**base, "trial_id": t["trial_id"], "tuned": tuned, "study": study})
        elif outcome.get("metrics"):
            tid = s.get("trial_id") or outcome.get("trial_id")
            if tid:
                out.append({**base, "trial_id": tid, "tuned": {}, "study": None})
    return out


def _trial_row(
    entry: dict[str, Any], order: int, metrics: dict[str, Any], goal: Goal
) -> dict[str, Any]:
    params = entry["step_params"]
    ev = goal.evaluate(metrics, horizon=params.get("horizon"))
    model_params = {**(params.get("params") or {}), **entry["tuned"]}
    shown = {k: params.get(k) for k in ("horizon", "feature_set", "position_rule")}
    return {
        "seq": entry["seq"],
        "order": order,
        "candidate": candidate_key(params),
        "model_id": params.get("model_id"),
        "params": {
            **{k: v for k, v in shown.items() if v is not None},
            **({"params": model_params} if model_params else {}),
        },
        "tuned_params": entry["tuned"] if entry["study"] else None,
        "study": entry["study"],
        "trial_id": entry["trial_id"],
        "sharpe": metrics.get("sharpe"),
        "sharpe_per_period": metrics.get("sharpe_per_period"),
        "dsr": metrics.get("dsr"),
        "max_drawdown": metrics.get("max_drawdown"),
        "cagr": metrics.get("cagr"),
        "constraints_passed": sum(r.passed for r in ev.results),
        "constraints_total": len(ev.results),
        "met_in_sample": ev.met,
    }


def _leaderboard(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One row per candidate, its best trial (by the run's ranking), ranked."""
    by_candidate: dict[str, list[dict[str, Any]]] = {}
    for row in rows:
        by_candidate.setdefault(row["candidate"], []).append(row)
    board = []
    for trials in by_candidate.values():
        best = min(trials, key=_rank_key)
        board.append({**best, "n_trials": len(trials)})
    board.sort(key=_rank_key)
    return board


def _equity_returns(equity: list[Any]) -> pd.Series:
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
    store = TrialStore(app.engine, app.scrub)
    rows: list[dict[str, Any]] = []
    returns: dict[str, pd.Series] = {}
    for entry in _run_trials(run):
        try:
            result = store.result(entry["trial_id"])
        except NotFound:
            continue
        rows.append(_trial_row(entry, len(rows), result.metrics, goal))
        returns[entry["trial_id"]] = _equity_returns(result.equity).rename(entry["trial_id"])
    board = _leaderboard(rows)
    series = list(returns.values())  # every trial of the run: PBO's matrix
    curves: dict[str, list[list[Any]]] = {}
    for row in board[: cfg.top_n]:
        r = returns[row["trial_id"]]
        curves[row["candidate"]] = [[str(t), float(v)] for t, v in (1 + r).cumprod().items()]
    sharpes = _goal_sharpes(store, run["goal_id"])
    summary: dict[str, Any] = {
        "goal_id": goal.id,
        "goal": goal.text,
        "symbol": cfg.symbol,
        "n_steps": len(run.get("steps", [])),
        "n_trials": len(rows),
        "n_candidates": len(board),
        "n_trials_goal": len(sharpes),
        "leaderboard": board,
        "pbo": _pbo(series, cfg.pbo_blocks),
        "equity": curves,
        "trial_sharpes": [row["sharpe"] for row in rows],
        "holdout": {"evaluated": False},
    }
    # Every row deflated by the same N and Sharpe variance, so the column compares
    # candidates and its first row is the run DSR; a trial's own DSR counted only the
    # trials finished before it (N = 1 for the first one).
    deflated = [
        run_dsr(
            returns[row["trial_id"]].to_numpy(),
            sharpes or [float(own) if _finite(own := row["sharpe_per_period"]) else math.nan],
        )
        for row in board
    ]
    for row, d in zip(board, deflated, strict=True):
        row["dsr_at_trial"], row["dsr"] = row["dsr"], d.dsr if math.isfinite(d.dsr) else None
    if board:
        best, d = board[0], deflated[0]
        summary["best"] = best["candidate"]
        summary["run_dsr"] = {
            "dsr": best["dsr"],
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
    """Evaluate the best in-sample candidate, and only it, once on the sealed holdout,
    with the parameters of its best tuned trial."""
    store = TrialStore(app.engine, app.scrub)
    try:
        chosen = store.result(best["trial_id"])
        spec = chosen.spec  # exactly what ran in sample, tuned parameters included
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
    in_sample = chosen.metrics
    constraints = [{**r, "in_sample": in_sample.get(r["metric"])} for r in verdict.results]
    try:
        curve = _equity_returns(store.result(verdict.trial_id).equity)
        equity = [[str(t), float(v)] for t, v in (1 + curve).cumprod().items()]
    except NotFound:
        equity = []
    return {
        "evaluated": True,
        "candidate": best["candidate"],
        "params": spec.params,
        "tuned_params": best.get("tuned_params"),
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
