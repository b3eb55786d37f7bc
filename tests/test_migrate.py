"""``mltrainer migrate``: every legacy file shape in, exact counts and contents out.

Legacy folders are written in ``tmp_path`` in each shape ``legacy-formats.md`` describes
(both chat_history shapes, JSON Lines in a ``.json``, ``str(datetime)`` timestamps, a
truncated last line, blank lines, unknown keys, empty files), plus the shared samples.
Every import is checked for what it stored, that a second run stores nothing, and that
the audit chain and every seal still verify.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select, text
from typer.testing import CliRunner

from mltrainer.app import App
from mltrainer.cli import app as cli
from mltrainer.db.tables import LegacyRecordRow, MemoryMessageRow
from mltrainer.goals import GoalSystem
from mltrainer.migrate import MigrationError, Migrator, open_migrator
from mltrainer.seals import verify_seals

SAMPLES = Path("/work/shared/legacy-samples")
TABLES = ("memory_messages", "goals", "legacy_records", "legacy_imports", "audit_log", "trials")


def put(root: Path, rel: str, content: Any) -> Path:
    """Write ``content`` (bytes, text, or an object as indented JSON) at ``root/rel``."""
    p = root / rel
    p.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(content, bytes):
        p.write_bytes(content)
    elif isinstance(content, str):
        p.write_text(content, encoding="utf-8")
    else:
        p.write_text(json.dumps(content, indent=2), encoding="utf-8")
    return p


def lines(*records: Any) -> str:
    return "".join(json.dumps(r) + "\n" for r in records)


def msg(i: int, role: str, content: str, **extra: Any) -> dict[str, Any]:
    return {
        "role": role,
        "content": content,
        "timestamp": f"2025-07-09T10:00:{i:02d}.000100",
        **extra,
    }


def counts(app: App) -> dict[str, int]:
    with app.engine.connect() as c:
        return {t: c.execute(text(f"SELECT count(*) FROM {t}")).scalar_one() for t in TABLES}


def messages(app: App) -> list[dict[str, Any]]:
    t = MemoryMessageRow.__table__
    with app.engine.connect() as c:
        return [dict(r) for r in c.execute(select(t).order_by(t.c.id)).mappings()]


def legacy(app: App, kind: str | None = None) -> list[dict[str, Any]]:
    t = LegacyRecordRow.__table__
    q = select(t).order_by(t.c.id)
    if kind is not None:
        q = q.where(t.c.kind == kind)
    with app.engine.connect() as c:
        return [dict(r) for r in c.execute(q).mappings()]


def by_path(report) -> dict[str, Any]:
    return {f.path: f for f in report.files}


def assert_chain_verifies(app: App) -> None:
    rep = app.audit.verify()
    assert rep.ok, rep.problem
    seals = verify_seals(app.audit)
    assert seals.ok and not seals.unsealed, (seals.problem, seals.unsealed)


def utc(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=UTC)  # type: ignore[misc]


def as_utc(dt: datetime) -> datetime:
    return dt.replace(tzinfo=UTC) if dt.tzinfo is None else dt.astimezone(UTC)


@pytest.fixture
def migrator(app: App) -> Iterator[Migrator]:
    yield open_migrator(app)
    assert_chain_verifies(app)  # after every migration of every test, and every refusal


@pytest.fixture
def goals(app: App) -> GoalSystem:
    return GoalSystem(app.engine, app.gateway, app.audit, resolve_symbol=app.data.lookup_symbol)


@pytest.fixture
def run(settings, monkeypatch):
    monkeypatch.setenv("MLTRAINER_HOME", str(settings.home))
    runner = CliRunner()

    def invoke(*args: str):
        return runner.invoke(cli, list(args), catch_exceptions=False)

    return invoke


# -- the shared samples --------------------------------------------------------------------


def test_shared_samples_import_every_record_exactly(app: App, migrator: Migrator):
    rep = migrator.run(SAMPLES)
    files = {p: (f.read, f.imported, f.skipped) for p, f in by_path(rep).items()}
    assert files == {
        "logs/chat_history.json": (3, 3, []),
        "logs/goal_history.jsonl": (11, 11, []),
        "logs/memory/chat_memory.jsonl": (4, 4, []),
        "logs/mlagent_actions.jsonl": (1, 1, []),
        "logs/system_goals.json": (1, 1, []),
    }
    assert rep.totals.messages == 7 and rep.totals.goals == 6 and not rep.already_imported
    got = [(m["role"], m["content"]) for m in messages(app)]
    assert got == [
        ("user", "Test message 1"),
        ("assistant", "Response 1"),
        ("user", "execute"),
        ("user", "Test message"),
        ("assistant", "Test response"),
        ("user", "test"),
        ("assistant", "response"),
    ]
    first, second = messages(app)[:2]
    assert as_utc(first["ts"]) == utc(2025, 7, 9, 19, 48, 59, 826522)
    assert second["metadata"]["legacy_role"] == "mltrainer"
    assert second["metadata"]["legacy_timestamp"] == "2025-07-09T19:48:59.828151"
    mem = {m["content"]: m for m in messages(app)}
    assert mem["Test message"]["importance"] == 0.6 and mem["Test message"]["topics"] == []
    assert mem["Test message"]["metadata"]["legacy_id"] == "fd6b37037faf"
    assert mem["Test response"]["importance"] == 0.5
    assert counts(app)["legacy_records"] == 20 and counts(app)["trials"] == 0


def test_shared_samples_goal_history_and_the_restored_goal(app, migrator, goals):
    rep = migrator.run(SAMPLES)
    hist = goals.history()
    assert [g.id for g in reversed(hist)] == [
        "legacy_19cf31b360f0",
        "legacy_023790aad4c4",
        "legacy_7cd06fb0d7a7",
        "legacy_eb05ecf6ebe8",
        "legacy_867480f0e341",
        "legacy_2538ca022e21",
    ]
    current = goals.current()
    assert current is not None and current.id == "legacy_2538ca022e21"
    assert current.text == "Test goal for system verification" and current.created_by == "user"
    assert current.created_at == utc(2025, 7, 9, 23, 6, 28, 790693)
    before = goals.get("legacy_867480f0e341")
    assert before.status == "archived"
    assert before.created_at == utc(2025, 7, 9, 21, 14, 48, 312091)
    assert before.archived_at == utc(2025, 7, 9, 23, 6, 28, 790733)
    tf = goals.get("legacy_19cf31b360f0").components.timeframes
    assert [(t.min, t.max, t.unit) for t in tf] == [(7, 12, "days"), (50, 70, "days")]
    assert rep.goal.outcome == "restored" and rep.goal.goal_id == current.id
    assert rep.goal.history == 6 and rep.goal.imported == 6
    kinds = [r.kind for r in app.audit.tail(100)]
    assert kinds.count("goal.import") == 6 and kinds.count("goal.seal") == 6
    assert kinds.count("goal.set") == 1 and kinds[-1] == "migrate.import"
    assert_chain_verifies(app)


def test_shared_sample_reply_is_reparsed_into_a_suggestion_never_run(app, migrator):
    migrator.run(SAMPLES)
    (action,) = legacy(app, "agent_action")
    assert action["data"]["action_type"] == "parse"
    analysis = action["analysis"]
    assert analysis["never_run"] is True and analysis["errors"] == []
    (s,) = analysis["suggestions"]
    assert s["action"] == "train_model" and s["params"]["symbol"] == "AAPL"
    assert s["params"]["model_id"].startswith("lstm") and s["params"]["horizon"] == 10
    assert counts(app)["trials"] == 0
    with app.engine.connect() as c:
        assert c.execute(text("SELECT count(*) FROM run_steps")).scalar_one() == 0


def test_second_run_imports_nothing_new_and_says_already_imported(app, migrator):
    migrator.run(SAMPLES)
    before = counts(app)
    again = migrator.run(SAMPLES)
    assert counts(app) == before
    assert again.already_imported and again.summary.startswith("already imported")
    assert again.totals.imported == 0 and again.totals.already_present == 20
    assert again.goal.outcome == "already_imported" and again.goal.already_present == 6
    assert {f.status for f in again.files} == {"already imported"}
    assert again.import_id is None
    assert_chain_verifies(app)


def test_logs_folder_itself_is_the_same_import(app, migrator):
    migrator.run(SAMPLES / "logs")
    again = migrator.run(SAMPLES)
    assert again.already_imported and again.totals.already_present == 20


def test_dry_run_reports_what_a_run_stores_and_writes_nothing(app, migrator):
    before = counts(app)
    dry = migrator.run(SAMPLES, dry_run=True)
    assert counts(app) == before
    assert dry.dry_run and dry.import_id is None and dry.goal.outcome == "restored"
    assert {f.status for f in dry.files} == {"would import"}  # not "imported": nothing was
    real = migrator.run(SAMPLES)
    assert {f.status for f in real.files} == {"imported"}
    strip = {"status", "notes"}
    assert [f.model_dump(exclude=strip) for f in dry.files] == [
        f.model_dump(exclude=strip) for f in real.files
    ]
    assert dry.totals == real.totals


# -- chat shapes ---------------------------------------------------------------------------


def test_both_chat_history_shapes_and_unified_history(app, migrator, tmp_path):
    new = tmp_path / "new"
    put(new, "logs/chat_history.json", {
        "messages": [msg(1, "user", "Train ridge on SPX"), msg(2, "mltrainer", "Ridge is queued")],
        "saved_at": "2025-07-09T10:00:03", "max_messages": 200,
    })  # fmt: skip
    put(new, "logs/unified_chat_history.json", [
        msg(4, "system", "Session started"),
        msg(5, "assistant", "GOOG data loaded", model="claude", latency_ms=812),
    ])  # fmt: skip
    old = tmp_path / "old"
    put(old, "logs/chat_history.json", [msg(6, "user", "an older copy"), msg(7, "mltrainer", "ok")])
    a = migrator.run(new)
    b = migrator.run(old)
    assert (a.totals.messages, b.totals.messages) == (4, 2)
    got = [(m["role"], m["content"]) for m in messages(app)]
    assert got == [
        ("user", "Train ridge on SPX"),
        ("assistant", "Ridge is queued"),
        ("system", "Session started"),
        ("assistant", "GOOG data loaded"),
        ("user", "an older copy"),
        ("assistant", "ok"),
    ]
    meta = messages(app)[3]["metadata"]
    assert meta["model"] == "claude" and meta["latency_ms"] == 812 and meta["legacy"] is True
    assert by_path(a)["logs/chat_history.json"].notes == [
        "file keys besides messages: max_messages, saved_at"
    ]
    assert {m["metadata"]["legacy_file"] for m in messages(app)} == {
        "chat_history.json",
        "unified_chat_history.json",
    }


def test_json_lines_in_a_json_file(app, migrator, tmp_path):
    put(tmp_path, "logs/unified_chat_history.json", lines(
        msg(1, "user", "lines, not a list"), msg(2, "assistant", "still read"),
    ))  # fmt: skip
    put(tmp_path, "logs/model_registry.json", lines(
        {"timestamp": "2025-07-09T11:00:00", "model_hash": "ab12", "model_name": "rf_aapl",
         "approval_level": "research", "meta": {"n_estimators": 100}, "fingerprint": {"rows": 5031}},
        {"timestamp": "2025-07-09T11:05:00", "model_hash": "cd34", "model_name": "ridge_spx",
         "approval_level": "research", "meta": {}, "fingerprint": {}},
    ))  # fmt: skip
    rep = migrator.run(tmp_path)
    f = by_path(rep)
    assert f["logs/unified_chat_history.json"].notes == ["JSON Lines despite the .json name"]
    assert f["logs/unified_chat_history.json"].imported == 2
    assert [m["content"] for m in messages(app)] == ["lines, not a list", "still read"]
    recs = [r for r in app.audit.tail(50) if r.kind == "legacy.model_registry"]
    assert [r.payload["record"]["model_name"] for r in recs] == ["rf_aapl", "ridge_spx"]
    assert recs[0].payload["where"] == "line 1" and recs[0].payload["legacy"] is True
    assert_chain_verifies(app)


def test_str_datetime_timestamps_are_kept(app, migrator, tmp_path):
    put(tmp_path, "logs/memory/chat_memory.jsonl", lines(
        {"id": "a1", "timestamp": "2025-07-09 07:51:48.530501", "role": "user",
         "content": "str(datetime) wrote this", "topics": ["stock:AAPL"], "importance": 0.7},
    ))  # fmt: skip
    put(tmp_path, "logs/goal_history.jsonl", lines(
        {"timestamp": "2025-07-09 07:52:00.000001", "action": "set", "goal_id": "g1",
         "goal_text": "Momentum on AAPL with Sharpe above 1"},
    ))  # fmt: skip
    migrator.run(tmp_path)
    (m,) = messages(app)
    assert as_utc(m["ts"]) == utc(2025, 7, 9, 7, 51, 48, 530501)
    assert m["topics"] == ["stock:AAPL"] and m["importance"] == 0.7
    g = GoalSystem(app.engine, app.gateway, app.audit).get("legacy_g1")
    assert g.created_at == utc(2025, 7, 9, 7, 52, 0, 1) and g.status == "active"


def test_truncated_last_line_is_skipped_and_reported(app, migrator, tmp_path):
    body = (
        lines(
            {"id": "1", "timestamp": "2025-07-09T10:00:01", "role": "user", "content": "one"},
            {"id": "2", "timestamp": "2025-07-09T10:00:02", "role": "assistant", "content": "two"},
        )
        + '{"id": "3", "timestamp": "2025-07-09T10:00:03", "role": "us'
    )
    put(tmp_path, "logs/memory/chat_memory.jsonl", body)
    rep = migrator.run(tmp_path)
    f = by_path(rep)["logs/memory/chat_memory.jsonl"]
    assert (f.read, f.imported) == (2, 2)
    (s,) = f.skipped
    assert s.where == "line 3" and s.line == 3 and "truncated last line" in s.reason
    assert f.status == "imported with 1 skipped" and rep.totals.skipped == 1
    assert [m["content"] for m in messages(app)] == ["one", "two"]


def test_blank_lines_and_unknown_keys(app, migrator, tmp_path):
    put(tmp_path, "logs/memory/chat_memory.jsonl", "\n\n" + lines(
        {"id": "x1", "timestamp": "2025-07-09T10:00:01", "role": "user", "content": "hello",
         "session_id": "s-42", "metadata": {"client": "streamlit"}},
    ) + "   \n\n" + lines(
        {"id": "x2", "timestamp": "2025-07-09T10:00:02", "role": "mltrainer", "content": "hi",
         "goal_context": {"goal_id": "g9"}, "compliance_flags": ["DATA_SOURCE_VALIDATED"]},
    ) + "\n")  # fmt: skip
    rep = migrator.run(tmp_path)
    f = by_path(rep)["logs/memory/chat_memory.jsonl"]
    assert (f.read, f.imported, f.skipped) == (2, 2, [])
    one, two = messages(app)
    assert one["metadata"]["session_id"] == "s-42" and one["metadata"]["client"] == "streamlit"
    assert two["role"] == "assistant" and two["metadata"]["goal_context"] == {"goal_id": "g9"}
    with app.engine.connect() as c:
        flags = c.execute(
            text("SELECT compliance_flags FROM memory_messages ORDER BY id")
        ).scalars()
        assert [json.loads(x) if isinstance(x, str) else x for x in flags] == [
            [],
            ["DATA_SOURCE_VALIDATED"],
        ]


def test_topics_and_importance_are_kept_or_computed(app, migrator, tmp_path):
    put(tmp_path, "logs/memory/chat_memory.jsonl", lines(
        {"id": "k", "timestamp": "2025-07-09T10:00:01", "role": "user",
         "content": "train a random forest on AAPL", "topics": ["random forest", "stock:AAPL"],
         "importance": 0.9},
        {"id": "c", "timestamp": "2025-07-09T10:00:02", "role": "user",
         "content": "train a random forest on AAPL"},
    ))  # fmt: skip
    migrator.run(tmp_path)
    kept, computed = messages(app)
    assert kept["topics"] == ["random forest", "stock:AAPL"] and kept["importance"] == 0.9
    assert "model:random_forest" in computed["topics"] and "symbol:AAPL" in computed["topics"]
    assert computed["importance"] == 0.5  # a user message's base importance, no bonus


def test_empty_files_import_nothing_and_say_so(app, migrator, tmp_path):
    put(tmp_path, "logs/chat_history.json", b"")
    put(tmp_path, "logs/goal_history.jsonl", "  \n\n")
    put(tmp_path, "logs/memory/topic_index.json", {})
    put(tmp_path, "logs/mltrainer_audit.jsonl", lines(
        {"timestamp": "2025-07-09T10:00:00", "user_message": "hi", "response_preview": "hello",
         "model": "claude-3", "compliance_verified": True},
    ))  # fmt: skip
    rep = migrator.run(tmp_path)
    f = by_path(rep)
    for p in ("logs/chat_history.json", "logs/goal_history.jsonl"):
        assert (f[p].read, f[p].imported, f[p].status, f[p].notes) == (
            0, 0, "nothing to import", ["empty file"],
        )  # fmt: skip
    assert f["logs/mltrainer_audit.jsonl"].imported == 1
    assert rep.goal.outcome == "none"


def test_a_message_in_two_files_is_stored_once(app, migrator, tmp_path):
    put(
        tmp_path,
        "logs/chat_history.json",
        {
            "messages": [
                msg(1, "user", "Compare lightgbm and ridge on MSFT"),
                msg(2, "mltrainer", "Ridge won"),
            ]
        },
    )
    put(tmp_path, "logs/memory/chat_memory.jsonl", lines(
        {"id": "m1", **msg(1, "user", "Compare lightgbm and ridge on MSFT"), "importance": 0.6},
        {"id": "m2", **msg(2, "assistant", "Ridge won")},
        {"id": "m3", **msg(3, "user", "only in memory")},
        {"id": "m3", **msg(3, "user", "only in memory")},
    ))  # fmt: skip
    rep = migrator.run(tmp_path)
    mem = by_path(rep)["logs/memory/chat_memory.jsonl"]
    assert (mem.read, mem.imported, mem.duplicates) == (4, 1, 3)
    assert [m["content"] for m in messages(app)] == [
        "Compare lightgbm and ridge on MSFT",
        "Ridge won",
        "only in memory",
    ]
    assert rep.totals.duplicates == 3 and counts(app)["legacy_records"] == 3


# -- bad input -----------------------------------------------------------------------------


def _bad_folder(root: Path) -> Path:
    put(root, "logs/chat_history.json", {"messages": [msg(1, "user", "fine")]})
    put(root, "logs/compliance_log.jsonl", lines(
        {"timestamp": "2025-07-09T10:00:00", "event_type": "SYSTEM_HEALTH_CHECK", "details": {}},
    ))  # fmt: skip
    put(root, "logs/memory/chat_memory.jsonl", lines(
        {"id": "1", "timestamp": "2025-07-09T10:00:01", "role": "user", "content": "one"},
        {"id": "2", "timestamp": "2025-07-09T10:00:02", "role": "user", "content": "two"},
    ) + "{this is not json}\n" + lines(
        {"id": "4", "timestamp": "2025-07-09T10:00:04", "role": "user", "content": "four"},
    ))  # fmt: skip
    return root


def test_a_bad_line_imports_nothing_and_names_file_and_line(app, migrator, tmp_path):
    before = counts(app)
    with pytest.raises(MigrationError) as e:
        migrator.run(_bad_folder(tmp_path))
    assert str(e.value).startswith("logs/memory/chat_memory.jsonl line 3: not valid JSON")
    assert "nothing was imported" in str(e.value) and e.value.line == 3
    assert counts(app) == before
    assert_chain_verifies(app)


def test_skip_bad_lines_imports_the_rest_and_lists_each_one(app, migrator, tmp_path):
    rep = migrator.run(_bad_folder(tmp_path), skip_bad_lines=True)
    f = by_path(rep)["logs/memory/chat_memory.jsonl"]
    assert (f.read, f.imported) == (3, 3)
    assert [(s.where, s.reason.split(" (")[0]) for s in f.skipped] == [("line 3", "not valid JSON")]
    assert [m["content"] for m in messages(app)] == ["one", "fine", "two", "four"]  # time order
    assert rep.totals.audit_records == 1
    assert_chain_verifies(app)


@pytest.mark.parametrize(
    ("record", "reason"),
    [
        ({"role": "user", "content": "no time"}, "the message has no timestamp"),
        ({"role": "user", "content": "x", "timestamp": "yesterday"}, "neither ISO 8601"),
        ({"role": "wizard", "content": "x", "timestamp": "2025-07-09T10:00:00"}, "'wizard'"),
        ({"role": "user", "timestamp": "2025-07-09T10:00:00"}, "no text"),
        (["not", "an", "object"], "must be a JSON object"),
    ],
)
def test_a_bad_message_names_its_reason(app, migrator, tmp_path, record, reason):
    put(tmp_path, "logs/memory/chat_memory.jsonl", lines(record, msg(2, "user", "ok")))
    with pytest.raises(MigrationError, match=r"chat_memory.jsonl line 1: ") as e:
        migrator.run(tmp_path)
    assert reason in str(e.value)
    assert counts(app)["memory_messages"] == 0


def test_a_broken_json_document_names_its_line(app, migrator, tmp_path):
    put(tmp_path, "logs/system_goals.json", '{\n  "current_goal": {\n    "id": "x",\n  ]\n}')
    with pytest.raises(MigrationError, match=r"logs/system_goals.json line 4: not valid JSON"):
        migrator.run(tmp_path)


def test_a_folder_without_legacy_files_is_refused(migrator, tmp_path):
    put(tmp_path, "notes.txt", "hello")
    with pytest.raises(Exception, match="holds no legacy mlTrainer files"):
        migrator.run(tmp_path)


def test_unrecognised_files_are_reported_never_guessed_at(app, migrator, tmp_path):
    put(tmp_path, "logs/chat_history.json", [msg(1, "user", "hello")])
    put(tmp_path, "logs/chat_history_backup.json", [msg(2, "user", "a copy")])
    put(tmp_path, "logs/notes.txt", "remember to export the models")
    rep = migrator.run(tmp_path)
    f = by_path(rep)
    for p in ("logs/chat_history_backup.json", "logs/notes.txt"):
        assert (f[p].recognised, f[p].status, f[p].imported) == (False, "not recognised", 0)
    assert rep.totals.unrecognised == 2 and rep.totals.recognised == 1
    assert [m["content"] for m in messages(app)] == ["hello"]


# -- goals ---------------------------------------------------------------------------------


def _current_goal(root: Path, goal_text: str, created: str = "2025-07-09T12:00:00") -> None:
    put(root, "logs/system_goals.json", {
        "current_goal": {"id": "cur1", "text": goal_text, "components": {}, "created_at": created,
                         "created_by": "user", "status": "active", "validation": {"valid": True}},
        "components": {}, "last_updated": created,
    })  # fmt: skip


def test_a_goal_already_active_is_kept_and_the_legacy_goal_archived(app, migrator, goals, tmp_path):
    mine = goals.set_goal("Ridge on SPX with Sharpe above 0.5")
    _current_goal(tmp_path, "Momentum on AAPL for 7-12 days")
    rep = migrator.run(tmp_path)
    assert rep.goal.outcome == "archived" and mine.id in rep.goal.detail
    assert goals.current().id == mine.id
    assert goals.get("legacy_cur1").status == "archived"
    assert_chain_verifies(app)


def test_a_legacy_goal_the_gateway_refuses_is_not_restored(app, migrator, goals, tmp_path):
    bad = "Generate synthetic price data for AAPL and maximise returns"
    assert not app.gateway.check_text(bad).allowed
    _current_goal(tmp_path, bad)
    dry = migrator.run(tmp_path, dry_run=True)
    assert dry.goal.outcome == "refused"
    rep = migrator.run(tmp_path)
    assert rep.goal.outcome == "refused" and "compliance" in rep.goal.detail
    assert goals.current() is None and goals.get("legacy_cur1").status == "archived"
    decision = [r for r in app.audit.tail(30) if r.kind == "compliance"][-1]
    assert decision.payload["allowed"] is False and decision.actor == "migrate"
    assert_chain_verifies(app)


def test_goal_memory_changes_join_the_history_once(app, migrator, goals, tmp_path):
    put(tmp_path, "logs/goal_history.jsonl", lines(
        {"timestamp": "2025-07-01T09:00:00", "action": "set", "goal_id": "a", "goal_text": "Momentum on SPX"},
        {"timestamp": "2025-07-02T09:00:00", "action": "archive", "goal_id": "a", "goal_text": "Momentum on SPX"},
    ))  # fmt: skip
    put(tmp_path, "logs/memory/goal_memory.jsonl", lines(
        {"timestamp": "2025-07-01T09:00:01", "old_goal": None, "new_goal": "Momentum on SPX",
         "reason": "user request"},
        {"timestamp": "2025-07-03T09:00:00", "old_goal": "Momentum on SPX",
         "new_goal": {"text": "Mean reversion on KO"}, "reason": "user request"},
    ))  # fmt: skip
    rep = migrator.run(tmp_path)
    hist = goals.history()
    assert [(g.text, g.status) for g in hist] == [
        ("Mean reversion on KO", "active"),
        ("Momentum on SPX", "archived"),
    ]
    assert hist[0].created_at == utc(2025, 7, 3, 9, 0, 0)
    assert rep.goal.outcome == "restored" and rep.goal.history == 2
    changes = legacy(app, "goal_change")
    assert [r["target"] for r in changes] == ["goal:legacy_a", f"goal:{hist[0].id}"]


# -- compliance, agent and trial records ----------------------------------------------------


def test_compliance_and_audit_logs_join_the_chain_as_legacy_records(app, migrator, tmp_path, run):
    put(tmp_path, "logs/compliance_log.jsonl", lines(
        {"timestamp": "2025-07-09T10:00:00", "event_type": "DATA_SOURCE_VIOLATION",
         "details": {"source": "random"}, "compliance_level": "strict", "retention_required": True},
        {"timestamp": "2025-07-09T10:01:00", "event_type": "DATA_SOURCE_VALIDATED",
         "details": {"source": "polygon", "api_key": "pk_live_should_not_survive"}},
    ))  # fmt: skip
    put(tmp_path, "logs/memory/compliance_memory.jsonl", lines(
        {"timestamp": "2025-07-09T10:02:00", "event_type": "INSTITUTIONAL_COMPLIANCE", "details": {}},
    ))  # fmt: skip
    put(tmp_path, "logs/mltrainer_audit.jsonl", lines(
        {"timestamp": "2025-07-09T10:03:00", "user_message": "train ridge", "response_preview":
         "Ridge is " + "x" * 191, "model": "claude-3", "compliance_verified": True},
    ))  # fmt: skip
    rep = migrator.run(tmp_path)
    assert rep.totals.audit_records == 4
    recs = [r for r in app.audit.tail(50) if r.kind.startswith("legacy.")]
    assert [r.kind for r in recs] == [
        "legacy.compliance",
        "legacy.compliance",
        "legacy.compliance_memory",
        "legacy.audit",
    ]
    assert recs[1].payload["record"]["details"]["api_key"] == "***"
    claim = recs[3].payload
    assert "compliance_verified" not in claim["record"]
    assert claim["legacy_claims"] == {"compliance_verified": True}
    assert "proves nothing" in claim["note"]
    rows = legacy(app, "audit")
    assert rows[0]["target"] == f"audit:{recs[3].seq}" and rows[0]["data"] is None
    assert rows[0]["analysis"]["legacy_claims"] == {"compliance_verified": True}
    out = run("audit", "verify", "--json")
    assert out.exit_code == 0 and json.loads(out.stdout)["ok"] is True


def _config(symbol: str, model: str) -> dict[str, Any]:
    return {
        "id": "trial_20250709_195517", "symbol": symbol, "model": model,
        "created_at": "2025-07-09T19:55:17", "status": "created",
        "parameters": {"train_ratio": 0.75, "lookback": 90, "epochs": 100, "learning_rate": 0.001},
        "timeframes": [{"min": 7, "max": 12, "unit": "days"}], "stop_loss": 0.015,
        "source": "mltrainer_parser",
    }  # fmt: skip


def test_nonsense_trial_configs_stay_legacy_records_with_their_errors(app, migrator, tmp_path):
    put(tmp_path, "logs/mlagent_state.json", {
        "current_trial": _config("FOR", "on"), "active_execution": False, "trial_count": 3,
        "last_updated": "2025-07-09T19:55:18"})  # fmt: skip
    put(tmp_path, "trials/trial_20250709_195517.json", _config("FOR", "on"))
    put(tmp_path, "trials/trial_20250709_200000.json", _config("AAPL", "random_forest"))
    put(tmp_path, "logs/mlagent_actions.jsonl", lines(
        {"timestamp": "2025-07-09T19:55:17", "action_type": "trial_start", "data": _config("FOR", "on")},
        {"timestamp": "2025-07-09T19:59:00", "action_type": "trial_stop", "data": {"trial_id": "t1"}},
    ))  # fmt: skip
    rep = migrator.run(tmp_path)
    assert rep.totals.invalid_trial_configs == 3 and counts(app)["trials"] == 0
    state = legacy(app, "agent_state")[0]["analysis"]["trial_config"]
    assert state["valid"] is False and state["runnable"] is False
    assert any("'FOR'" in e for e in state["errors"]) and any("'on'" in e for e in state["errors"])
    configs = {r["source_file"]: r["analysis"]["trial_config"] for r in legacy(app, "trial_config")}
    assert configs["trials/trial_20250709_195517.json"]["valid"] is False
    good = configs["trials/trial_20250709_200000.json"]
    assert good["valid"] is True and good["runnable"] is False
    assert good["suggestions"][0]["params"]["symbol"] == "AAPL"
    assert good["suggestions"][0]["params"]["model_id"] == "random_forest"
    assert rep.totals.suggestions == 1
    stop = legacy(app, "agent_action")[1]
    assert stop["data"]["action_type"] == "trial_stop" and stop["analysis"] is None


def test_trial_feedback_is_kept_as_legacy_outcomes_never_as_trials(app, migrator, tmp_path):
    entry = {
        "trial_id": "trial_1", "action_type": "trial_complete", "parameters": {"symbol": "AAPL"},
        "outcome": "success", "performance_metrics": {"accuracy": 0.87, "sharpe": 2.9},
        "execution_time": 12.5, "error_details": None, "context": {}, "timestamp": "2025-07-09T20:00:00",
    }  # fmt: skip
    put(tmp_path, "trial_feedback.json", {
        "feedback_history": [entry, {**entry, "trial_id": "trial_2", "timestamp": "2025-07-09T21:00:00"}],
        "learning_stats": {"total": 2}})  # fmt: skip
    put(tmp_path, "logs/chat_history.json", [])
    rep = migrator.run(tmp_path)
    f = by_path(rep)["trial_feedback.json"]
    assert (f.read, f.imported) == (3, 3) and rep.totals.legacy_outcomes == 2
    outcomes = legacy(app, "trial_outcome")
    assert [o["data"]["trial_id"] for o in outcomes] == ["trial_1", "trial_2"]
    assert outcomes[0]["analysis"]["metrics_computed_by_mltrainer"] is False
    assert as_utc(outcomes[1]["ts"]) == utc(2025, 7, 9, 21, 0, 0)
    assert legacy(app, "trial_feedback_meta")[0]["data"] == {"learning_stats": {"total": 2}}
    assert counts(app)["trials"] == 0


def test_model_caches_and_drift_snapshots_are_kept(app, migrator, tmp_path):
    put(tmp_path, "logs/learning_memory.json", {"random_forest": {"AAPL": {"accuracy": 0.61}}})
    put(tmp_path, "logs/drift_log.jsonl", lines(
        {"timestamp": "2025-07-09T10:00:00", "symbol": "SPX", "psi": 0.04},
        {"timestamp": "2025-07-10T10:00:00", "symbol": "SPX", "psi": 0.21},
    ))  # fmt: skip
    put(
        tmp_path,
        "logs/drift_protection.log",
        "2025-07-09 10:00:00,123 INFO baseline stored for SPX\nplain line without a time\n",
    )
    put(tmp_path, "logs/baseline_SPX.json", {"mean": 0.0004, "std": 0.012})
    rep = migrator.run(tmp_path)
    assert rep.totals.imported == 6
    assert legacy(app, "learning_memory")[0]["data"] == {
        "random_forest": {"AAPL": {"accuracy": 0.61}}
    }
    assert [r["data"]["psi"] for r in legacy(app, "drift")] == [0.04, 0.21]
    prot = legacy(app, "drift_protection")
    assert as_utc(prot[0]["ts"]) == utc(2025, 7, 9, 10, 0, 0, 123000) and prot[1]["ts"] is None
    assert legacy(app, "baseline")[0]["data"] == {"mean": 0.0004, "std": 0.012}


def test_topic_index_is_cross_checked_and_not_imported(app, migrator, tmp_path):
    put(tmp_path, "logs/memory/chat_memory.jsonl", lines(
        {"id": "m1", "timestamp": "2025-07-09T10:00:01", "role": "user", "content": "ridge",
         "topics": ["ridge"]},
    ))  # fmt: skip
    put(tmp_path, "logs/memory/topic_index.json", {"ridge": ["m1"], "lasso": ["m1", "gone"]})
    rep = migrator.run(tmp_path)
    f = by_path(rep)["logs/memory/topic_index.json"]
    assert (f.read, f.imported, f.status) == (2, 0, "cross-checked")
    assert f.notes == [
        "cross-checked 2 topics against memory/chat_memory.jsonl: 1 message ids not found, "
        "1 not tagged with their topic"
    ]


# -- progress, CLI, PostgreSQL --------------------------------------------------------------


def test_progress_reports_reading_then_importing(app, migrator):
    seen: list[tuple[str, int, int]] = []
    migrator.run(SAMPLES, progress=lambda *a: seen.append(a))
    stages = [s for s, _, _ in seen]
    assert stages[0] == "reading" and stages[-1] == "importing"
    assert seen[-1][1] == seen[-1][2] and seen[-1][2] > 0


def test_cli_migrate_then_memory_search_and_goal_show(run, tmp_path):
    put(tmp_path, "logs/memory/chat_memory.jsonl", lines(
        {"id": "q", "timestamp": "2025-07-09T10:00:01", "role": "user",
         "content": "Is KO a good candidate for mean reversion?", "topics": ["stock:KO"]},
    ))  # fmt: skip
    _current_goal(tmp_path, "Mean reversion on KO with Sharpe above 1")
    dry = run("migrate", str(tmp_path), "--dry-run", "--json")
    assert dry.exit_code == 0 and json.loads(dry.stdout)["dry_run"] is True
    assert json.loads(run("memory", "search", "KO reversion", "--json").stdout) == []
    out = run("migrate", str(tmp_path), "--json")
    rep = json.loads(out.stdout)
    assert (
        out.exit_code == 0
        and rep["totals"]["messages"] == 1
        and rep["goal"]["outcome"] == "restored"
    )
    hits = json.loads(run("memory", "search", "KO reversion", "--json").stdout)
    assert [h["content"] for h in hits] == ["Is KO a good candidate for mean reversion?"]
    goal = json.loads(run("goal", "show", "--json").stdout)
    assert goal["id"] == "legacy_cur1" and goal["text"].startswith("Mean reversion on KO")
    again = run("migrate", str(tmp_path))
    assert again.exit_code == 0 and "already imported" in again.stdout
    assert json.loads(run("audit", "verify", "--json").stdout)["ok"] is True


def test_cli_bad_input_exits_2_naming_file_and_line(run, tmp_path):
    def said(result) -> str:  # Rich wraps long lines
        return " ".join((result.stdout + result.stderr).split())

    bad = run("migrate", str(_bad_folder(tmp_path)))
    assert bad.exit_code == 2
    assert "logs/memory/chat_memory.jsonl line 3: not valid JSON" in said(bad)
    as_json = run("migrate", str(tmp_path), "--json")
    assert as_json.exit_code == 2 and "line 3" in json.loads(as_json.stdout)["error"]
    skipped = run("migrate", str(tmp_path), "--skip-bad-lines")
    assert skipped.exit_code == 0 and "skipped logs/memory/chat_memory.jsonl line 3" in said(
        skipped
    )
    missing = run("migrate", str(tmp_path / "nope"))
    assert missing.exit_code == 2 and "is not a folder" in said(missing)


def test_postgresql_import_is_the_same_and_idempotent(settings_factory, pg_url: str):
    with App(settings_factory(database_url=pg_url)) as app:
        m = open_migrator(app)
        rep = m.run(SAMPLES)
        assert rep.totals.imported == 20 and rep.goal.outcome == "restored"
        assert [c for _, c in [(m["role"], m["content"]) for m in messages(app)]][:3] == [
            "Test message 1",
            "Response 1",
            "execute",
        ]
        again = m.run(SAMPLES)
        assert again.already_imported and counts(app)["legacy_records"] == 20
        assert_chain_verifies(app)


def test_symbolic_links_are_not_followed(app, migrator, tmp_path):
    outside = put(tmp_path / "elsewhere", "secret.jsonl", lines(msg(1, "user", "not yours")))
    put(tmp_path, "legacy/logs/chat_history.json", [msg(2, "user", "mine")])
    (tmp_path / "legacy/logs/memory").mkdir(parents=True)
    (tmp_path / "legacy/logs/memory/chat_memory.jsonl").symlink_to(outside)
    rep = migrator.run(tmp_path / "legacy")
    assert rep.notes == ["logs/memory/chat_memory.jsonl: a symbolic link, not followed"]
    assert [m["content"] for m in messages(app)] == ["mine"]


def test_a_linked_folder_is_not_followed(app, migrator, tmp_path):
    put(tmp_path / "elsewhere", "chat_memory.jsonl", lines(msg(1, "user", "not yours")))
    put(tmp_path, "legacy/logs/chat_history.json", [msg(2, "user", "mine")])
    (tmp_path / "legacy/logs/memory").symlink_to(tmp_path / "elsewhere", target_is_directory=True)
    rep = migrator.run(tmp_path / "legacy")
    assert rep.notes == ["logs/memory: a symbolic link, not followed"]
    assert [m["content"] for m in messages(app)] == ["mine"]
