"""The unified executor: one place that runs actions for the CLI, the API and the agent.

Every registry model is an action ``train_model_<id>`` and every financial model an
action ``run_financial_<id>``, next to the compact actions (``train_model``,
``start_trial``, ``compare_models``, ``run_financial``, ``list_models``, ``list_symbols``,
``trial_status``, ``data_summary``). ``execute`` validates parameters with the action's
pydantic model and the compliance gateway, runs it, and returns
``{"success", "data", "error", "action"}``; failures are explicit, never a plausible
number. Long trials can run in the background (``start_trial``) on a worker thread.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from functools import cached_property
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ValidationError

from ..errors import MLTrainerError, NotFound
from ..trials.counting import sharpe_probability_label
from ..trials.engine import WalkForwardEngine
from ..trials.runner import TrialRunner
from ..trials.spec import TrialSpec
from ..trials.store import TrialStore
from .actions import (
    Action,
    ActionRegistry,
    CancelRunParams,
    CompareModelsParams,
    DataSummaryParams,
    ListModelsParams,
    ListSymbolsParams,
    ListTrialsParams,
    RunFinancialParams,
    RunStatusParams,
    StartResearchParams,
    TrainModelParams,
    TrialStatusParams,
    TuneModelParams,
)

if TYPE_CHECKING:
    from ..app import App
    from ..models.registry import Registry

__all__ = ["UnifiedExecutor"]

log = logging.getLogger(__name__)

_SPEC_FIELDS = set(TrialSpec.model_fields)


def _deflation(n_trials: int) -> dict[str, Any]:
    """N beside every DSR: how many trials it was deflated over and what to call it."""
    return {"n_trials": n_trials, "dsr_label": sharpe_probability_label(n_trials)}


def _error_text(e: Exception) -> str:
    if isinstance(e, ValidationError):
        parts = [
            f"{'.'.join(map(str, err['loc'])) or 'params'}: {err['msg']}" for err in e.errors()
        ]
        return "invalid parameters: " + "; ".join(parts)
    return str(e)


class UnifiedExecutor:
    def __init__(self, app: App, registry: Registry | None = None, workers: int = 1):
        from ..models.registry import build_registry

        self.app = app
        self.registry = registry or build_registry()
        self.store = TrialStore(
            app.engine,
            app.scrub,
            lease_s=app.settings.trial_lease_s,
            heartbeat_s=app.settings.trial_heartbeat_s,
        )
        self.engine = WalkForwardEngine(
            self.registry, self._fetch, fold_jobs=app.settings.fold_jobs
        )
        self.runner = TrialRunner(
            self.engine, self.store, app.audit, tracking_uri=app.settings.mlflow_tracking_uri
        )
        self.actions = ActionRegistry()
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="mlt-trial")
        self._jobs: dict[str, Future] = {}
        self._lock = threading.Lock()
        self.on_fold: Callable[[int, int], None] | None = None
        """Progress callback for trials started by actions (the chat shows a progress bar)."""
        self.goal_id: str | None = None
        """The goal in force; a trial run under it is deflated over the goal's trials (DSR)."""
        self._register_builtin()

    # -- data access for the engine (compliance checked by the data service) ------------
    def _fetch(self, symbol, source="bundled", start=None, end=None, interval=None):
        return self.app.data.fetch(
            symbol, source=source, start=start, end=end, interval=interval, actor="executor"
        )

    @cached_property
    def financial(self):
        from .. import financial

        return financial

    # -- registry -------------------------------------------------------------------------
    def _register_builtin(self) -> None:
        reg = self.actions.register
        reg(
            Action(
                "train_model",
                "Run a walk-forward trial of a registry model on one symbol and return its metrics.",
                TrainModelParams,
                self._train,
            )
        )
        reg(
            Action(
                "start_trial",
                "Start a walk-forward trial in the background; returns the trial id at once.",
                TrainModelParams,
                self._start,
            )
        )
        reg(
            Action(
                "compare_models",
                "Run the same walk-forward trial for several models and rank them by Sharpe.",
                CompareModelsParams,
                self._compare,
            )
        )
        reg(
            Action(
                "run_financial",
                "Run a financial model (pricing, portfolio, risk).",
                RunFinancialParams,
                self._financial,
            )
        )
        reg(
            Action(
                "list_models",
                "List registry models, optionally by family or task.",
                ListModelsParams,
                self.list_models,
            )
        )
        reg(
            Action(
                "list_symbols",
                "List the symbols available offline.",
                ListSymbolsParams,
                self._list_symbols,
            )
        )
        reg(
            Action(
                "trial_status", "Status and metrics of a trial.", TrialStatusParams, self._status
            )
        )
        reg(
            Action(
                "list_trials",
                "Recent trials, newest first, optionally of one model or symbol.",
                ListTrialsParams,
                self._list_trials,
            )
        )
        reg(
            Action(
                "data_summary",
                "Summary and provenance of one symbol's data.",
                DataSummaryParams,
                self._data_summary,
            )
        )
        reg(
            Action(
                "tune_model",
                "Tune one registry model's hyper-parameters on one symbol with Optuna (TPE); "
                "every Optuna trial is a stored walk-forward trial counted toward the DSR.",
                TuneModelParams,
                self._tune,
            )
        )
        reg(
            Action(
                "run_status",
                "Status of a background run (or the latest runs): steps done, progress, results.",
                RunStatusParams,
                self._run_status,
            )
        )
        reg(
            Action(
                "start_research",
                "Start a goal-driven search in the background (candidates from the goal, a "
                "sealed holdout judged once at the end); returns the run id at once.",
                StartResearchParams,
                self._start_research,
            )
        )
        reg(
            Action(
                "cancel_run",
                "Cancel a background run; a running step stops at its next fold.",
                CancelRunParams,
                self._cancel_run,
            )
        )
        for spec in self.registry:
            reg(
                Action(
                    f"train_model_{spec.id}",
                    f"Train {spec.id}: {spec.description}",
                    TrainModelParams,
                    self._train,
                    fixed={"model_id": spec.id},
                )
            )
        for fid, fspec in self.financial.FINANCIAL.items():
            reg(
                Action(
                    f"run_financial_{fid}",
                    fspec.description,
                    RunFinancialParams,
                    self._financial,
                    fixed={"model_id": fid},
                )
            )

    def register(self, action: Action) -> None:
        """Add an action from a higher layer (the agent adds goal and memory actions)."""
        self.actions.register(action)

    def list_actions(self) -> list[str]:
        return self.actions.names()

    # -- the door ---------------------------------------------------------------------------
    def execute(
        self, name: str, params: dict[str, Any] | None = None, actor: str = "system"
    ) -> dict[str, Any]:
        params = dict(params or {})
        action = self.actions.get(name)
        if action is None:
            import difflib

            close = difflib.get_close_matches(name, self.actions.names(), n=3)
            hint = f"; did you mean {', '.join(close)}?" if close else ""
            return self._fail(name, f"unknown action '{name}'{hint}", actor)
        if action.fixed:
            params.update(action.fixed)
        try:
            self.app.gateway.require_params(params, actor=actor)
            model = action.params.model_validate(params)
            data = action.handler(model)
        except (MLTrainerError, ValidationError) as e:
            return self._fail(name, _error_text(e), actor)
        self.app.audit.append(
            "action", {"action": name, "params": params, "success": True}, actor=actor
        )
        return {"success": True, "action": name, "data": data, "error": None}

    def _fail(self, name: str, error: str, actor: str) -> dict[str, Any]:
        error = self.app.scrub.text(error)  # goes to the agent, memory and the UI
        self.app.audit.append(
            "action", {"action": name, "success": False, "error": error}, actor=actor
        )
        return {"success": False, "action": name, "data": None, "error": error}

    def execute_model_training(
        self, model_id: str, symbol: str, data_source: str = "bundled", **params: Any
    ) -> dict[str, Any]:
        """Train ``model_id`` on ``symbol``: ``{"success", "data", "model_id", "error"}``.

        Keyword arguments that are trial settings (``horizon``, ``start``...) go to the
        trial; names of the model's own parameters go to the model; anything else is an
        error naming the valid choices.
        """
        try:
            spec = self.registry.get(model_id)
            trial: dict[str, Any] = {"model_id": model_id, "symbol": symbol, "source": data_source}
            model_params = dict(params.pop("params", {}) or {})
            for k, v in params.items():
                if k in TrainModelParams.model_fields:
                    trial[k] = v
                elif k in spec.defaults:
                    model_params[k] = v
                else:
                    spec.params({k: v})  # raises ModelError naming valid parameters
            trial["params"] = model_params
        except MLTrainerError as e:
            out = self._fail(f"train_model_{model_id}", str(e), "api")
            return {"success": False, "data": None, "model_id": model_id, "error": out["error"]}
        res = self.execute("train_model", trial, actor="api")
        return {
            "success": res["success"],
            "data": res["data"],
            "model_id": model_id,
            "error": res["error"],
        }

    # -- handlers ---------------------------------------------------------------------------
    def _spec(self, p: BaseModel, model_id: str, params: dict[str, Any] | None = None) -> TrialSpec:
        fields = {
            k: v
            for k, v in p.model_dump().items()
            if k in _SPEC_FIELDS and k not in ("model_id", "params")
        }
        fields["symbol"] = self.app.data.resolve_symbol(
            fields["symbol"], fields.get("source", "bundled")
        )
        return TrialSpec(model_id=model_id, params=params or {}, **fields)

    def _summary(self, trial_id: str, result) -> dict[str, Any]:
        return {
            "trial_id": trial_id,
            "model_id": result.spec.model_id,
            "symbol": result.spec.symbol,
            "horizon": result.spec.horizon,
            "window": f"{result.spec.window} {result.spec.window_size} bars",
            "refit_every": result.spec.refit_every,
            "execution_delay": result.spec.execution_delay,
            "periods_per_year": result.periods_per_year,
            "frequency": result.frequency,
            "period": f"{result.equity[0][0][:10]}..{result.equity[-1][0][:10]}"
            if result.equity
            else None,
            "metrics": result.metrics,
            **_deflation(result.n_trials),
            "benchmark": result.benchmark,
            "folds": len(result.folds),
            "data_sha256": result.data_sha256,
            "spec_hash": result.spec_hash,
            "seconds": round(result.timings["total_s"], 3),
        }

    def run_trial(
        self, spec: TrialSpec, on_fold=None, study: str | None = None, actor: str = "system"
    ):
        """Create, run and store a trial; returns ``(trial_id, TrialResult)``."""
        return self.runner.run(
            spec, goal_id=self.goal_id, study=study, on_fold=on_fold or self.on_fold, actor=actor
        )

    def _list_trials(self, p: ListTrialsParams) -> dict[str, Any]:
        rows = self.store.list(limit=p.limit, model_id=p.model_id, symbol=p.symbol)
        return {"trials": rows, "count": len(rows)}

    def _train(self, p: TrainModelParams) -> dict[str, Any]:
        self.registry.get(p.model_id)
        tid, result = self.run_trial(self._spec(p, p.model_id, p.params))
        return self._summary(tid, result)

    def _start(self, p: TrainModelParams) -> dict[str, Any]:
        self.registry.get(p.model_id)
        spec = self._spec(p, p.model_id, p.params)
        goal_id = self.goal_id
        tid = self.runner.create(spec, goal_id=goal_id)

        def work() -> None:
            try:
                self.runner.execute(tid, spec, goal_id=goal_id)
            except Exception:  # stored as failed by the runner; keep the worker alive
                log.exception("background trial %s failed", tid)

        with self._lock:
            self._jobs[tid] = self._pool.submit(work)
        return {"trial_id": tid, "status": "queued"}

    def wait(self, trial_id: str, timeout: float | None = None) -> dict[str, Any]:
        """Block until a background trial ends; returns its status."""
        fut = self._jobs.get(trial_id)
        if fut is not None:
            fut.result(timeout=timeout)
        return self._status(TrialStatusParams(trial_id=trial_id))

    def _compare(self, p: CompareModelsParams) -> dict[str, Any]:
        rows, errors = [], {}
        for mid in dict.fromkeys(p.model_ids):
            try:
                self.registry.get(mid)
                tid, res = self.run_trial(self._spec(p, mid))
                rows.append(self._summary(tid, res))
            except MLTrainerError as e:
                errors[mid] = str(e)
        if not rows:
            raise NotFound(
                "no model could be run: " + "; ".join(f"{k}: {v}" for k, v in errors.items())
            )
        rows.sort(
            key=lambda r: (
                -(
                    r["metrics"].get("sharpe")
                    if r["metrics"].get("sharpe") is not None
                    else float("-inf")
                )
            )
        )
        return {"ranking": rows, "errors": errors, "best": rows[0]["model_id"]}

    def _tune(self, p: TuneModelParams) -> dict[str, Any]:
        from ..research.tuning import tune  # loads optuna only when tuning

        self.registry.get(p.model_id)
        spec = self._spec(p, p.model_id, p.params)
        return tune(self, spec, p.n_trials, study=p.study, metric=p.metric).to_dict()

    def _financial(self, p: RunFinancialParams) -> dict[str, Any]:
        return {
            "model_id": p.model_id,
            "result": self.financial.run_financial(p.model_id, self._fin_fetch, **p.params),
        }

    def _fin_fetch(self, symbol: str, start=None, end=None):
        return self._fetch(symbol, start=start, end=end)

    def list_models(self, p: ListModelsParams) -> dict[str, Any]:
        """Registry and financial models matching ``p`` (the ``list_models`` action; the API's
        ``GET /models`` calls it directly so both answer alike)."""
        specs = self.registry.filter(family=p.family, task=p.task)
        models = [
            {
                "id": s.id,
                "family": s.family,
                "task": s.task,
                "description": s.description,
                "available": s.available,
            }
            for s in specs
        ]
        fin = [
            {
                "id": fid,
                "family": f.category,
                "task": f.task,
                "description": f.description,
                "available": True,
            }
            for fid, f in self.financial.FINANCIAL.items()
            if (p.task is None or f.task == p.task) and (p.family is None or f.category == p.family)
        ]
        return {"models": models + fin, "count": len(models) + len(fin)}

    def _list_symbols(self, p: ListSymbolsParams) -> dict[str, Any]:
        entries = [
            e.to_dict() for e in self.app.data.catalogue() if p.kind is None or e.kind == p.kind
        ]
        return {"symbols": entries, "count": len(entries)}

    def _status(self, p: TrialStatusParams) -> dict[str, Any]:
        d = self.store.get(p.trial_id)
        res = d.pop("result", None) or {}
        d.pop("spec", None)
        d["metrics"] = res.get("metrics")
        if res:
            d.update(_deflation(int(res.get("n_trials", 1))))
        d["benchmark"] = res.get("benchmark")
        return d

    @cached_property
    def runs(self):
        """The run store, checking steps against this executor's actions."""
        from ..runs.store import RunStore

        return RunStore.for_executor(self)

    def _run_status(self, p: RunStatusParams) -> dict[str, Any]:
        from ..runs.store import brief_run

        if p.run_id is None:
            return {"runs": self.runs.list(limit=5)}
        return brief_run(self.runs.get(p.run_id))

    def _start_research(self, p: StartResearchParams) -> dict[str, Any]:
        return self.start_research(p, owner="agent")

    def start_research(self, p: StartResearchParams, owner: str) -> dict[str, Any]:
        """Queue a goal-driven search (the tool and ``POST /research``); returns the run id,
        budget and the sealed holdout's first date."""
        from ..research.search import SearchConfig, in_sample_end, sealed_from, start_search

        cfg = SearchConfig(**p.model_dump(exclude={"goal_id"}))
        run_id = start_search(self, cfg, goal_id=p.goal_id or self.goal_id, owner=owner)
        run = self.runs.get(run_id)
        seal = sealed_from(self.app, run)
        return {
            "run_id": run_id,
            "status": run["status"],
            "goal_id": run["goal_id"],
            "symbol": run["config"]["search"]["symbol"],
            "budget": run["config"]["budget"],
            "holdout": {"sealed_from": seal[:10], "in_sample_end": in_sample_end(seal)},
        }

    def _cancel_run(self, p: CancelRunParams) -> dict[str, Any]:
        from ..runs.store import brief_run

        self.runs.cancel(p.run_id, actor="agent")
        return brief_run(self.runs.get(p.run_id))

    def _data_summary(self, p: DataSummaryParams) -> dict[str, Any]:
        md = self.app.data.fetch(
            p.symbol, source=p.source, start=p.start, end=p.end, actor="executor"
        )
        return md.summary()

    def shutdown(self) -> None:
        self._pool.shutdown(wait=True)
