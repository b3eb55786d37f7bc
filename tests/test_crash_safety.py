"""Crash safety: killed trials are ``interrupted`` and resumable; files are written atomically.

The trial test kills a real ``mltrainer trial run`` process with SIGKILL mid-run. The file
tests use real bundled GOOG rows, written the way a vendor exports them.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pandas as pd
import pytest
from sqlalchemy.orm import Session

from mltrainer.app import App
from mltrainer.db.tables import TrialRow
from mltrainer.errors import AuditError, TrialError
from mltrainer.fsio import atomic_write_bytes, create_exclusive, remove_stale_tmp
from mltrainer.process import this_host
from mltrainer.settings import Settings
from mltrainer.trials.spec import TrialSpec
from mltrainer.trials.store import TrialStore

MLTRAINER = str(Path(sys.executable).with_name("mltrainer"))
VENDOR = "Stooq daily CSV export"


def _env(home: Path, **extra: str) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("MLTRAINER_") and not k.endswith("_API_KEY")
    }
    return {**env, "MLTRAINER_HOME": str(home), **extra}


def _cli(home: Path, *args: str, **extra: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [MLTRAINER, *args], env=_env(home, **extra), capture_output=True, text=True, timeout=300
    )


def _dead_pid() -> int:
    """The pid of a process that has exited (and been reaped)."""
    p = subprocess.Popen([sys.executable, "-c", "pass"])
    p.wait()
    return p.pid


def _utc(dt: datetime) -> datetime:
    return dt.replace(tzinfo=UTC) if dt.tzinfo is None else dt


# -- item 9: interrupted trials --------------------------------------------------------


def _beating_trial(home: Path) -> TrialRow | None:
    """The trial row once it is running and has beaten at least once after its start."""
    if not (home / "mltrainer.db").exists():
        return None
    with App(Settings(home=home)) as app, Session(app.engine) as s:
        row = s.query(TrialRow).first()
    if row is None or row.status != "running" or row.heartbeat_at is None:
        return None
    beat_after_start = _utc(row.heartbeat_at) > _utc(row.created_at) + timedelta(seconds=0.4)
    return row if beat_after_start else None


@pytest.mark.slow
def test_killed_trial_is_interrupted_and_resume_finishes_it(tmp_path: Path):
    home = tmp_path / "home"
    proc = subprocess.Popen(
        [MLTRAINER, "trial", "run", "--model", "ridge", "--symbol", "SPX"]
        + ["--start", "2010-01-01", "--window-size", "252", "--refit-every", "10"]
        + ["--no-report", "--json"],
        env=_env(home, MLTRAINER_TRIAL_HEARTBEAT_S="0.5"),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    deadline = time.monotonic() + 240
    row = None
    while row is None and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.2)
        row = _beating_trial(home)
    assert row is not None, f"the trial never got running: {proc.communicate()[1][-2000:]!r}"
    assert row.owner_pid == proc.pid and row.owner_host == this_host()
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    tid, created = row.id, _utc(row.created_at)

    listed = _cli(home, "trial", "list", "--json")
    assert listed.returncode == 0, listed.stderr
    (entry,) = json.loads(listed.stdout)
    assert entry["id"] == tid and entry["status"] == "interrupted"
    shown = _cli(home, "trial", "show", tid)
    text = " ".join(shown.stdout.split())  # Rich wraps at the terminal width
    assert "interrupted" in text and f"mltrainer trial resume {tid}" in text

    resumed = _cli(home, "trial", "resume", tid, "--json", "--no-report")
    assert resumed.returncode == 0, resumed.stderr
    out = json.loads(resumed.stdout)
    assert out["trial_id"] == tid and out["status"] == "done"
    assert isinstance(out["metrics"]["sharpe"], float) and out["metrics"]["trade_count"] > 0

    with App(Settings(home=home)) as app:
        store = TrialStore(app.engine)
        (only,) = store.list()  # the same trial, no second row
        d = store.get(tid)
        assert d["status"] == "done" and d["result"]["metrics"] == out["metrics"]
        assert _utc(datetime.fromisoformat(d["created_at"])) == created
        kinds = [r.kind for r in app.audit.tail(1000) if r.payload.get("trial_id") == tid]
        assert kinds[0] == "trial.create" and "trial.resume" in kinds and "trial.done" in kinds
        resume = next(r for r in app.audit.tail(1000, kind="trial.resume"))
        assert resume.payload["previous"]["pid"] == proc.pid
        assert app.audit.verify().ok

    again = _cli(home, "trial", "resume", tid)
    assert again.returncode == 2 and "already done" in again.stderr


def _spec() -> TrialSpec:
    return TrialSpec(model_id="ridge", symbol="SPX", start="2015-01-01", max_folds=2)


def _set_owner(app: App, tid: str, **values) -> None:
    with Session(app.engine) as s, s.begin():
        row = s.get(TrialRow, tid)
        assert row is not None
        for k, v in values.items():
            setattr(row, k, v)


def test_trial_of_this_live_process_is_running_and_cannot_be_resumed(app: App):
    store = TrialStore(app.engine)
    tid = store.create(_spec())
    store.start(tid)
    d = store.get(tid)
    assert d["status"] == "running"
    assert d["owner"]["pid"] == os.getpid() and d["owner"]["host"] == this_host()
    with pytest.raises(TrialError, match=f"owned by live process {os.getpid()}"):
        store.claim(tid)
    assert store.beat(tid)


def test_dead_local_owner_is_interrupted_at_once(app: App):
    store = TrialStore(app.engine, lease_s=3600)
    tid = store.create(_spec())
    store.start(tid)
    _set_owner(app, tid, owner_pid=_dead_pid(), heartbeat_at=datetime.now(UTC))
    assert store.get(tid)["status"] == "interrupted"
    assert store.list()[0]["status"] == "interrupted"
    before = store.claim(tid)
    assert before["status"] == "interrupted"
    after = store.get(tid)
    assert after["status"] == "running" and after["owner"]["pid"] == os.getpid()
    assert not TrialStore(app.engine).beat("no_such_trial")


def test_other_host_is_judged_by_its_heartbeat_and_the_lease(app: App):
    store = TrialStore(app.engine, lease_s=60)
    tid = store.create(_spec())
    store.start(tid)
    _set_owner(app, tid, owner_host="another-host", owner_pid=1)
    assert store.get(tid)["status"] == "running"  # fresh heartbeat, pid unknowable here
    _set_owner(app, tid, heartbeat_at=datetime.now(UTC) - timedelta(seconds=120))
    assert store.get(tid)["status"] == "interrupted"
    assert TrialStore(app.engine, lease_s=600).get(tid)["status"] == "running"
    assert not store.beat(tid)  # this process does not own it


def test_rows_from_before_heartbeats_are_judged_by_their_age(app: App):
    store = TrialStore(app.engine, lease_s=60)
    old = datetime.now(UTC) - timedelta(hours=2)
    running, queued = store.create(_spec()), store.create(_spec())
    store.set_status(running, "running")
    for tid in (running, queued):
        _set_owner(app, tid, owner_pid=None, owner_host=None, heartbeat_at=None, created_at=old)
    assert store.get(running)["status"] == "interrupted"
    assert store.get(queued)["status"] == "queued"  # nobody owns it yet: it is waiting


def test_done_and_failed_trials_are_refused_with_the_reason(app: App):
    store = TrialStore(app.engine)
    failed = store.create(_spec())
    store.fail(failed, "model exploded")
    with pytest.raises(TrialError, match="failed .model exploded."):
        store.claim(failed)
    with pytest.raises(Exception, match="no trial 'trial_nope'"):
        store.claim("trial_nope")


def test_heartbeat_thread_renews_the_row_while_the_block_runs(app: App):
    from mltrainer.trials.heartbeat import Heartbeat

    store = TrialStore(app.engine, heartbeat_s=0.1)
    tid = store.create(_spec())
    store.start(tid)
    first = store.get(tid)["owner"]["heartbeat_at"]
    with Heartbeat(store, tid):
        time.sleep(0.5)
    second = store.get(tid)["owner"]["heartbeat_at"]
    assert second > first
    time.sleep(0.3)
    assert store.get(tid)["owner"]["heartbeat_at"] == second  # stopped with the block


# -- item 10: crash-safe files ---------------------------------------------------------


@pytest.fixture
def goog_csv(app: App, tmp_path: Path) -> Path:
    frame = app.data.fetch("GOOG", start="2010-01-01", end="2010-08-06").frame
    path = tmp_path / "goog.csv"
    frame.rename(columns=str.title).rename_axis("Date").to_csv(path)
    return path


def _imports(app: App) -> list[str]:
    return sorted(p.name for p in app.settings.imports_dir.iterdir())


def test_corrupt_provenance_is_skipped_with_a_warning_naming_it(
    app: App, goog_csv: Path, caplog: pytest.LogCaptureFixture
):
    app.data.import_file(goog_csv, "MYGOOG", vendor=VENDOR)
    bad = app.settings.imports_dir / "BROKEN.provenance.json"
    bad.write_text('{"symbol": "BROKEN", "rows": ')  # cut off mid-write by an old version
    (app.settings.imports_dir / "EMPTY.provenance.json").write_text("[]")
    with caplog.at_level("WARNING"):
        entries = {e.symbol: e for e in app.data.catalogue()}
    assert "MYGOOG" in entries and "SPX" in entries
    assert "BROKEN" not in entries and "EMPTY" not in entries
    assert "BROKEN.provenance.json" in caplog.text and "EMPTY.provenance.json" in caplog.text
    with pytest.raises(Exception, match=r"BROKEN\.provenance\.json is unreadable"):
        app.data.fetch("BROKEN", source="file")


def test_data_list_cli_survives_a_corrupt_provenance_file(app: App, goog_csv: Path):
    app.data.import_file(goog_csv, "MYGOOG", vendor=VENDOR)
    (app.settings.imports_dir / "BROKEN.provenance.json").write_text("not json at all")
    res = _cli(app.settings.home, "data", "list", "--json")
    assert res.returncode == 0, res.stderr
    symbols = {e["symbol"] for e in json.loads(res.stdout)}
    assert "MYGOOG" in symbols and "BROKEN" not in symbols
    assert "BROKEN.provenance.json" in res.stderr and "WARNING" in res.stderr


def test_interrupted_import_leaves_no_partial_file(
    app: App, goog_csv: Path, monkeypatch: pytest.MonkeyPatch
):
    def crash(src, dst):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", crash)
    with pytest.raises(OSError, match="No space left"):
        app.data.import_file(goog_csv, "MYGOOG", vendor=VENDOR)
    assert _imports(app) == []  # no data, no provenance, no temp file
    assert "MYGOOG" not in app.data.files.symbols()


def test_interrupted_replace_keeps_the_previous_import(
    app: App, goog_csv: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    app.data.import_file(goog_csv, "MYGOOG", vendor=VENDOR)
    before = {n: (app.settings.imports_dir / n).read_bytes() for n in _imports(app)}
    shorter = tmp_path / "short.csv"
    pd.read_csv(goog_csv).head(60).to_csv(shorter, index=False)
    real_replace = os.replace
    calls = []

    def crash_on_second(src, dst):  # the data file lands, then the machine "dies"
        calls.append(dst)
        if len(calls) == 2:
            raise OSError(5, "Input/output error")
        real_replace(src, dst)

    monkeypatch.setattr(os, "replace", crash_on_second)
    with pytest.raises(OSError):
        app.data.import_file(shorter, "MYGOOG", vendor=VENDOR, replace=True)
    monkeypatch.setattr(os, "replace", real_replace)
    assert not [n for n in _imports(app) if n.endswith(".tmp")]
    assert (app.settings.imports_dir / "MYGOOG.provenance.json").read_bytes() == before[
        "MYGOOG.provenance.json"
    ]
    # data and provenance disagree: detected, never served as the old import
    with pytest.raises(Exception, match="changed on disk"):
        app.data.fetch("MYGOOG", source="file")


def test_failed_audit_append_leaves_nothing(
    app: App, goog_csv: Path, monkeypatch: pytest.MonkeyPatch
):
    real_append = app.audit.append

    def append(kind, payload, actor="system"):
        if kind == "data.import":
            raise AuditError("could not append to the audit log: disk full")
        return real_append(kind, payload, actor=actor)

    monkeypatch.setattr(app.audit, "append", append)
    with pytest.raises(AuditError):
        app.data.import_file(goog_csv, "MYGOOG", vendor=VENDOR)
    assert _imports(app) == []
    assert app.audit.tail(1000, kind="data.import") == []


def test_imported_files_and_audit_record_agree(app: App, goog_csv: Path):
    md = app.data.import_file(goog_csv, "MYGOOG", vendor=VENDOR)
    assert _imports(app) == ["MYGOOG.parquet", "MYGOOG.provenance.json"]
    (rec,) = app.audit.tail(10, kind="data.import")
    assert rec.payload["sha256"] == md.provenance.sha256
    assert app.data.fetch("MYGOOG", source="file").provenance.sha256 == md.provenance.sha256


def test_already_imported_error_says_to_use_replace(app: App, goog_csv: Path):
    app.data.import_file(goog_csv, "MYGOOG", vendor=VENDOR)
    res = _cli(
        app.settings.home, "data", "import", str(goog_csv), "--symbol", "MYGOOG", "--vendor", VENDOR
    )
    assert res.returncode == 2
    assert "already imported" in res.stderr and "use --replace" in res.stderr
    assert "Traceback" not in res.stderr


def test_stale_temp_files_are_removed_on_start(settings: Settings):
    with App(settings):
        pass
    imports, cache = settings.imports_dir, settings.cache_dir / "bundled"
    cache.mkdir(parents=True, exist_ok=True)
    host = this_host()
    dead = [
        imports / f".MYGOOG.parquet~{host}~{_dead_pid()}~ab12cd34.tmp",
        cache / f".SPX_0123.json~{host}~{_dead_pid()}~ab12cd34.tmp",
        imports / "OLD.parquet.tmp",  # written by an older version, no writer in its name
    ]
    live = imports / f".LIVE.parquet~{host}~{os.getpid()}~ab12cd34.tmp"
    for p in [*dead, live]:
        p.write_bytes(b"partial")
    old = time.time() - 3600
    os.utime(dead[2], (old, old))
    with App(settings):
        pass
    assert not any(p.exists() for p in dead)
    assert live.exists()  # its writer (this process) is alive


def test_interrupted_cache_write_leaves_no_entry(app: App, monkeypatch: pytest.MonkeyPatch):
    md = app.data.fetch("GOOG", start="2010-01-01", end="2010-03-01", use_cache=False)

    def crash(src, dst):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", crash)
    with pytest.raises(OSError):
        app.data.cache.put(md, "bundled", "GOOG", None, "2010-01-01", "2010-03-01")
    monkeypatch.undo()
    folder = app.settings.cache_dir / "bundled"
    assert not [p for p in folder.glob("GOOG*")] and not list(folder.glob("*.tmp"))
    assert app.data.cache.get("bundled", "GOOG", None, "2010-01-01", "2010-03-01") is None
    app.data.cache.put(md, "bundled", "GOOG", None, "2010-01-01", "2010-03-01")
    hit = app.data.cache.get("bundled", "GOOG", None, "2010-01-01", "2010-03-01")
    assert hit is not None and hit.provenance.sha256 == md.provenance.sha256


def test_create_exclusive_never_replaces_and_never_shows_a_partial_file(tmp_path: Path):
    target = tmp_path / "audit.key"
    assert create_exclusive(target, b"first" * 10)
    assert not create_exclusive(target, b"second" * 10)
    assert target.read_bytes() == b"first" * 10
    assert oct(target.stat().st_mode & 0o777) == "0o600"
    atomic_write_bytes(tmp_path / "x.json", b"{}")
    assert (tmp_path / "x.json").read_bytes() == b"{}"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["audit.key", "x.json"]
    assert remove_stale_tmp(tmp_path / "missing") == []


def test_lease_shorter_than_two_heartbeats_is_refused(tmp_path: Path):
    from pydantic import ValidationError

    with pytest.raises(ValidationError, match="MLTRAINER_TRIAL_LEASE_S=3 must be at least twice"):
        Settings(home=tmp_path, trial_lease_s=3, trial_heartbeat_s=5)
    assert Settings(home=tmp_path, trial_lease_s=10, trial_heartbeat_s=5).trial_lease_s == 10


def test_resume_keeps_a_stored_spec_without_execution_delay_at_delay_0(app: App):
    """A spec stored before ``execution_delay`` existed has no such key and means delay 0;
    resuming it must not silently switch it to today's default of 1."""
    from mltrainer.executor import UnifiedExecutor

    ex = UnifiedExecutor(app)
    spec = _spec().model_copy(update={"execution_delay": 0})
    assert "execution_delay" not in spec.canonical()  # as an old version stored it
    tid = ex.runner.create(spec)
    ex.store.start(tid)
    _set_owner(app, tid, owner_pid=_dead_pid(), heartbeat_at=datetime.now(UTC))
    result = ex.runner.resume(tid)
    assert result.spec.execution_delay == 0
    assert result.spec_hash == spec.spec_hash()
    ex.shutdown()


def test_an_interrupted_report_write_keeps_the_previous_report(
    app: App, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    from mltrainer.executor import UnifiedExecutor
    from mltrainer.trials.report import write_report

    ex = UnifiedExecutor(app)
    _, result = ex.run_trial(_spec())
    ex.shutdown()
    reports = tmp_path / "reports"
    html, js = write_report(result, "t1", reports)
    before = html.read_bytes(), js.read_bytes()

    def crash(src, dst):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", crash)
    with pytest.raises(OSError, match="No space left"):
        write_report(result, "t1", reports)
    assert (html.read_bytes(), js.read_bytes()) == before  # whole, not truncated
    assert sorted(p.name for p in reports.iterdir()) == ["t1.html", "t1.json"]  # no temps
