"""A running trial's heartbeat: a daemon thread renews the row while the engine works.

A thread rather than a per-fold update, because one fold (a large model's fit) can take
longer than the lease. When the process is killed the beats stop, and readers see the
trial as ``interrupted`` (see :meth:`TrialStore.status_of`).
"""

from __future__ import annotations

import logging
import threading

from .store import TrialStore

__all__ = ["Heartbeat"]

log = logging.getLogger(__name__)


class Heartbeat:
    """``with Heartbeat(store, trial_id): ...`` beats every ``store.heartbeat_s`` seconds."""

    def __init__(self, store: TrialStore, trial_id: str):
        self._store = store
        self._trial_id = trial_id
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"heartbeat-{trial_id}", daemon=True)

    def _run(self) -> None:
        while not self._stop.wait(self._store.heartbeat_s):
            try:
                if not self._store.beat(self._trial_id):
                    log.warning("trial %s is no longer owned by this process", self._trial_id)
                    return
            except Exception as e:  # a busy database: try again at the next beat
                log.warning("heartbeat of trial %s failed: %s", self._trial_id, e)

    def __enter__(self) -> Heartbeat:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=self._store.heartbeat_s + 5)
