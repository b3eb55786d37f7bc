"""Workers: processes that claim run steps, run them through the executor, record them.

A worker loop (:func:`run_worker`) re-queues expired leases, claims a step, checks it
again (schema and compliance: the policy may have changed since it was queued), runs it
through :meth:`UnifiedExecutor.execute` with a fold callback that beats and stops the step
when its run was cancelled or paused, and finishes it with its outcome. A heartbeat
thread renews the lease while a long fold runs. When no step is left, the run's planner
decides what comes next (:func:`mltrainer.runs.planner.plan_next`).

:class:`WorkerPool` runs N such loops in processes ("spawn", each with its own App, its
fold pool sized ``max(1, cores // N)`` unless ``MLTRAINER_FOLD_JOBS`` is set);
:func:`ensure_workers` starts a background ``mltrainer worker`` for ``chat``/``ask`` when
work is queued and the ``workers`` registry shows no live worker.
"""

from __future__ import annotations

import logging
import multiprocessing as mp
import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..db import named_lock
from ..errors import ConfigError, InputError, MLTrainerError
from ..process import this_host
from .planner import plan_next
from .store import ClaimedStep, RunStore

if TYPE_CHECKING:
    from multiprocessing.synchronize import Event as MpEvent

    from ..app import App
    from ..executor.executor import UnifiedExecutor
    from ..settings import Settings

__all__ = [
    "StepStopped",
    "WorkerStats",
    "run_worker",
    "process_step",
    "plan_runs",
    "serve_queue",
    "WorkerPool",
    "pool_settings",
    "ensure_workers",
    "new_worker_id",
]

log = logging.getLogger(__name__)

OnEvent = Callable[[str], None]


class StepStopped(Exception):  # noqa: N818 - a signal, not an error: never an MLTrainerError
    """Raised from the fold callback to stop a step: its run was cancelled or paused, the
    lease was lost, or the worker is shutting down. Not an MLTrainerError, so the
    executor does not turn it into an ordinary failed result."""


def new_worker_id() -> str:
    return f"{this_host()[:40]}-{os.getpid()}-{uuid.uuid4().hex[:6]}"


@dataclass
class WorkerStats:
    worker_id: str
    steps: dict[str, int] = field(default_factory=dict)
    claim_s: list[float] = field(default_factory=list)

    def count(self, status: str) -> None:
        self.steps[status] = self.steps.get(status, 0) + 1


class _StepHeartbeat:
    """Beats a running step (and its worker's row) every ``interval`` seconds; notes
    when the step is no longer ours to run."""

    def __init__(self, store: RunStore, step: ClaimedStep, interval: float):
        self.store, self.step, self.interval = store, step, interval
        self.lost = threading.Event()
        self._stop = threading.Event()
        self._thread = threading.Thread(
            target=self._run, name=f"step-heartbeat-{step.step_id}", daemon=True
        )

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                if not self.store.beat(self.step.step_id, self.step.worker_id):
                    self.lost.set()
                    return
                self.store.worker_beat(self.step.worker_id)
            except Exception as e:  # a busy database: try again at the next beat
                log.warning("heartbeat of step %s failed: %s", self.step.step_id, e)

    def __enter__(self) -> _StepHeartbeat:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=self.interval + 5)


def _outcome(data: Any, seconds: float) -> dict[str, Any]:
    """What a finished step records: duration, metrics, hashes, trial ids, the result."""
    out: dict[str, Any] = {"duration_s": round(seconds, 3)}
    if isinstance(data, dict):
        for k in ("trial_id", "metrics", "spec_hash", "data_sha256", "n_trials", "dsr_label"):
            if k in data:
                out[k] = data[k]
        ranking = data.get("ranking")
        if isinstance(ranking, list):
            out["trial_ids"] = [r.get("trial_id") for r in ranking if isinstance(r, dict)]
            out["best"] = data.get("best")
        out["result"] = data
    return out


def process_step(
    app: App,
    executor: UnifiedExecutor,
    store: RunStore,
    step: ClaimedStep,
    stop: threading.Event | None = None,
    on_event: OnEvent | None = None,
) -> str:
    """Run one claimed step to its end; returns the status recorded (``released`` or
    ``lost`` when it went back to the queue or to another worker)."""
    say = on_event or (lambda _m: None)
    where = (
        f"{step.run_id} step {step.seq} {step.action} (attempt {step.attempt}/{step.max_attempts})"
    )
    checker = store.checker
    assert checker is not None, "a worker's RunStore is built with for_executor()"
    try:  # the action or its schema may have changed since the step was queued
        name, params = checker.validate({"action": step.action, "params": step.params})
    except InputError as e:
        store.finish(step.step_id, step.worker_id, "failed", error=f"no longer valid: {e}")
        say(f"{where}: failed (no longer valid)")
        return "failed"
    decision = checker.decide(name, params, actor=f"run:{step.run_id}")
    if decision.refused:
        store.finish(step.step_id, step.worker_id, "refused", error=decision.refused)
        say(f"{where}: refused by compliance")
        return "refused"

    heartbeat_s = app.settings.trial_heartbeat_s
    say(f"{where}: started")

    def on_fold(done: int, total: int) -> None:
        progress = {"folds_done": done, "folds_total": total}
        if not store.beat(step.step_id, step.worker_id, progress=progress):
            raise StepStopped("the step's run is no longer running or the step is not ours")
        if stop is not None and stop.is_set():
            raise StepStopped("the worker is shutting down")

    executor.goal_id, executor.on_fold = step.goal_id, on_fold
    t0 = time.perf_counter()
    try:
        with _StepHeartbeat(store, step, heartbeat_s):
            res = executor.execute(name, params, actor=f"run:{step.run_id}")
    except StepStopped as e:
        return _stopped(store, step, str(e), say, where)
    finally:
        executor.on_fold = None
    seconds = time.perf_counter() - t0
    if res["success"]:
        status, error = "succeeded", None
    else:
        status, error = "failed", res["error"]
    if not store.finish(
        step.step_id, step.worker_id, status, outcome=_outcome(res["data"], seconds), error=error
    ):
        say(f"{where}: finished but another worker owns it now (lease expired); not recorded")
        return "lost"
    say(f"{where}: {status} in {seconds:.1f}s" + (f": {error}" if error else ""))
    return status


def _stopped(store: RunStore, step: ClaimedStep, why: str, say: OnEvent, where: str) -> str:
    status = store.get(step.run_id)["status"]
    if status == "cancelled":
        store.finish(step.step_id, step.worker_id, "cancelled", error="run cancelled")
        say(f"{where}: cancelled")
        return "cancelled"
    if store.release(step.step_id, step.worker_id, why=f"run {status}: {why}"):
        say(f"{where}: back to the queue ({why})")
        return "released"
    say(f"{where}: lost (another worker owns it after a lease expiry)")
    return "lost"


def plan_runs(app: App, store: RunStore, on_event: OnEvent | None = None) -> int:
    """Ask the planner about every active run with no open step; returns how many runs
    got new steps or finished. One planner at a time per database (a named lock)."""
    say = on_event or (lambda _m: None)
    todo = store.runs_to_plan()
    if not todo:
        return 0
    n = 0
    with named_lock(app.engine, "runs-plan"):
        for brief in todo:
            run = store.get(brief["id"])
            if run["status"] not in ("queued", "running") or any(
                s["status"] in ("queued", "running") for s in run["steps"]
            ):
                continue  # another worker planned it first
            actor = f"planner:{run['kind']}"
            try:
                nxt = plan_next(app, run)
            except Exception as e:  # a planner bug ends its run loudly, never silently
                log.exception("planner of %s failed", run["id"])
                store.finish_run(
                    run["id"],
                    "failed",
                    error=f"planner error: {type(e).__name__}: {e}",
                    actor=actor,
                )
                n += 1
                continue
            if isinstance(nxt, str):
                reason = nxt
                store.finish_run(
                    run["id"],
                    reason,
                    summary=getattr(nxt, "summary", None),
                    error=getattr(nxt, "error", None),
                    actor=actor,
                )
                say(f"{run['id']}: finished ({reason})")
            elif not nxt:
                store.finish_run(
                    run["id"], "failed", error="the planner proposed no step", actor=actor
                )
            else:
                try:
                    store.add_steps(run["id"], nxt, actor=actor)
                except MLTrainerError as e:
                    store.finish_run(
                        run["id"], "failed", error=f"planner proposed bad steps: {e}", actor=actor
                    )
                    continue
                say(f"{run['id']}: planner added {len(nxt)} steps")
            n += 1
    return n


def serve_queue(
    app: App,
    store: RunStore,
    work: Callable[[], bool],
    stop: threading.Event | MpEvent,
    *,
    actor: str,
    on_tick: Callable[[float], None] | None = None,
    once: bool = False,
    max_seconds: float | None = None,
    poll_s: float = 1.0,
    idle_exit_s: float | None = None,
    on_event: OnEvent | None = None,
) -> None:
    """The loop of every backend: re-queue expired leases, ``work()`` (run or dispatch
    steps; True when it did something), else plan the runs that need new steps, else wait.
    Ends when ``stop`` is set, ``max_seconds`` pass, (``once``) nothing is left to do, or
    nothing was done for ``idle_exit_s``. ``on_tick(now)`` runs on every turn (a local
    worker's liveness beat). The local worker and the Ray driver differ only in ``work``."""
    say = on_event or (lambda _m: None)
    lease = app.settings.step_lease_s
    deadline = time.monotonic() + max_seconds if max_seconds else None
    last_requeue = 0.0
    last_work = time.monotonic()
    while not stop.is_set():
        now = time.monotonic()
        if deadline is not None and now >= deadline:
            break
        if on_tick is not None:
            on_tick(now)
        if now - last_requeue >= min(5.0, lease / 4):
            for d in store.requeue_expired(lease, actor=actor):
                say(f"{d['run_id']} step {d['seq']}: {d.get('requeued') or d.get('failed')}")
            last_requeue = now
        if work() or plan_runs(app, store, say):
            last_work = time.monotonic()
            continue
        if once or (idle_exit_s is not None and now - last_work >= idle_exit_s):
            break
        stop.wait(poll_s)


def run_worker(
    settings: Settings,
    worker_id: str | None = None,
    stop_event: threading.Event | None = None,
    *,
    once: bool = False,
    max_seconds: float | None = None,
    poll_s: float = 1.0,
    idle_exit_s: float | None = None,
    on_event: OnEvent | None = None,
    app: App | None = None,
) -> WorkerStats:
    """Claim and run steps until ``stop_event`` is set, ``max_seconds`` pass, (with
    ``once``) no claimable work is left, or nothing was claimable for ``idle_exit_s``.
    Uses ``app`` if given, else builds one."""
    from ..app import App
    from ..executor.executor import UnifiedExecutor

    own_app = app is None
    app = app or App(settings)
    stop = stop_event or threading.Event()
    wid = worker_id or new_worker_id()
    stats = WorkerStats(wid)
    executor = UnifiedExecutor(app)
    store = RunStore.for_executor(executor)
    say = on_event or (lambda _m: None)
    last_beat = 0.0

    def beat(now: float) -> None:
        nonlocal last_beat
        if now - last_beat >= app.settings.trial_heartbeat_s:
            store.worker_beat(wid)
            last_beat = now

    def work() -> bool:
        t0 = time.perf_counter()
        step = store.claim(wid)
        stats.claim_s.append(time.perf_counter() - t0)
        if step is None:
            return False
        stats.count(process_step(app, executor, store, step, stop, say))
        return True

    store.worker_beat(wid)
    say(f"worker {wid} started")
    try:
        serve_queue(
            app,
            store,
            work,
            stop,
            actor=f"worker:{wid}",
            on_tick=beat,
            once=once,
            max_seconds=max_seconds,
            poll_s=poll_s,
            idle_exit_s=idle_exit_s,
            on_event=say,
        )
    finally:
        try:
            store.worker_beat(wid, stopped=True)
        finally:
            executor.shutdown()
            if own_app:
                app.close()
    say(f"worker {wid} stopped: {stats.steps or 'no steps'}")
    return stats


# -- processes ------------------------------------------------------------------------------
def stderr_event(message: str) -> None:
    """Progress lines of ``mltrainer worker`` (stderr; stdout stays for --json)."""
    print(f"{time.strftime('%H:%M:%S')} {message}", file=sys.stderr, flush=True)


def _watch_parent(parent_pid: int, stop: threading.Event) -> None:
    """A pool child outlives a killed parent by at most one step: it stops at the next
    fold (its step is re-queued) and exits hard if that takes more than a minute."""
    while not stop.wait(1.0):
        if os.getppid() != parent_pid:
            stop.set()
            time.sleep(60)
            os._exit(1)


def set_from_signal(event: threading.Event) -> None:
    """Set ``event`` from a signal handler: from a new thread, because the handler may
    run while this thread holds the event's lock (inside ``event.wait``)."""
    threading.Thread(target=event.set, daemon=True).start()


def _pool_main(
    settings: Settings,
    parent_pid: int,
    once: bool,
    max_seconds: float | None,
    idle_exit_s: float | None,
    quiet: bool,
) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent stops us with SIGTERM
    local = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: set_from_signal(local))
    threading.Thread(target=_watch_parent, args=(parent_pid, local), daemon=True).start()
    run_worker(
        settings,
        stop_event=local,
        once=once,
        max_seconds=max_seconds,
        idle_exit_s=idle_exit_s,
        on_event=None if quiet else stderr_event,
    )


def pool_settings(settings: Settings, concurrency: int, cores: int | None = None) -> Settings:
    """A pool child's settings. N workers that each fit folds on every core would run N
    times as many processes as there are cores, so unless ``fold_jobs``
    (``MLTRAINER_FOLD_JOBS``) is set explicitly each child gets
    ``fold_jobs = max(1, cores // concurrency)``: the pool uses the cores once."""
    if settings.fold_jobs is not None:
        return settings
    if cores is None:
        from ..trials.engine import cpu_cores

        cores = cpu_cores()
    return settings.model_copy(update={"fold_jobs": max(1, cores // max(1, concurrency))})


class WorkerPool:
    """N worker processes ("spawn": each imports afresh and builds its own App). Each
    child fits a trial's folds with ``max(1, cores // N)`` processes unless
    ``MLTRAINER_FOLD_JOBS`` is set (:func:`pool_settings`), so workers and fold pools
    together do not oversubscribe the cores."""

    def __init__(
        self,
        settings: Settings,
        concurrency: int | None = None,
        *,
        once: bool = False,
        max_seconds: float | None = None,
        idle_exit_s: float | None = None,
        quiet: bool = False,
    ):
        if settings.executor != "local":
            raise ConfigError(
                f"MLTRAINER_EXECUTOR={settings.executor}: a WorkerPool runs local processes; "
                "Ray steps run through mltrainer.runs.ray_backend.run_ray_workers "
                "(`mltrainer worker` picks the backend from MLTRAINER_EXECUTOR)"
            )
        self.concurrency = concurrency or settings.workers
        self.settings = pool_settings(settings, self.concurrency)
        self._ctx = mp.get_context("spawn")
        self._args = (once, max_seconds, idle_exit_s, quiet)
        self.processes: list[Any] = []

    def start(self) -> WorkerPool:
        for i in range(self.concurrency):
            p = self._ctx.Process(
                target=_pool_main,
                args=(self.settings, os.getpid(), *self._args),
                name=f"mlt-worker-{i}",
            )
            p.start()
            self.processes.append(p)
        return self

    def alive(self) -> int:
        return sum(p.is_alive() for p in self.processes)

    def stop(self, timeout: float = 60.0) -> None:
        """Ask every worker to stop with SIGTERM (a running step stops at its next fold
        and goes back to the queue), wait for them, kill any that did not stop in time."""
        for p in self.processes:
            if p.is_alive():
                p.terminate()
        end = time.monotonic() + timeout
        for p in self.processes:
            p.join(max(0.1, end - time.monotonic()))
        for p in self.processes:
            if p.is_alive():
                p.kill()
                p.join(5)

    def join(self, timeout: float | None = None) -> None:
        for p in self.processes:
            p.join(timeout)

    def __enter__(self) -> WorkerPool:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def ensure_workers(app: App, idle_exit_s: float = 120.0) -> int | None:
    """Start a background ``mltrainer worker`` when work is queued and no worker is alive
    (judged from the ``workers`` registry's heartbeats). Returns its pid, or None when
    nothing was started. It exits after ``idle_exit_s`` without work; its log is
    ``<home>/logs/worker-<pid>.log``."""
    if not app.settings.embedded_workers:
        return None
    store = RunStore(app.engine, app.audit, app.scrub)
    if not store.has_queued_work() or store.live_workers(app.settings.step_lease_s):
        return None
    logs = Path(app.settings.home) / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "MLTRAINER_HOME": str(app.settings.home)}
    if app.settings.database_url:
        env["MLTRAINER_DATABASE_URL"] = app.settings.database_url
    log_path = logs / f"worker-{time.strftime('%Y%m%d-%H%M%S')}.log"
    with open(log_path, "ab") as out:
        proc = subprocess.Popen(
            [
                sys.executable,
                "-c",
                "from mltrainer.cli import main; main()",
                "worker",
                "--idle-exit",
                str(idle_exit_s),
            ],
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=out,
            start_new_session=True,  # survives the chat/ask that started it
        )
    return proc.pid
