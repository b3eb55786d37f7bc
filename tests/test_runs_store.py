"""RunStore: validation before storing, atomic claims (threads and processes, SQLite and
PostgreSQL), lease expiry, exactly-once completion, run control and the planner hook."""

from __future__ import annotations

import json
import threading
import time
from collections import Counter
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from mltrainer.app import App
from mltrainer.db.tables import RunRow, RunStepRow
from mltrainer.errors import InputError
from mltrainer.executor import UnifiedExecutor
from mltrainer.runs import planner
from mltrainer.runs.planner import FinishReason
from mltrainer.runs.store import RunStore
from mltrainer.runs.worker import plan_runs
from mltrainer.settings import Settings
from test_concurrency import _assert_all_ok, _env, _run_together

CHEAP = {"action": "list_models", "params": {"family": "linear"}}


def _store(app: App) -> RunStore:
    return RunStore.for_executor(UnifiedExecutor(app))


def _kinds(app: App) -> Counter:
    return Counter(r.kind for r in app.audit.tail(100_000))


def _rows(app: App, table) -> int:
    with Session(app.engine) as s:
        return int(s.scalar(select(func.count()).select_from(table)) or 0)


# -- queueing -------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("steps", "message"),
    [
        (
            [CHEAP, {"action": "train_model", "params": {"model_id": "ridge", "horizon": 0}}],
            "step 2",
        ),
        ([{"action": "no_such_action"}], "'no_such_action' is not an action"),
        (
            [{"action": "train_modle", "params": {"model_id": "ridge", "symbol": "SPX"}}],
            "did you mean train_model",
        ),
        (
            [{"action": "start_trial", "params": {"model_id": "ridge", "symbol": "SPX"}}],
            "cannot be a step",
        ),
        (
            [{"action": "train_model_ridge", "params": {"symbol": "SPX", "model_id": "lasso"}}],
            "conflicts",
        ),
        ([{"action": "list_models", "params": {}, "extra": 1}], "unknown keys"),
        ([], "at least one step"),
    ],
)
def test_bad_steps_are_refused_before_anything_is_stored(app: App, steps, message):
    store, before = _store(app), _kinds(app)
    with pytest.raises(InputError, match=message):
        store.create_run("batch", steps, owner="test")
    assert _rows(app, RunRow) == 0 and _rows(app, RunStepRow) == 0
    assert _kinds(app) == before  # not even a compliance decision was audited


def test_a_step_refused_at_queue_time_is_stored_refused_and_the_run_goes_on(app: App):
    store = _store(app)
    bad = {"action": "data_summary", "params": {"symbol": "SPX", "source": "yahoo"}}
    run_id = store.create_run("batch", [CHEAP, bad], owner="test")
    d = store.get(run_id)
    assert d["status"] == "queued" and d["steps_done"] == 1 and d["steps_total"] == 2
    refused = d["steps"][1]
    assert refused["status"] == "refused" and "yahoo" in refused["error"]
    assert "compliance" in refused["error"]
    rec = [r for r in app.audit.tail(50) if r.kind == "step.refused"]
    assert len(rec) == 1 and rec[0].payload["seq"] == 2 and "yahoo" in rec[0].payload["reason"]


def test_a_store_without_a_checker_refuses_to_queue(app: App):
    with pytest.raises(InputError, match="no step checker"):
        RunStore(app.engine, app.audit).create_run("batch", [CHEAP], owner="test")


def test_proposed_runs_wait_for_approval(app: App):
    store = _store(app)
    run_id = store.create_run("plan", [CHEAP], owner="agent", approved=False)
    assert store.get(run_id)["status"] == "proposed"
    assert store.claim("w1") is None
    store.approve(run_id)
    assert store.claim("w1") is not None
    with pytest.raises(InputError, match="not proposed|only a run that is proposed"):
        store.approve(run_id)


# -- claiming ---------------------------------------------------------------------------------
def test_claims_follow_run_age_then_seq(app: App):
    store = _store(app)
    first = store.create_run("batch", [CHEAP, CHEAP], owner="test")
    second = store.create_run("batch", [CHEAP], owner="test")
    got = [store.claim("w") for _ in range(4)]
    assert [(c.run_id, c.seq) for c in got[:3] if c] == [(first, 1), (first, 2), (second, 1)]
    assert got[3] is None
    assert store.get(first)["status"] == "running" and store.get(first)["started_at"]


def _claim_all_threads(store: RunStore, n_threads: int) -> list[int]:
    claimed: list[int] = []
    lock, barrier = threading.Lock(), threading.Barrier(n_threads)

    def work(i: int) -> None:
        barrier.wait()
        while (c := store.claim(f"w{i}")) is not None:
            with lock:
                claimed.append(c.step_id)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(n_threads)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    return claimed


def _claim_atomicity_with_threads(settings: Settings) -> None:
    with App(settings) as app:
        store = _store(app)
        run_id = store.create_run("batch", [CHEAP] * 40, owner="test")
        claimed = _claim_all_threads(store, 8)
        ids = [s["id"] for s in store.get(run_id)["steps"]]
        assert sorted(claimed) == sorted(ids)  # every step once, none twice
        assert all(s["attempts"] == 1 for s in store.get(run_id)["steps"])


def test_claims_are_atomic_across_threads_sqlite(settings: Settings):
    _claim_atomicity_with_threads(settings)


def test_claims_are_atomic_across_threads_postgres(settings_factory, pg_url: str):  # noqa: F811
    _claim_atomicity_with_threads(settings_factory(database_url=pg_url))


_CLAIMER = (
    "from mltrainer.app import App\nfrom mltrainer.runs.store import RunStore\nimport json\n"
    + __import__("test_concurrency")._WAIT
    + "app = App()\nst = RunStore(app.engine, app.audit)\ngot = []\n"
    + "while (c := st.claim(sys.argv[2])) is not None:\n    got.append(c.step_id)\n"
    + "print(json.dumps(got))\n"
)


def _claim_atomicity_with_processes(tmp_path: Path, settings: Settings) -> None:
    with App(settings) as app:
        store = _store(app)
        run_id = store.create_run("batch", [CHEAP] * 60, owner="test")
        ids = sorted(s["id"] for s in store.get(run_id)["steps"])
    results = _run_together(
        _CLAIMER,
        [[f"p{i}"] for i in range(4)],
        _env(settings.home, settings.database_url),
        tmp_path,
    )
    _assert_all_ok(results)
    claimed = [i for r in results for i in json.loads(r.stdout.strip().splitlines()[-1])]
    assert sorted(claimed) == ids


@pytest.mark.slow  # four real processes
def test_claims_are_atomic_across_processes_sqlite(tmp_path: Path, settings: Settings):
    _claim_atomicity_with_processes(tmp_path, settings)


@pytest.mark.slow  # four real processes
def test_claims_are_atomic_across_processes_postgres(
    tmp_path: Path,
    settings_factory,
    pg_url: str,  # noqa: F811
):
    _claim_atomicity_with_processes(tmp_path, settings_factory(database_url=pg_url))


# -- leases and completion ------------------------------------------------------------------------
def test_an_expired_lease_requeues_then_fails_after_max_attempts(settings_factory):
    with App(settings_factory(step_max_attempts=3)) as app:
        store = _store(app)
        run_id = store.create_run("batch", [CHEAP], owner="test")
        for attempt in (1, 2, 3):
            c = store.claim(f"w{attempt}")
            assert c is not None and c.attempt == attempt
            assert store.requeue_expired(lease_s=30.0) == []  # a fresh heartbeat: left alone
            time.sleep(0.3)
            assert store.beat(c.step_id, c.worker_id)  # still ours until the lease passes
            time.sleep(0.3)
            done = store.requeue_expired(lease_s=0.2)
            assert len(done) == 1
        step = store.get(run_id)["steps"][0]
        assert step["status"] == "failed" and "gave up after 3 attempts" in step["error"]
        assert "stopped heartbeating" in step["error"]
        d = store.get(run_id)
        assert d["status"] == "finished" and d["finish_reason"] == "failed"
        kinds = _kinds(app)
        assert kinds["step.requeued"] == 2 and kinds["step.failed"] == 1
        assert kinds["run.finish"] == 1
        assert app.audit.verify().ok


def _exactly_once(settings: Settings) -> None:
    with App(settings) as app:
        store = _store(app)
        run_id = store.create_run("batch", [CHEAP], owner="test")
        old = store.claim("old")
        assert old is not None
        time.sleep(0.2)
        store.requeue_expired(lease_s=0.1)  # "old" stalled: the step goes back to the queue
        new = store.claim("new")
        assert new is not None and new.step_id == old.step_id and new.attempt == 2
        assert not store.beat(old.step_id, "old")  # the stalled worker learns it lost it
        results: list[bool] = []
        barrier = threading.Barrier(6)

        def finish(worker: str) -> None:
            barrier.wait()
            results.append(store.finish(old.step_id, worker, "succeeded", outcome={"w": worker}))

        threads = [threading.Thread(target=finish, args=(w,)) for w in ["old", "new"] * 3]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        assert results.count(True) == 1 and len(results) == 6
        step = store.get(run_id)["steps"][0]
        assert step["status"] == "succeeded" and step["outcome"] == {"w": "new"}
        assert _kinds(app)["step.done"] == 1
        assert store.get(run_id)["status"] == "finished"
        assert app.audit.verify().ok


def test_a_step_completes_exactly_once_after_a_lease_expiry_sqlite(settings: Settings):
    _exactly_once(settings)


def test_a_step_completes_exactly_once_after_a_lease_expiry_postgres(
    settings_factory,
    pg_url: str,  # noqa: F811
):
    _exactly_once(settings_factory(database_url=pg_url))


# -- run control ------------------------------------------------------------------------------------
def test_cancel_pause_resume_change_what_workers_may_do(app: App):
    store = _store(app)
    run_id = store.create_run("batch", [CHEAP, CHEAP, CHEAP], owner="test")
    c = store.claim("w")
    assert c is not None and store.beat(c.step_id, "w")
    store.pause(run_id)
    assert not store.beat(c.step_id, "w")  # the running step must stop
    assert store.claim("w2") is None  # nothing of a paused run is claimed
    assert store.release(c.step_id, "w", why="paused")
    step = store.get(run_id)["steps"][0]
    assert step["status"] == "queued" and step["attempts"] == 0  # a pause costs no attempt
    store.resume(run_id)
    assert store.get(run_id)["status"] == "running"
    c = store.claim("w")
    assert c is not None and c.seq == 1
    store.cancel(run_id)
    assert not store.beat(c.step_id, "w")
    assert store.finish(c.step_id, "w", "cancelled", error="run cancelled")
    d = store.get(run_id)
    assert d["status"] == "cancelled" and d["finish_reason"] == "cancelled"
    assert [s["status"] for s in d["steps"]] == ["cancelled"] * 3
    assert d["steps_done"] == 3
    with pytest.raises(InputError, match="is cancelled"):
        store.resume(run_id)
    kinds = _kinds(app)
    assert kinds["run.pause"] == kinds["run.resume"] == kinds["run.cancel"] == 1


def test_feedback_lists_final_steps_with_their_outcomes(app: App):
    store = _store(app)
    run_id = store.create_run("batch", [CHEAP, CHEAP], owner="test")
    c = store.claim("w")
    assert c is not None
    store.finish(c.step_id, "w", "succeeded", outcome={"trial_id": "t1", "metrics": {"sharpe": 1}})
    fb = store.feedback(run_id)
    assert len(fb) == 1 and fb[0]["trial_id"] == "t1" and fb[0]["outcome"]["metrics"]["sharpe"] == 1


# -- planner hook ---------------------------------------------------------------------------------
def test_a_search_run_without_a_planner_fails_loudly(app: App, monkeypatch):
    monkeypatch.setattr(planner, "_PLANNERS", {})
    monkeypatch.setitem(planner.PLANNER_MODULES, "search", "mltrainer.runs.no_such_planner")
    store = _store(app)
    run_id = store.create_run("search", [], owner="test", config={"budget": {"max_trials": 2}})
    assert plan_runs(app, store) == 1
    d = store.get(run_id)
    assert d["status"] == "finished" and d["finish_reason"] == "failed"
    assert "no planner is registered for search runs" in d["error"]


def test_a_registered_planner_adds_steps_then_finishes_the_run(app: App, monkeypatch):
    calls: list[int] = []

    def plan(_app, run):
        calls.append(len(run["steps"]))
        if not run["steps"]:
            return [CHEAP, CHEAP]
        return FinishReason("exhausted", summary={"best": None, "n": len(run["steps"])})

    monkeypatch.setattr(planner, "_PLANNERS", {"search": plan})
    store = _store(app)
    run_id = store.create_run("search", [], owner="test")
    assert plan_runs(app, store) == 1 and store.get(run_id)["steps_total"] == 2
    assert plan_runs(app, store) == 0  # open steps: nothing to plan
    for _ in range(2):
        c = store.claim("w")
        assert c is not None
        store.finish(c.step_id, "w", "succeeded", outcome={})
    assert store.get(run_id)["status"] == "running"  # a search run is finished by its planner
    assert plan_runs(app, store) == 1
    d = store.get(run_id)
    assert d["status"] == "finished" and d["finish_reason"] == "exhausted"
    assert d["summary"] == {"best": None, "n": 2} and calls == [0, 2]


# -- the CLI ----------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("not json", "is not JSON"),
        ('{"action": "list_models"}', "expected a JSON list of steps"),
        (json.dumps([CHEAP, {"action": "train_model", "params": {"symbol": "SPX"}}]), "model_id"),
    ],
)
def test_run_submit_refuses_bad_input_with_exit_2_and_writes_nothing(
    settings: Settings, tmp_path: Path, monkeypatch, capsys, text: str, message: str
):
    from test_bad_input import _squash, run_cli

    monkeypatch.setenv("MLTRAINER_HOME", str(settings.home))
    path = tmp_path / "steps.json"
    path.write_text(text)
    code, out = run_cli(["run", "submit", str(path)], capsys)
    assert code == 2 and _squash(message) in _squash(out)
    with App(settings) as app:
        assert _rows(app, RunRow) == 0 and _rows(app, RunStepRow) == 0


def test_run_submit_show_and_control_commands(
    settings: Settings, tmp_path: Path, monkeypatch, capsys
):
    from test_bad_input import run_cli

    monkeypatch.setenv("MLTRAINER_HOME", str(settings.home))
    path = tmp_path / "steps.json"
    path.write_text(json.dumps([CHEAP, CHEAP]))
    code, out = run_cli(["run", "submit", str(path), "--json"], capsys)
    assert code == 0, out
    run_id = json.loads(out)["id"]
    for verb, status in (("pause", "paused"), ("resume", "queued"), ("cancel", "cancelled")):
        code, out = run_cli(["run", verb, run_id, "--json"], capsys)
        assert code == 0 and json.loads(out)["status"] == status
    code, out = run_cli(["run", "resume", run_id], capsys)
    assert code == 2 and "is cancelled" in out
    code, out = run_cli(["run", "show", run_id, "--json"], capsys)
    assert [s["status"] for s in json.loads(out)["steps"]] == ["cancelled", "cancelled"]
    code, out = run_cli(["run", "report", run_id, "--json"], capsys)
    assert code == 0 and json.loads(out)["counts"] == {"cancelled": 2}
    code, out = run_cli(["run", "list", "--json", "--status", "cancelled"], capsys)
    assert [r["id"] for r in json.loads(out)] == [run_id]
    code, out = run_cli(["run", "list", "--status", "bogus"], capsys)
    assert code == 2 and "bogus" in out


@pytest.mark.parametrize("action", ["set_goal", "get_goal", "evaluate_goal", "search_memory"])
def test_a_chat_action_cannot_be_a_run_step(app: App, action):
    """Goals and memory belong to the conversation: a worker's executor has no such action,
    so a step of one used to be queued and then fail in the worker. It is refused when
    queued, naming why."""
    from mltrainer.agent.session import open_conversation

    conv = open_conversation(app, user="test")
    assert action in conv.executor.actions  # the conversation's executor has it
    store = RunStore.for_executor(conv.executor)
    with pytest.raises(InputError, match=f"'{action}' is a chat action"):
        store.create_run("batch", [{"action": action, "params": {}}], owner="test")
    assert _rows(app, RunStepRow) == 0
    conv.executor.shutdown()
