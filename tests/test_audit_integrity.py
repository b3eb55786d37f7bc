"""Sealed results and signed checkpoints: attacks on the stored results and on the log itself.

Each test plays one attack with direct SQL or file edits, as someone with access to the
database (and, where said, the home folder) would, and checks ``audit verify`` names it.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import multiprocessing
import os
from pathlib import Path

import pytest
from sqlalchemy import text
from typer.testing import CliRunner

from mltrainer.app import App
from mltrainer.audit import canonical_json
from mltrainer.errors import ConfigError
from mltrainer.executor import UnifiedExecutor
from mltrainer.seals import verify_seals
from mltrainer.settings import Settings
from mltrainer.trials.spec import TrialSpec

SPEC = TrialSpec(
    model_id="ridge",
    symbol="SPX",
    start="2012-01-01",
    end="2015-12-31",
    horizon=5,
    window_size=252,
    refit_every=63,
    max_folds=2,
)


def _fill(app: App, n: int) -> None:
    for i in range(1, n + 1):
        app.audit.append("test.event", {"i": i}, actor="tester")


def _sql(app: App, statement: str, **params) -> None:
    with app.engine.begin() as conn:
        conn.execute(text(statement), params)


def _lines(settings: Settings) -> list[str]:
    return settings.checkpoint_path.read_text().splitlines()


# -- seals ---------------------------------------------------------------------------------
def test_finished_trial_and_goal_are_sealed_and_verify(app: App):
    from mltrainer.goals import GoalSystem

    tid, _ = UnifiedExecutor(app).run_trial(SPEC)
    goal = GoalSystem(app.engine, app.gateway, app.audit).set_goal(
        "momentum on SPX, Sharpe above 1"
    )
    (trial_seal,) = app.audit.tail(10, kind="trial.seal")
    (goal_seal,) = app.audit.tail(10, kind="goal.seal")
    assert trial_seal.payload["trial_id"] == tid and len(trial_seal.payload["sha256"]) == 64
    assert goal_seal.payload["goal_id"] == goal.id
    rep = verify_seals(app.audit)
    assert rep.ok and rep.seals == 2 and rep.unsealed == []


def test_edited_trial_result_fails_verify_naming_the_trial(app: App):
    ex = UnifiedExecutor(app)
    first, _ = ex.run_trial(SPEC)
    tid, _ = ex.run_trial(SPEC.model_copy(update={"model_id": "lasso"}))
    with app.engine.begin() as conn:
        raw = conn.execute(text("SELECT result FROM trials WHERE id = :i"), {"i": tid}).scalar()
        result = json.loads(raw)
        result["metrics"]["sharpe"] = 3.0
        conn.execute(
            text("UPDATE trials SET result = :r, sharpe = 3.0 WHERE id = :i"),
            {"r": json.dumps(result), "i": tid},
        )
    assert app.audit.verify().ok  # the chain itself is untouched...
    rep = verify_seals(app.audit)  # ...but the result no longer matches its seal
    assert not rep.ok and rep.subject == tid and tid in rep.problem and first not in rep.problem


def test_deleted_sealed_trial_is_reported(app: App):
    tid, _ = UnifiedExecutor(app).run_trial(SPEC)
    _sql(app, "DELETE FROM trials WHERE id = :i", i=tid)
    rep = verify_seals(app.audit)
    assert not rep.ok and rep.subject == tid and "deleted" in rep.problem


def test_edited_goal_text_is_named(app: App):
    from mltrainer.goals import GoalSystem

    goals = GoalSystem(app.engine, app.gateway, app.audit)
    goal = goals.set_goal("momentum on SPX, Sharpe above 1")
    goals.set_goal("mean reversion on AAPL")  # archiving the first keeps its seal valid
    assert verify_seals(app.audit).ok
    _sql(
        app, "UPDATE goals SET text = 'momentum on SPX, Sharpe above 0.2' WHERE id = :i", i=goal.id
    )
    rep = verify_seals(app.audit)
    assert not rep.ok and rep.subject == goal.id


def test_cli_verify_reports_records_checkpoints_and_seals(app: App, monkeypatch):
    from mltrainer.cli import app as cli

    monkeypatch.setenv("MLTRAINER_HOME", str(app.settings.home))
    tid, _ = UnifiedExecutor(app).run_trial(SPEC)
    runner = CliRunner()
    out = json.loads(runner.invoke(cli, ["audit", "verify", "--json"]).stdout)
    assert out["ok"] and out["seals"] == 1
    assert out["records"] == app.audit.count()
    # One checkpoint per committed transaction: the trial's result, its trial.done record
    # and its seal commit together, so they share one; the newest covers the last record.
    assert out["checkpoints"] == out["records"] - 1
    assert json.loads(_lines(app.settings)[-1])["seq"] == out["records"]
    _sql(app, "UPDATE trials SET result = json_set(result, '$.n_trials', 7) WHERE id = :i", i=tid)
    res = runner.invoke(cli, ["audit", "verify"])
    assert res.exit_code == 1 and tid in res.stderr


# -- signed checkpoints --------------------------------------------------------------------
def test_new_home_starts_an_empty_checkpoint_file(app: App):
    assert app.settings.checkpoint_path.is_file()
    assert _lines(app.settings) == []
    rep = app.audit.verify()
    assert rep.ok and rep.records == 0 and rep.checkpoints == 0


def test_each_append_is_checkpointed(app: App):
    _fill(app, 4)
    assert len(_lines(app.settings)) == 4
    rep = app.audit.verify()
    assert rep.ok and rep.records == 4 and rep.checkpoints == 4


def test_truncation_with_a_rewritten_head_fails(app: App):
    _fill(app, 6)
    _sql(app, "DELETE FROM audit_log WHERE seq > 3")
    row = app.audit.tail(1)[0]
    _sql(app, "UPDATE audit_head SET seq = :s, hash = :h", s=row.seq, h=row.hash)
    rep = app.audit.verify()
    assert not rep.ok and rep.first_bad_seq == 4 and "removed" in rep.problem


def test_wiping_every_record_fails_and_is_never_intact_zero(app: App):
    _fill(app, 3)
    _sql(app, "DELETE FROM audit_log")
    _sql(app, "DELETE FROM audit_head")
    rep = app.audit.verify()
    assert not rep.ok and rep.records == 0 and "3 records" in rep.problem


def _rechain(app: App, key: bytes) -> None:
    """What an attacker without the original key can do: re-hash everything with a new key."""
    with app.engine.begin() as conn:
        rows = conn.execute(text("SELECT * FROM audit_log ORDER BY seq")).mappings().all()
        prev = "0" * 64
        for r in rows:
            body = {
                "seq": r["seq"],
                "ts": r["ts"],
                "kind": r["kind"],
                "actor": r["actor"],
                "payload": json.loads(r["payload"]),
                "prev_hash": prev,
            }
            h = hmac.new(key, (prev + canonical_json(body)).encode(), hashlib.sha256).hexdigest()
            conn.execute(
                text("UPDATE audit_log SET prev_hash = :p, hash = :h WHERE seq = :s"),
                {"p": prev, "h": h, "s": r["seq"]},
            )
            prev = h
        conn.execute(text("UPDATE audit_head SET hash = :h"), {"h": prev})


def test_rechaining_with_a_new_key_fails(settings: Settings):
    with App(settings) as app:
        _fill(app, 4)
        _sql(app, "UPDATE audit_log SET payload = :p WHERE seq = 2", p=canonical_json({"i": 99}))
        new_key = b"f" * 64
        _rechain(app, new_key)
    settings.audit_key_path.write_bytes(new_key)
    with App(settings) as app:
        app.audit.append("test.event", {"i": 5})  # the attacker's new key signs from here on
        rep = app.audit.verify()
    assert not rep.ok and "replaced" in rep.problem and "line 1" in rep.problem


def test_rechaining_with_the_same_key_is_caught_by_the_checkpoints(app: App):
    """Even with the audit key, an edit that re-chains the log differs from the checkpoints
    already written (unless the checkpoint file is rewritten too: see README)."""
    _fill(app, 4)
    _sql(app, "UPDATE audit_log SET payload = :p WHERE seq = 2", p=canonical_json({"i": 99}))
    _rechain(app, app.settings.audit_key())
    rep = app.audit.verify()
    assert not rep.ok and rep.first_bad_seq == 2 and "rewritten" in rep.problem


def test_forged_or_removed_checkpoint_lines_fail(app: App):
    _fill(app, 3)
    path = app.settings.checkpoint_path
    lines = _lines(app.settings)
    forged = json.loads(lines[1])
    forged["hash"] = "a" * 64
    path.write_text("\n".join([lines[0], canonical_json(forged), lines[2]]) + "\n")
    assert "invalid signature" in app.audit.verify().problem
    path.write_text("\n".join([lines[0], lines[2]]) + "\n")
    assert "does not link" in app.audit.verify().problem


def test_deleted_checkpoint_file_fails_verify(app: App):
    _fill(app, 2)
    app.settings.checkpoint_path.unlink()
    app.audit.append("test.event", {"i": 3})  # appends go on, unprotected, and say so
    rep = app.audit.verify()
    assert (
        not rep.ok and "missing" in rep.problem and str(app.settings.checkpoint_path) in rep.problem
    )


def test_torn_last_line_is_skipped_and_appends_continue(app: App):
    _fill(app, 2)
    with app.settings.checkpoint_path.open("a") as fh:
        fh.write('{"hash":"ab')  # a crash in the middle of a write
    assert app.audit.verify().ok
    _fill(app, 1)
    rep = app.audit.verify()
    assert rep.ok and rep.checkpoints == 3 and rep.torn_checkpoint_lines == 1


def test_checkpoint_every_n_and_at_close(settings_factory):
    s = settings_factory(audit_checkpoint_every=5)
    with App(s) as app:
        _fill(app, 7)
        assert len(_lines(s)) == 1  # after record 5
    assert len(_lines(s)) == 2  # closing checkpointed records 6 and 7
    with App(s) as app:
        rep = app.audit.verify()
    assert rep.ok and rep.checkpoints == 2 and rep.records == 7


def test_checkpoint_file_can_live_elsewhere(settings_factory, tmp_path: Path):
    elsewhere = tmp_path / "worm" / "mlt.checkpoints"
    s = settings_factory(audit_checkpoint_file=elsewhere)
    with App(s) as app:
        _fill(app, 2)
        assert app.audit.verify().checkpoint_file == str(elsewhere)
    assert len(elsewhere.read_text().splitlines()) == 2
    assert not (s.home / "audit.checkpoints").exists()


def _append_in_process(home: str, n: int) -> None:
    from mltrainer import db
    from mltrainer.audit import AuditLog

    engine = db.make_engine(Settings(home=Path(home)).db_url)
    log = AuditLog.open(engine, Settings(home=Path(home)))
    for i in range(n):
        log.append("test.event", {"pid": os.getpid(), "i": i})
    engine.dispose()


def test_concurrent_writers_keep_checkpoints_in_order(settings: Settings):
    with App(settings):
        pass
    ctx = multiprocessing.get_context("fork")  # children share the loaded modules
    procs = [ctx.Process(target=_append_in_process, args=(str(settings.home), 8)) for _ in range(3)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(60)
    assert all(p.exitcode == 0 for p in procs)
    with App(settings) as app:
        rep = app.audit.verify()
    assert rep.ok and rep.records == 24 and 1 <= rep.checkpoints <= 24


# -- the audit key -------------------------------------------------------------------------
def test_deleted_key_with_records_is_an_error_saying_how_to_restore(settings: Settings):
    with App(settings) as app:
        _fill(app, 2)
    settings.audit_key_path.unlink()
    with pytest.raises(ConfigError, match="restore the key file from your backup"):
        App(settings)
    assert not settings.audit_key_path.exists()  # no silent new key


def test_deleted_key_with_a_wiped_log_but_checkpoints_is_an_error(settings: Settings):
    with App(settings) as app:
        _fill(app, 2)
        _sql(app, "DELETE FROM audit_log")
        _sql(app, "DELETE FROM audit_head")
    settings.audit_key_path.unlink()
    with pytest.raises(ConfigError, match="holds checkpoints"):
        App(settings)


def test_first_start_still_generates_the_key(settings: Settings):
    assert not settings.audit_key_path.exists()
    with App(settings) as app:
        _fill(app, 1)
        assert app.audit.verify().ok
    assert settings.audit_key_path.is_file()


def test_audit_checkpoint_starts_the_file_of_a_log_without_one(app: App, monkeypatch):
    """A log written before checkpoints existed: verify says so; the command starts one."""
    from mltrainer.cli import app as cli

    monkeypatch.setenv("MLTRAINER_HOME", str(app.settings.home))
    _fill(app, 2)
    app.settings.checkpoint_path.unlink()
    assert not app.audit.verify().ok
    res = CliRunner().invoke(cli, ["audit", "checkpoint"])
    assert res.exit_code == 0 and "written" in res.stdout
    rep = app.audit.verify()
    assert rep.ok and rep.checkpoints == 1 and rep.records == 2
