"""Hyper-parameter tuning with Optuna: every Optuna trial is a real walk-forward trial.

TPE (seeded with the spec's ``seed``) searches the registry model's ``search_space`` (each
key a categorical choice among its listed values). Each Optuna trial creates, runs and
stores a trial in mlTrainer's ``trials`` table under the study's name, so the study's
trials are counted for the DSR of every later one (``TrialStore.counted_trials`` scoped
by study); a trial that fails is stored as failed and marked FAIL in the study, never
dropped. The mlTrainer trial id is kept as the Optuna trial's user attribute ``trial_id``.

A new study's first trial is the registry defaults (those inside the search space), so a
tuned model is never judged only on points worse than the untuned one. A study is resumed
by calling again with its name (one Optuna trial per call is how a search shares a study
between workers): the sampler is seeded with ``seed`` plus the study's trial count, so a
resumed study goes on to new points instead of re-drawing its first ones, and with
``constant_liar`` so that workers tuning one study at once spread out. A draw that repeats
a point the study already tried is not run while untried points are left (it is kept in
the study as PRUNED, and the grid's first untried point runs instead).

Storage: Optuna's RDB storage on the app's own database server, so workers on several
machines share a study. Optuna's table names (``trials``, ``alembic_version``...) collide
with mlTrainer's, so the study tables live beside them, not among them: on PostgreSQL in
the schema ``optuna`` of the same database (``search_path``), on SQLite in the file
``<database>.optuna`` next to the app's database file.
"""

from __future__ import annotations

import itertools
import logging
import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from sqlalchemy import text
from sqlalchemy.engine import make_url

from ..errors import ConfigError, MLTrainerError, NotFound, TrialError
from ..trials.spec import TrialSpec

if TYPE_CHECKING:
    import optuna

    from ..app import App
    from ..executor.executor import UnifiedExecutor

__all__ = ["TuneResult", "optuna_storage", "tune", "default_study_name", "PG_SCHEMA"]

log = logging.getLogger(__name__)

PG_SCHEMA = "optuna"
_PRIMITIVE = (type(None), bool, int, float, str)


def optuna_storage(app: App) -> optuna.storages.RDBStorage:
    """Optuna's RDB storage beside the app's tables (see the module docstring)."""
    import optuna

    url = make_url(app.settings.db_url)
    backend = url.get_backend_name()
    kwargs: dict[str, Any] = {}
    if backend == "sqlite":
        db = url.database
        target = url.set(database=f"{db}.optuna") if db and db != ":memory:" else url
        storage_url = target.render_as_string(hide_password=False)
    elif backend == "postgresql":
        with app.engine.begin() as conn:
            conn.execute(text(f'CREATE SCHEMA IF NOT EXISTS "{PG_SCHEMA}"'))
        storage_url = url.render_as_string(hide_password=False)
        kwargs = {"connect_args": {"options": f"-csearch_path={PG_SCHEMA}"}}
    else:
        raise ConfigError(
            f"Optuna studies are stored on SQLite or PostgreSQL; the database is {backend}"
        )
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    return optuna.storages.RDBStorage(storage_url, engine_kwargs=kwargs)


def default_study_name(spec: TrialSpec) -> str:
    """``tune_<model>_<symbol>_h<horizon>_<spec hash>``: the same tuning question resumes
    the same study."""
    return f"tune_{spec.model_id}_{spec.symbol}_h{spec.horizon}_{spec.spec_hash()[:10]}"


@dataclass
class TuneResult:
    study: str
    model_id: str
    metric: str
    trials: list[dict[str, Any]] = field(default_factory=list)
    """Every Optuna trial of this call: number, trial_id, state, params, value, error."""
    best: dict[str, Any] | None = None
    """The best completed trial of the whole study (None if none completed)."""
    call_best: dict[str, Any] | None = None
    """The best completed trial of this call (trial_id, params, value, metrics)."""

    def to_dict(self) -> dict[str, Any]:
        done = [t for t in self.trials if t["state"] == "COMPLETE"]
        mine = self.call_best or (self.trials[-1] if self.trials else {})
        return {
            # The step's trial (a run step records it): this call's best, else its last.
            "trial_id": mine.get("trial_id"),
            **({"metrics": self.call_best["metrics"]} if self.call_best else {}),
            "trial_ids": [t["trial_id"] for t in self.trials],
            "study": self.study,
            "model_id": self.model_id,
            "metric": self.metric,
            "n_trials": len(self.trials),
            "n_complete": len(done),
            "n_failed": sum(t["state"] == "FAIL" for t in self.trials),
            "best": self.best,
            "trials": self.trials,
        }


def _encode(choices: tuple[Any, ...]) -> tuple[list[Any], dict[Any, Any]]:
    """Choices Optuna can store (None, bool, int, float, str) as they are; others (tuples
    such as layer sizes) by their repr, mapped back before the model sees them."""
    if all(isinstance(c, _PRIMITIVE) for c in choices):
        return list(choices), {c: c for c in choices}
    keys = [repr(c) for c in choices]
    return keys, dict(zip(keys, choices, strict=True))


def _defaults(
    params: dict[str, Any], space: dict[str, tuple[list[Any], dict[Any, Any]]]
) -> dict[str, Any]:
    """The model's default (or fixed) values of the tuned keys, as Optuna stores them;
    keys whose default is not among the choices are left to the sampler."""
    out: dict[str, Any] = {}
    for k, (keys, decode) in space.items():
        hit = [key for key in keys if decode[key] == params.get(k)]
        if hit:
            out[k] = hit[0]
    return out


def _point(params: dict[str, Any]) -> tuple[tuple[str, Any], ...]:
    return tuple(sorted(params.items()))


def _ask_new_point(st: optuna.Study, space: dict[str, list[Any]]) -> optuna.Trial:
    """The sampler's next trial, unless it repeats a point the study has tried (finished,
    failed or running elsewhere) while untried points are left: then that draw is marked
    PRUNED (``duplicate_of``; no walk-forward trial runs) and the first untried point of
    the grid is run instead. A small categorical space is so never re-run at random."""
    import optuna

    dists: dict[str, optuna.distributions.BaseDistribution] = {
        k: optuna.distributions.CategoricalDistribution(v) for k, v in space.items()
    }
    trial = st.ask(dists)
    tried = {
        _point(t.params): t.number
        for t in st.get_trials(deepcopy=False)
        if t.number != trial.number
        and t.state.name in ("COMPLETE", "FAIL", "RUNNING")
        and len(t.params) == len(dists)
    }
    if _point(trial.params) not in tried:
        return trial
    keys = list(space)
    points = (dict(zip(keys, p, strict=True)) for p in itertools.product(*space.values()))
    fresh = next((p for p in points if _point(p) not in tried), None)
    if fresh is None:  # every point tried: a repeat is all that is left
        return trial
    trial.set_user_attr("duplicate_of", tried[_point(trial.params)])
    st.tell(trial, state=optuna.trial.TrialState.PRUNED)
    st.enqueue_trial(fresh)
    return st.ask(dists)


def _objective_value(metrics: dict[str, Any], metric: str, trial_id: str) -> float:
    value = metrics.get(metric)
    if value is None or not math.isfinite(value):
        raise TrialError(f"metric '{metric}' is undefined for trial {trial_id}")
    return float(value)


def _running(st: optuna.Study) -> list[tuple[int, str]]:
    """(number, mlTrainer trial id) of the study's RUNNING Optuna trials."""
    from optuna.trial import TrialState

    return [
        (t.number, t.user_attrs["trial_id"])
        for t in st.get_trials(deepcopy=False, states=(TrialState.RUNNING,))
        if t.user_attrs.get("trial_id")
    ]


def _settle_ended(st: optuna.Study, executor: UnifiedExecutor, metric: str) -> None:
    """Tell the study about trials that ended while their Optuna trial was left RUNNING
    (the worker died between storing the result and telling Optuna): done gives its
    value, failed gives FAIL. Nothing is re-run."""
    from optuna.trial import TrialState

    for number, tid in _running(st):
        try:
            row = executor.store.get(tid)
        except NotFound:
            continue
        if row["status"] == "done":
            try:
                st.tell(number, _objective_value(row["result"]["metrics"], metric, tid))
            except TrialError:
                st.tell(number, state=TrialState.FAIL)
        elif row["status"] == "failed":
            st.tell(number, state=TrialState.FAIL)


def _claim_interrupted(
    st: optuna.Study, executor: UnifiedExecutor, actor: str
) -> tuple[int, str, TrialSpec] | None:
    """A RUNNING Optuna trial whose mlTrainer trial is interrupted (its process died),
    claimed for this process: a retried step finishes the trial its killed attempt began,
    under the same id, instead of leaving it behind and drawing a new point. The claim is
    exclusive, so two workers never resume the same trial."""
    for number, tid in _running(st):
        try:
            before = executor.store.claim(tid, executor.runner.audit, actor)
        except (NotFound, TrialError):  # live elsewhere, or already ended
            continue
        return number, tid, TrialSpec.from_stored(before["spec"])
    return None


def tune(
    executor: UnifiedExecutor,
    base: TrialSpec,
    n_trials: int,
    *,
    study: str | None = None,
    metric: str = "sharpe",
    actor: str = "executor",
) -> TuneResult:
    """Run ``n_trials`` Optuna trials of ``base`` over its model's search space."""
    import optuna

    if n_trials < 1:
        raise TrialError(f"n_trials must be at least 1, got {n_trials}")
    mspec = executor.registry.get(base.model_id)
    if not mspec.search_space:
        raise TrialError(f"model '{mspec.id}' has no search space to tune")
    space = {k: _encode(tuple(v)) for k, v in mspec.search_space.items()}
    name = study or default_study_name(base)
    st = optuna.create_study(
        study_name=name,
        storage=optuna_storage(executor.app),
        direction="maximize",
        load_if_exists=True,
    )
    n_before = len(st.get_trials(deepcopy=False))
    st.sampler = optuna.samplers.TPESampler(seed=base.seed + n_before, constant_liar=True)
    if n_before == 0:
        first = _defaults(mspec.params(base.params), space)
        if first:
            st.enqueue_trial(first, skip_if_exists=True)
    runner, goal_id = executor.runner, executor.goal_id
    numbers: list[int] = []
    metrics: dict[int, dict[str, Any]] = {}

    def run(number: int, tid: str, spec: TrialSpec) -> float:
        numbers.append(number)
        result = runner.execute(
            tid, spec, goal_id=goal_id, study=name, on_fold=executor.on_fold, actor=actor
        )
        metrics[number] = result.metrics
        return _objective_value(result.metrics, metric, tid)

    def objective(trial: optuna.Trial) -> float:
        chosen = {
            k: decode[trial.suggest_categorical(k, keys)] for k, (keys, decode) in space.items()
        }
        spec = base.model_copy(update={"params": {**base.params, **chosen}})
        tid = runner.create(spec, goal_id=goal_id, study=name, actor=actor)
        trial.set_user_attr("trial_id", tid)
        try:
            return run(trial.number, tid, spec)
        except MLTrainerError as e:  # stored as failed by the runner; FAIL in the study
            trial.set_user_attr("error", str(e))
            raise

    _settle_ended(st, executor, metric)
    grid = {k: keys for k, (keys, _d) in space.items()}
    for _ in range(n_trials):
        adopted = _claim_interrupted(st, executor, actor)
        if adopted is not None:  # a killed worker's trial: finished under its own id
            number, tid, spec = adopted
            log.info("resuming interrupted trial %s (number %s of %s)", tid, number, name)
        else:
            trial = _ask_new_point(st, grid)
            number = trial.number
        try:
            value = run(number, tid, spec) if adopted else objective(trial)
        except MLTrainerError as e:  # recorded: FAIL in the study, failed in the trials table
            log.info("tuning trial %s of %s failed: %s", number, name, e)
            st.tell(number, state=optuna.trial.TrialState.FAIL)
            continue
        except BaseException:  # a stopped step: the trial is not left running
            st.tell(number, state=optuna.trial.TrialState.FAIL)
            raise
        st.tell(number, value)
    out = TuneResult(name, mspec.id, metric)
    for t in st.get_trials(deepcopy=False):
        if t.number not in numbers:
            continue
        out.trials.append(
            {
                "number": t.number,
                "trial_id": t.user_attrs.get("trial_id"),
                "state": t.state.name,
                "params": {k: space[k][1][v] for k, v in t.params.items()},
                "value": t.value,
                "error": t.user_attrs.get("error"),
            }
        )
    mine = [t for t in out.trials if t["state"] == "COMPLETE" and t["number"] in metrics]
    if mine:
        cb = max(mine, key=lambda t: t["value"] if t["value"] is not None else -math.inf)
        out.call_best = {**cb, "metrics": metrics[cb["number"]]}
    complete = [t for t in st.get_trials(deepcopy=False) if t.state.name == "COMPLETE"]
    if complete:
        b = max(complete, key=lambda t: t.value if t.value is not None else -math.inf)
        out.best = {
            "number": b.number,
            "trial_id": b.user_attrs.get("trial_id"),
            "params": {k: space[k][1][v] for k, v in b.params.items()},
            "value": b.value,
        }
    return out
