"""Workers on real trials: refusal just before a step runs, cancel and pause within one
fold, failures recorded, the executor's run actions, the embedded worker, and a worker
process killed with SIGKILL in the middle of a real trial."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from mltrainer.app import App
from mltrainer.executor import UnifiedExecutor
from mltrainer.process import pid_alive
from mltrainer.runs.store import RunStore
from mltrainer.runs.worker import ensure_workers, run_worker
from mltrainer.settings import Settings
from mltrainer.trials.store import TrialStore
from test_concurrency import _env

CHEAP = {"action": "list_models", "params": {"family": "linear"}}
# About 0.1 s per fold on this machine: long enough to act between folds.
SLOW_TRIAL = {
    "action": "train_model",
    "params": {
        "model_id": "random_forest",
        "symbol": "SPX",
        "refit_every": 21,
        "max_folds": 25,
        "params": {"n_estimators": 20},
    },
}


@pytest.fixture
def wsettings(settings_factory) -> Settings:
    """Short beats and leases; folds fitted one after another (the fold callback then
    runs between every two fits)."""
    return settings_factory(trial_heartbeat_s=0.2, step_lease_s=2.0, fold_jobs=1)


def _store(app: App) -> RunStore:
    return RunStore.for_executor(UnifiedExecutor(app))


class _Worker:
    """``run_worker`` on a thread with its own App, stopped at the end of the test."""

    def __init__(self, settings: Settings, **kw: Any):
        self.stop = threading.Event()
        self.events: list[str] = []
        self.thread = threading.Thread(
            target=run_worker,
            args=(settings,),
            kwargs={"stop_event": self.stop, "poll_s": 0.05, "on_event": self.events.append, **kw},
        )
        self.thread.start()

    def close(self) -> None:
        self.stop.set()
        self.thread.join(120)
        assert not self.thread.is_alive()


def _wait(cond: Callable[[], Any], timeout: float = 120.0, what: str = "condition") -> Any:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        v = cond()
        if v:
            return v
        time.sleep(0.01)
    raise AssertionError(f"timed out waiting for {what}")


def _folds(store: RunStore, run_id: str, seq: int = 1) -> int:
    prog = store.get(run_id)["steps"][seq - 1]["progress"] or {}
    return int(prog.get("folds_done", 0))


def test_a_step_the_policy_now_forbids_is_refused_just_before_it_runs(
    settings_factory, tmp_path: Path
):
    queued_under = settings_factory()
    with App(queued_under) as app:
        store = _store(app)
        file_step = {"action": "data_summary", "params": {"symbol": "SPX", "source": "file"}}
        run_id = store.create_run("batch", [file_step, CHEAP], owner="test")
        assert store.get(run_id)["steps"][0]["status"] == "queued"  # allowed when queued
    policy = tmp_path / "policy.toml"
    policy.write_text('allowed_sources = ["bundled"]\n')
    stats = run_worker(settings_factory(policy_file=policy), once=True)
    assert stats.steps == {"refused": 1, "succeeded": 1}
    with App(queued_under) as app:
        d = _store(app).get(run_id)
        refused = d["steps"][0]
        assert refused["status"] == "refused" and "source='file'" in refused["error"]
        assert d["steps"][1]["status"] == "succeeded"
        assert d["status"] == "finished" and d["finish_reason"] == "exhausted"
        rec = [r for r in app.audit.tail(200) if r.kind == "step.refused"]
        assert len(rec) == 1 and "source='file'" in rec[0].payload["reason"]
        assert app.audit.verify().ok


def test_cancel_stops_a_running_trial_within_one_fold(wsettings: Settings):
    with App(wsettings) as app:
        store = _store(app)
        run_id = store.create_run("batch", [SLOW_TRIAL, CHEAP], owner="test")
        w = _Worker(wsettings)
        try:
            _wait(lambda: _folds(store, run_id) >= 2, what="two folds")
            store.cancel(run_id, actor="test")
            at_cancel = store.get(run_id)["steps"][0]["progress"]
            _wait(lambda: store.get(run_id)["steps"][0]["status"] == "cancelled", what="cancel")
        finally:
            w.close()
        d = store.get(run_id)
        step = d["steps"][0]
        # No fold after the cancel was recorded, and the trial did not run to its end.
        assert step["progress"] == at_cancel
        assert at_cancel["folds_done"] < at_cancel["folds_total"] == 25
        assert d["steps"][1]["status"] == "cancelled" and d["status"] == "cancelled"
        trials = TrialStore(app.engine).list(limit=10)
        assert len(trials) == 1 and trials[0]["status"] == "failed"  # stopped, never "done"
        assert "StepStopped" in (TrialStore(app.engine).get(trials[0]["id"])["error"] or "")
        assert app.audit.verify().ok


def test_pause_requeues_the_running_step_and_resume_finishes_it(wsettings: Settings):
    with App(wsettings) as app:
        store = _store(app)
        run_id = store.create_run("batch", [SLOW_TRIAL], owner="test")
        w = _Worker(wsettings)
        try:
            _wait(lambda: _folds(store, run_id) >= 2, what="two folds")
            store.pause(run_id, actor="test")
            at_pause = store.get(run_id)["steps"][0]["progress"]["folds_done"]
            _wait(lambda: store.get(run_id)["steps"][0]["status"] == "queued", what="re-queue")
            step = store.get(run_id)["steps"][0]
            assert step["attempts"] == 0 and step["progress"] is None
            assert at_pause < 25
            time.sleep(0.3)
            assert store.get(run_id)["steps"][0]["status"] == "queued"  # paused: not claimed
            store.resume(run_id, actor="test")
            _wait(lambda: store.get(run_id)["status"] == "finished", what="finish")
        finally:
            w.close()
        d = store.get(run_id)
        step = d["steps"][0]
        assert step["status"] == "succeeded" and step["attempts"] == 1
        assert step["progress"] == {"folds_done": 25, "folds_total": 25}
        assert step["outcome"]["trial_id"] == step["trial_id"]
        assert step["outcome"]["spec_hash"] and step["outcome"]["data_sha256"]
        assert step["outcome"]["duration_s"] > 0 and "sharpe" in step["outcome"]["metrics"]
        kinds = Counter(r.kind for r in app.audit.tail(10_000))
        assert kinds["step.released"] == 1 and kinds["step.done"] == 1
        assert app.audit.verify().ok


def test_a_failing_step_is_recorded_and_the_run_fails_when_none_succeeded(settings: Settings):
    with App(settings) as app:
        store = _store(app)
        bad = {"action": "train_model", "params": {"model_id": "ridge", "symbol": "NOSUCH"}}
        run_id = store.create_run("batch", [bad], owner="test")
    run_worker(settings, once=True)
    with App(settings) as app:
        d = _store(app).get(run_id)
        assert d["steps"][0]["status"] == "failed" and "NOSUCH" in d["steps"][0]["error"]
        assert d["status"] == "finished" and d["finish_reason"] == "failed"
        assert d["error"] == "1 of 1 steps did not succeed"


def test_run_status_and_cancel_run_actions(app: App):
    ex = UnifiedExecutor(app)
    run_id = ex.runs.create_run("batch", [CHEAP, CHEAP], owner="test")
    res = ex.execute("run_status", {"run_id": run_id}, actor="agent")
    assert res["success"] and res["data"]["status"] == "queued"
    assert [s["status"] for s in res["data"]["steps"]] == ["queued", "queued"]
    latest = ex.execute("run_status", {}, actor="agent")
    assert latest["data"]["runs"][0]["id"] == run_id
    res = ex.execute("cancel_run", {"run_id": run_id}, actor="agent")
    assert res["success"] and res["data"]["status"] == "cancelled"
    again = ex.execute("cancel_run", {"run_id": run_id}, actor="agent")
    assert not again["success"] and "is cancelled" in again["error"]
    missing = ex.execute("run_status", {"run_id": "run_nope"}, actor="agent")
    assert not missing["success"] and "no run 'run_nope'" in missing["error"]


@pytest.mark.slow  # starts a real background worker process
def test_ensure_workers_starts_one_only_when_work_waits_and_none_is_alive(
    settings_factory,
):
    settings = settings_factory()
    with App(settings) as app:
        assert ensure_workers(app) is None  # nothing queued
        store = _store(app)
        run_id = store.create_run("batch", [CHEAP], owner="test")
        store.worker_beat("someone-else")
        assert ensure_workers(app) is None  # a live worker will take it
        store.worker_beat("someone-else", stopped=True)
        pid = ensure_workers(app, idle_exit_s=1.0)
        assert pid is not None
        try:
            _wait(lambda: store.get(run_id)["status"] == "finished", what="background run")
            _wait(lambda: not pid_alive(pid) or _reaped(pid), timeout=60, what="idle exit")
        finally:
            if pid_alive(pid) and not _reaped(pid):
                os.kill(pid, signal.SIGTERM)
        assert store.get(run_id)["steps"][0]["status"] == "succeeded"
    with App(settings_factory(embedded_workers=False)) as app:
        _store(app).create_run("batch", [CHEAP], owner="test")
        assert ensure_workers(app) is None


def _reaped(pid: int) -> bool:
    """True once our child ``pid`` has exited (reaping it, so it is not a zombie)."""
    try:
        done, _ = os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        return True
    return done == pid


# -- a worker killed with SIGKILL mid-trial ---------------------------------------------------
_CLI = [sys.executable, "-c", "from mltrainer.cli import main; main()"]


@pytest.mark.slow  # real worker processes and real random-forest trials
def test_a_worker_killed_mid_trial_loses_nothing_and_completes_nothing_twice(tmp_path: Path):
    home = tmp_path / "home"
    env = {
        **_env(home),
        "MLTRAINER_FOLD_JOBS": "1",
        "MLTRAINER_TRIAL_HEARTBEAT_S": "0.5",
        "MLTRAINER_STEP_LEASE_S": "30",
    }
    steps = [
        {
            "action": "train_model",
            "params": {
                "model_id": "random_forest",
                "symbol": "SPX",
                "refit_every": 21,
                "max_folds": 6,
            },
        },
        {"action": "train_model", "params": {"model_id": "ridge", "symbol": "SPX", "max_folds": 3}},
    ]
    (tmp_path / "steps.json").write_text(json.dumps(steps))
    sub = subprocess.run(
        [*_CLI, "run", "submit", str(tmp_path / "steps.json"), "--json"],
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert sub.returncode == 0, sub.stderr
    run_id = json.loads(sub.stdout)["id"]
    settings = Settings(home=home, trial_heartbeat_s=0.5, step_lease_s=30)

    first = subprocess.Popen(
        [*_CLI, "worker", "--concurrency", "1"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        with App(settings) as app:
            store = RunStore(app.engine, app.audit)
            _wait(lambda: _folds(store, run_id) >= 2, timeout=240, what="two folds")
            first.send_signal(signal.SIGKILL)
            first.wait(30)
            killed = store.get(run_id)["steps"][0]
            assert killed["status"] == "running" and killed["worker_pid"] == first.pid
            assert killed["progress"]["folds_done"] < 6
            (orphan,) = TrialStore(app.engine, lease_s=30).list(limit=10)
            assert orphan["status"] == "interrupted"  # its process is dead
    finally:
        if first.poll() is None:
            first.kill()
            first.wait(30)

    second = subprocess.run(
        [*_CLI, "worker", "--concurrency", "1", "--once", "--json"],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert second.returncode == 0, second.stderr
    assert json.loads(second.stdout)["steps"] == {"succeeded": 2}
    assert "exited during attempt 1 of 3" in second.stderr  # re-queued: its worker died

    with App(settings) as app:
        d = RunStore(app.engine, app.audit).get(run_id)
        assert d["status"] == "finished" and d["finish_reason"] == "exhausted"
        assert [s["status"] for s in d["steps"]] == ["succeeded", "succeeded"]
        assert [s["attempts"] for s in d["steps"]] == [2, 1]
        records = app.audit.tail(100_000)
        done = Counter(r.payload["seq"] for r in records if r.kind == "step.done")
        assert done == {1: 1, 2: 1}  # every step completed exactly once
        requeued = [r for r in records if r.kind == "step.requeued"]
        assert len(requeued) == 1 and requeued[0].payload["seq"] == 1
        assert sum(r.kind == "run.finish" for r in records) == 1
        # The retry finished the killed attempt's trial under its own id: no orphan row.
        trials = TrialStore(app.engine, lease_s=30).list(limit=10)
        assert Counter(t["status"] for t in trials) == {"done": 2}
        assert {t["id"] for t in trials} == {s["trial_id"] for s in d["steps"]}
        assert d["steps"][0]["trial_id"] == orphan["id"]
        resumed = [r for r in records if r.kind == "trial.resume"]
        assert [r.payload["trial_id"] for r in resumed] == [orphan["id"]]
    verify = subprocess.run(
        [*_CLI, "audit", "verify"], env=env, capture_output=True, text=True, timeout=120
    )
    assert verify.returncode == 0, verify.stdout + verify.stderr
