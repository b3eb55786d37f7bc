"""The Ray backend (``MLTRAINER_EXECUTOR=ray``): run steps as Ray tasks across a cluster.

The database stays the record. A driver (``run_ray_workers``) keeps up to one task per
cluster CPU in flight; each task claims one queued step itself and runs it through
:func:`mltrainer.runs.worker.process_step`, the code path of a local worker: the same
re-check (schema and compliance), heartbeats, cancel/pause within a fold, outcome and
audit records. A task whose node dies leaves a running step that stops beating; the lease
re-queues it (``MLTRAINER_STEP_LEASE_S``), exactly as for a killed local worker. The
driver also re-queues expired leases and asks the planners for new steps.

Tasks build their own :class:`~mltrainer.settings.Settings` from the node's environment
plus the driver's non-secret settings (home, database URL, ...): API keys never travel in
task arguments, so every node needs its own (and the same audit key file). One task uses
one CPU, so its trial fits its folds sequentially (``fold_jobs = 1``): Ray's scheduler,
not the fold pool, fills the cores. This is the only module that imports ``ray``.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from pydantic import SecretStr

from ..errors import ConfigError

if TYPE_CHECKING:
    from multiprocessing.synchronize import Event as MpEvent

    from ..settings import Settings

__all__ = ["run_ray_workers", "task_settings", "run_one_step", "ray_available"]

log = logging.getLogger(__name__)

OnEvent = Callable[[str], None]


def ray_available() -> bool:
    import importlib.util

    return importlib.util.find_spec("ray") is not None


def task_settings(settings: Settings) -> dict[str, Any]:
    """The settings a task is built with: the driver's explicitly set non-secret fields
    (from its environment or arguments; everything else, and every secret, comes from the
    node's own environment), one fold job per task."""
    secret = {
        name
        for name, f in type(settings).model_fields.items()
        if f.annotation is not None and SecretStr in getattr(f.annotation, "__args__", ())
    }
    out = settings.model_dump(exclude=secret, exclude_unset=True)
    out.update(executor="local", fold_jobs=1)
    return out


_STATE: dict[str, Any] = {}
_STATE_LOCK = threading.Lock()


def _state(fields: dict[str, Any]) -> tuple[Any, Any, Any, str]:
    """This Ray worker process's App, executor, store and worker id (built once)."""
    key = repr(sorted(fields.items()))
    with _STATE_LOCK:
        if _STATE.get("key") != key:
            from ..app import App
            from ..executor.executor import UnifiedExecutor
            from ..settings import load_settings
            from .store import RunStore
            from .worker import new_worker_id

            if "app" in _STATE:
                _STATE["executor"].shutdown()
                _STATE["app"].close()
            app = App(load_settings(**fields))
            executor = UnifiedExecutor(app)
            _STATE.update(
                key=key,
                app=app,
                executor=executor,
                store=RunStore.for_executor(executor),
                wid=f"ray-{new_worker_id()}",
            )
        return _STATE["app"], _STATE["executor"], _STATE["store"], _STATE["wid"]


def run_one_step(fields: dict[str, Any]) -> dict[str, Any] | None:
    """Claim one queued step and run it to its end (the body of a Ray task); None when
    nothing was claimable."""
    from .worker import process_step

    app, executor, store, wid = _state(fields)
    store.worker_beat(wid)
    step = store.claim(wid)
    if step is None:
        return None
    status = process_step(app, executor, store, step)
    store.worker_beat(wid)
    import ray

    return {
        "run_id": step.run_id,
        "seq": step.seq,
        "status": status,
        "worker_id": wid,
        "node_id": ray.get_runtime_context().get_node_id(),
    }


def _connect(settings: Settings) -> Any:
    try:
        import ray
    except ImportError as e:
        raise ConfigError("MLTRAINER_EXECUTOR=ray needs Ray: pip install 'mltrainer[ray]'") from e
    if not ray.is_initialized():
        address = settings.ray_address
        try:
            ray.init(address=address, include_dashboard=False, log_to_driver=False)
        except (ConnectionError, RuntimeError, ValueError) as e:
            raise ConfigError(
                f"MLTRAINER_RAY_ADDRESS={address or '(unset: a local Ray)'} cannot be reached: {e}"
            ) from e
    return ray


def run_ray_workers(
    settings: Settings,
    stop_event: threading.Event | MpEvent | None = None,
    *,
    once: bool = False,
    max_seconds: float | None = None,
    concurrency: int | None = None,
    poll_s: float = 1.0,
    idle_exit_s: float | None = None,
    on_event: OnEvent | None = None,
) -> dict[str, int]:
    """Drive Ray tasks until ``stop_event`` is set, ``max_seconds`` pass, (``once``) no
    work is left, or nothing was claimable for ``idle_exit_s`` (the embedded worker of
    ``chat``/``ask``); returns the count of steps per final status. Connects to
    ``settings.ray_address`` (``auto`` or an address: a running cluster; ``local``: a new
    local Ray; unset: Ray's own default, a local Ray when none is found) unless Ray is
    already initialised in this process."""
    from ..app import App
    from ..executor.executor import UnifiedExecutor
    from .store import RunStore
    from .worker import serve_queue

    ray = _connect(settings)
    fields = task_settings(settings)
    remote = ray.remote(num_cpus=1, max_retries=0)(run_one_step)
    slots = concurrency or max(1, int(ray.cluster_resources().get("CPU", 1)))
    stop = stop_event or threading.Event()
    say = on_event or (lambda _m: None)
    counts: dict[str, int] = {}
    pending: list[Any] = []
    app = App(settings)
    executor = UnifiedExecutor(app)
    store = RunStore.for_executor(executor)

    def work() -> bool:
        """Keep ``slots`` tasks in flight while steps wait; collect those that end."""
        nonlocal pending
        if store.has_queued_work():
            pending += [remote.remote(fields) for _ in range(slots - len(pending))]
        if not pending:
            return False
        done, pending = ray.wait(pending, num_returns=1, timeout=poll_s)
        for out in ray.get(done):
            if out is not None:
                counts[out["status"]] = counts.get(out["status"], 0) + 1
                say(
                    f"{out['run_id']} step {out['seq']}: {out['status']} on Ray node "
                    f"{out['node_id'][:12]}"
                )
        return True

    say(f"ray driver: {slots} task slots")
    try:
        serve_queue(
            app,
            store,
            work,
            stop,
            actor="ray-driver",
            once=once,
            max_seconds=max_seconds,
            poll_s=poll_s,
            idle_exit_s=idle_exit_s,
            on_event=say,
        )
    finally:
        if pending:  # stopped early: running steps finish; their leases cover a lost task
            ray.wait(pending, num_returns=len(pending), timeout=60)
        executor.shutdown()
        app.close()
    return counts
