"""Runs a trial end to end: store row, engine, result, audit record, optional report."""

from __future__ import annotations

import logging
from collections.abc import Callable

from ..audit import AuditLog
from ..errors import MLTrainerError, TrialError
from .engine import WalkForwardEngine
from .heartbeat import Heartbeat
from .spec import TrialResult, TrialSpec
from .store import TrialStore

__all__ = ["TrialRunner"]

log = logging.getLogger(__name__)


class TrialRunner:
    def __init__(
        self,
        engine: WalkForwardEngine,
        store: TrialStore,
        audit: AuditLog,
        *,
        tracking_uri: str | None = None,
    ):
        self.engine = engine
        self.store = store
        self.audit = audit
        self.tracking_uri = tracking_uri
        """MLflow tracking URI: finished trials are also logged there (optional)."""

    def create(
        self,
        spec: TrialSpec,
        *,
        goal_id: str | None = None,
        study: str | None = None,
        actor: str = "system",
    ) -> str:
        self.engine.registry.get(spec.model_id)  # unknown models fail before a row exists
        return self.store.create(spec, goal_id=goal_id, study=study, audit=self.audit, actor=actor)

    def execute(
        self,
        trial_id: str,
        spec: TrialSpec,
        *,
        goal_id: str | None = None,
        study: str | None = None,
        on_fold: Callable[[int, int], None] | None = None,
        actor: str = "system",
    ) -> TrialResult:
        """Run a created trial; on failure the row is marked failed and the error re-raised."""
        self.store.start(trial_id)
        counted = self.store.counted_trials(spec, goal_id=goal_id, study=study)
        try:
            with Heartbeat(self.store, trial_id):
                result = self.engine.run(
                    spec, on_fold=on_fold, n_trials=counted.n + 1, other_sharpes=counted.sharpes
                )
        except MLTrainerError as e:
            self.store.fail(trial_id, str(e), audit=self.audit, actor=actor)
            raise
        except Exception as e:  # an unexpected bug: record it, never report success
            self.store.fail(trial_id, f"{type(e).__name__}: {e}", audit=self.audit, actor=actor)
            raise
        # the result, its trial.done record and its seal commit as one unit
        self.store.finish(trial_id, result, audit=self.audit, actor=actor)
        if self.tracking_uri:
            from .tracking import log_trial

            log_trial(self.tracking_uri, trial_id, result, goal_id=goal_id, study=study)
        return result

    def resume(
        self,
        trial_id: str,
        *,
        on_fold: Callable[[int, int], None] | None = None,
        actor: str = "system",
    ) -> TrialResult:
        """Finish an interrupted trial from its stored spec, under the same id.

        Its row (creation time, goal, study) and its ``trial.create`` record stay as they
        are; a ``trial.resume`` record names the owner that died. Done, failed and
        live trials are refused (:class:`TrialError` saying why).
        """
        before = self.store.claim(trial_id, self.audit, actor)  # audited in the same transaction
        spec = TrialSpec.from_stored(before["spec"])
        return self.execute(
            trial_id,
            spec,
            goal_id=before["goal_id"],
            study=before["study"],
            on_fold=on_fold,
            actor=actor,
        )

    def run(self, spec: TrialSpec, **kw) -> tuple[str, TrialResult]:
        """Create and execute a trial of ``spec``, or finish an interrupted one.

        An interrupted trial of the same spec, goal and study (its process died: a worker
        killed mid-step whose step is now retried) is claimed and resumed under its own id,
        so a retry leaves no orphan row behind and the spec is counted once. The claim is
        exclusive: when another process takes that trial first, a new one is created.
        """
        goal_id, study, actor = kw.get("goal_id"), kw.get("study"), kw.get("actor", "system")
        for tid in self.store.interrupted_like(spec, goal_id=goal_id, study=study):
            try:
                self.store.claim(tid, self.audit, actor)
            except TrialError:  # resumed by another process in the meantime
                continue
            log.info("resuming interrupted trial %s of the same spec", tid)
            return tid, self.execute(tid, spec, **kw)
        tid = self.create(spec, goal_id=goal_id, study=study, actor=actor)
        return tid, self.execute(tid, spec, **kw)
