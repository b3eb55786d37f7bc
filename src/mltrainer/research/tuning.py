"""Hyper-parameter tuning with Optuna: every Optuna trial is a real walk-forward trial.

TPE (seeded with the spec's ``seed``) searches the registry model's ``search_space`` (each
key a categorical choice among its listed values). Each Optuna trial creates, runs and
stores a trial in mlTrainer's ``trials`` table under the study's name, so the study's
trials are counted for the DSR of every later one (``TrialStore.counted_trials`` scoped
by study); a trial that fails is stored as failed and marked FAIL in the study, never
dropped. The mlTrainer trial id is kept as the Optuna trial's user attribute ``trial_id``.

Storage: Optuna's RDB storage on the app's own database server, so workers on several
machines share a study. Optuna's table names (``trials``, ``alembic_version``...) collide
with mlTrainer's, so the study tables live beside them, not among them: on PostgreSQL in
the schema ``optuna`` of the same database (``search_path``), on SQLite in the file
``<database>.optuna`` next to the app's database file.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from sqlalchemy import text
from sqlalchemy.engine import make_url

from ..errors import ConfigError, MLTrainerError, TrialError
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

    def to_dict(self) -> dict[str, Any]:
        done = [t for t in self.trials if t["state"] == "COMPLETE"]
        return {
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
    sampler = optuna.samplers.TPESampler(seed=base.seed)
    st = optuna.create_study(
        study_name=name,
        storage=optuna_storage(executor.app),
        sampler=sampler,
        direction="maximize",
        load_if_exists=True,
    )
    runner, goal_id = executor.runner, executor.goal_id
    numbers: list[int] = []

    def objective(trial: optuna.Trial) -> float:
        numbers.append(trial.number)
        chosen = {
            k: decode[trial.suggest_categorical(k, keys)] for k, (keys, decode) in space.items()
        }
        spec = base.model_copy(update={"params": {**base.params, **chosen}})
        tid = runner.create(spec, goal_id=goal_id, study=name, actor=actor)
        trial.set_user_attr("trial_id", tid)
        try:
            result = runner.execute(
                tid, spec, goal_id=goal_id, study=name, on_fold=executor.on_fold, actor=actor
            )
        except MLTrainerError as e:  # stored as failed by the runner; FAIL in the study
            trial.set_user_attr("error", str(e))
            raise
        value = result.metrics.get(metric)
        if value is None or not math.isfinite(value):
            trial.set_user_attr("error", f"metric '{metric}' is undefined for this trial")
            raise TrialError(f"metric '{metric}' is undefined for trial {tid}")
        return float(value)

    st.optimize(objective, n_trials=n_trials, catch=(MLTrainerError,), gc_after_trial=False)
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
