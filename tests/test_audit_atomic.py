"""A state change and its audit record are one transaction (``AuditLog.append_in``).

If the record cannot be written the change is not made; if the transaction fails after
the record was inserted neither is kept; concurrent appenders (threads and processes, on
SQLite and PostgreSQL) still form one contiguous chain; and a signed checkpoint is
written only after the commit, so it never names a record that was rolled back.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event, func, select
from sqlalchemy.orm import Session

from mltrainer.app import App
from mltrainer.audit import AuditLog
from mltrainer.db.tables import AuditRecordRow, RunRow, RunStepRow, TrialRow
from mltrainer.executor import UnifiedExecutor
from mltrainer.goals import GoalSystem
from mltrainer.runs.store import RunStore
from mltrainer.settings import Settings
from mltrainer.trials.spec import TrialSpec
from mltrainer.trials.store import TrialStore
from test_concurrency import _WAIT, _assert_all_ok, _env, _run_together
from test_crash_safety import _dead_pid

CHEAP = {"action": "list_models", "params": {"family": "linear"}}


class Boom(RuntimeError):
    pass


def _fail_digest_for(audit: AuditLog, kind: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Make hashing raise for records of ``kind`` only (everything else appends normally)."""
    real = audit._digest

    def digest(prev_hash: str, body: dict[str, Any]) -> str:
        if body["kind"] == kind:
            raise Boom(f"cannot hash {kind}")
        return real(prev_hash, body)

    monkeypatch.setattr(audit, "_digest", digest)


@contextmanager
def _fail_commit_after_an_audit_insert(kind: str) -> Iterator[None]:
    """A transaction that inserted an audit record of ``kind`` fails just before COMMIT."""

    def before_flush(session: Session, _ctx: object, _instances: object) -> None:
        if any(isinstance(o, AuditRecordRow) and o.kind == kind for o in session.new):
            session.info["test.audited"] = True

    def before_commit(session: Session) -> None:
        if session.info.pop("test.audited", False):
            raise Boom("the transaction fails after the audit insert")

    event.listen(Session, "before_flush", before_flush)
    event.listen(Session, "before_commit", before_commit)
    try:
        yield
    finally:
        event.remove(Session, "before_flush", before_flush)
        event.remove(Session, "before_commit", before_commit)


def _count(app: App, table: Any) -> int:
    with Session(app.engine) as s:
        return int(s.scalar(select(func.count()).select_from(table)) or 0)


def _store(app: App) -> RunStore:
    return RunStore.for_executor(UnifiedExecutor(app))


def _assert_chain_and_checkpoints(audit: AuditLog, records: int) -> None:
    """Valid chain with seqs 1..records, and every checkpoint names a committed record."""
    report = audit.verify()
    assert report.ok, report.problem
    assert report.records == records
    seqs = [r.seq for r in audit.tail(records + 10)]
    assert seqs == list(range(1, records + 1))
    assert audit.checkpoints is not None
    cps = audit.checkpoints.read().checkpoints
    assert cps and max(c.seq for c in cps) == records
    committed = {r.seq: r.hash for r in audit.tail(records + 10)}
    assert all(committed[c.seq] == c.hash for c in cps)


# -- a failed audit append leaves no state change -----------------------------------------
def test_a_run_whose_audit_record_fails_is_not_created(app: App, monkeypatch):
    store, before = _store(app), app.audit.count()
    _fail_digest_for(app.audit, "run.create", monkeypatch)
    with pytest.raises(Boom):
        store.create_run("batch", [CHEAP, CHEAP], owner="test")
    assert _count(app, RunRow) == 0 and _count(app, RunStepRow) == 0
    assert app.audit.count() >= before and app.audit.verify().ok


def test_a_goal_whose_archive_record_fails_stays_active(app: App, monkeypatch):
    goals = GoalSystem(app.engine, app.gateway, app.audit)
    goal = goals.set_goal("momentum on SPX, Sharpe above 1")
    _fail_digest_for(app.audit, "goal.archive", monkeypatch)
    with pytest.raises(Boom):
        goals.archive()
    current = goals.current()
    assert current is not None and current.id == goal.id
    with pytest.raises(Boom):  # replacing it archives it too: neither change is kept
        goals.set_goal("mean reversion on AAPL, Sharpe above 1")
    assert [g.id for g in goals.history()] == [goal.id]
    assert app.audit.verify().ok


def test_a_step_whose_record_fails_is_still_running(app: App, monkeypatch):
    store = _store(app)
    run_id = store.create_run("batch", [CHEAP], owner="test")
    step = store.claim("w1")
    assert step is not None
    _fail_digest_for(app.audit, "step.done", monkeypatch)
    with pytest.raises(Boom):
        store.finish(step.step_id, "w1", "succeeded", outcome={"metrics": {}})
    d = store.get(run_id)
    assert d["steps"][0]["status"] == "running" and d["steps_done"] == 0
    assert d["status"] == "running"


def test_a_trial_resume_whose_record_fails_leaves_the_trial_interrupted(app: App, monkeypatch):
    store = TrialStore(app.engine, lease_s=3600)
    tid = store.create(TrialSpec(model_id="ridge", symbol="SPX", start="2015-01-01"))
    store.start(tid)
    with Session(app.engine) as s, s.begin():
        row = s.get(TrialRow, tid)
        assert row is not None
        row.owner_pid, row.heartbeat_at = _dead_pid(), datetime.now(UTC)
    _fail_digest_for(app.audit, "trial.resume", monkeypatch)
    with pytest.raises(Boom):
        store.claim(tid, app.audit, "test")
    assert store.get(tid)["status"] == "interrupted"
    monkeypatch.undo()
    store.claim(tid, app.audit, "test")
    assert store.get(tid)["status"] == "running"
    assert [r.payload["trial_id"] for r in app.audit.tail(5, kind="trial.resume")] == [tid]


# -- a failure after the audit insert, before COMMIT, leaves neither ---------------------
@pytest.mark.parametrize(
    ("change", "kind"),
    [("create_run", "run.create"), ("cancel", "run.cancel"), ("archive_goal", "goal.archive")],
)
def test_a_failure_before_commit_keeps_neither_change_nor_record(app: App, change: str, kind: str):
    store = _store(app)
    goals = GoalSystem(app.engine, app.gateway, app.audit)
    run_id = store.create_run("batch", [CHEAP], owner="test")
    goals.set_goal("momentum on SPX, Sharpe above 1")
    of_kind = len(app.audit.tail(10_000, kind=kind))
    assert app.audit.checkpoints is not None
    actions: dict[str, Callable[[], object]] = {
        "create_run": lambda: store.create_run("batch", [CHEAP], owner="test"),
        "cancel": lambda: store.cancel(run_id),
        "archive_goal": goals.archive,
    }
    with _fail_commit_after_an_audit_insert(kind), pytest.raises(Boom):
        actions[change]()
    assert len(app.audit.tail(10_000, kind=kind)) == of_kind  # rolled back with the change
    assert _count(app, RunRow) == 1 and store.get(run_id)["status"] == "queued"
    assert goals.current() is not None
    # no checkpoint names the rolled-back record: the next record reuses its seq with
    # another hash, and a checkpoint of the old one would now fail verify
    committed = app.audit.count()
    assert app.audit.checkpoints.read().checkpoints[-1].seq == committed
    app.audit.append("test.after", {"n": 1})
    _assert_chain_and_checkpoints(app.audit, committed + 1)


# -- concurrent appenders keep one chain ------------------------------------------------------
def _append_in_threads(app: App, threads: int = 4, each: int = 20) -> None:
    errors: list[BaseException] = []
    start = threading.Barrier(threads)

    def work(t: int) -> None:
        try:
            start.wait()
            for i in range(each):
                if i % 2:
                    app.audit.append("test.append", {"t": t, "i": i})
                else:  # a caller's transaction that has not written yet
                    with Session(app.engine) as s, s.begin():
                        app.audit.append_in(s, "test.append_in", {"t": t, "i": i})
        except BaseException as e:  # reported below
            errors.append(e)

    pool = [threading.Thread(target=work, args=(t,)) for t in range(threads)]
    for th in pool:
        th.start()
    for th in pool:
        th.join()
    assert not errors, errors


def test_threads_append_one_contiguous_chain_sqlite(app: App):
    before = app.audit.count()
    _append_in_threads(app)
    _assert_chain_and_checkpoints(app.audit, before + 80)


def test_threads_append_one_contiguous_chain_postgres(settings_factory, pg_url: str):
    with App(settings_factory(database_url=pg_url)) as app:
        before = app.audit.count()
        _append_in_threads(app)
        _assert_chain_and_checkpoints(app.audit, before + 80)


_APPENDER = (
    "from sqlalchemy.orm import Session\nfrom mltrainer.app import App\n"
    + _WAIT
    + """app = App()
for i in range(int(sys.argv[2])):
    if i % 2:
        app.audit.append("test.append", {"pid": os.getpid(), "i": i})
    else:
        with Session(app.engine) as s, s.begin():
            app.audit.append_in(s, "test.append_in", {"pid": os.getpid(), "i": i})
app.close()
"""
)


def _append_in_processes(tmp_path: Path, database_url: str | None) -> None:
    settings = Settings(home=tmp_path / "home", database_url=database_url)
    with App(settings) as app:
        before = app.audit.count()
    env = _env(settings.home, database_url)
    _assert_all_ok(_run_together(_APPENDER, [["15"] for _ in range(4)], env, tmp_path))
    with App(settings) as app:
        _assert_chain_and_checkpoints(app.audit, before + 60)


@pytest.mark.slow  # starts several real processes
def test_four_processes_append_one_contiguous_chain_sqlite(tmp_path: Path):
    _append_in_processes(tmp_path, None)


@pytest.mark.slow  # starts several real processes
def test_four_processes_append_one_contiguous_chain_postgres(tmp_path: Path, pg_url: str):
    _append_in_processes(tmp_path, pg_url)


QUICK_SPEC = {"start": "2014-01-01", "end": "2016-12-31", "window_size": 252, "max_folds": 2}


def test_a_trial_whose_create_record_fails_is_not_stored(app: App, monkeypatch):
    ex = UnifiedExecutor(app)
    _fail_digest_for(app.audit, "trial.create", monkeypatch)
    with pytest.raises(Boom):
        ex.runner.create(TrialSpec(model_id="ridge", symbol="SPX", **QUICK_SPEC))
    assert _count(app, TrialRow) == 0
    ex.shutdown()


@pytest.mark.parametrize("kind", ["trial.done", "trial.seal"])
def test_a_result_whose_done_record_or_seal_fails_is_not_stored_as_done(
    app: App, monkeypatch, kind: str
):
    """The result, its trial.done record and its seal are one unit: a result is never
    stored done without its seal (it would read as 'unsealed' after a crash)."""
    ex = UnifiedExecutor(app)
    spec = TrialSpec(model_id="ridge", symbol="SPX", **QUICK_SPEC)
    tid = ex.runner.create(spec)
    _fail_digest_for(app.audit, kind, monkeypatch)
    with pytest.raises(Boom):
        ex.runner.execute(tid, spec)
    row = TrialStore(app.engine).get(tid)
    assert row["result"] is None and row["status"] != "done"
    kinds = [r.kind for r in app.audit.tail(50)]
    assert "trial.done" not in kinds and "trial.seal" not in kinds
    assert app.audit.verify().ok
    ex.shutdown()


def test_a_finished_trial_is_sealed_in_its_own_transaction(app: App):
    from mltrainer.seals import check_seal

    ex = UnifiedExecutor(app)
    tid, _ = ex.run_trial(TrialSpec(model_id="ridge", symbol="SPX", **QUICK_SPEC))
    assert check_seal(app.audit, "trial.seal", tid) == "matches"
    kinds = [r.kind for r in app.audit.tail(50) if r.payload.get("trial_id") == tid]
    assert kinds[-2:] == ["trial.done", "trial.seal"]
    ex.shutdown()
