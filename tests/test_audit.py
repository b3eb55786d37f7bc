"""The hash-chained audit log: appends verify, and every kind of tampering is caught."""

from __future__ import annotations

import hashlib
import json

from sqlalchemy import text

from mltrainer.app import App
from mltrainer.audit import GENESIS, AuditLog, canonical_json


def _fill(app: App, n: int = 5) -> None:
    for i in range(1, n + 1):
        app.audit.append("test.event", {"i": i, "note": f"record {i}"}, actor="tester")


def _sql(app: App, statement: str, **params) -> None:
    with app.engine.begin() as conn:
        conn.execute(text(statement), params)


def _row(app: App, seq: int) -> dict:
    with app.engine.connect() as conn:
        return dict(
            conn.execute(text("SELECT * FROM audit_log WHERE seq = :s"), {"s": seq})
            .mappings()
            .one()
        )


def test_empty_log_verifies(app: App):
    report = app.audit.verify()
    assert report.ok
    assert report.records == 0


def test_appended_records_verify(app: App):
    _fill(app)
    report = app.audit.verify()
    assert report.ok
    assert report.records == 5
    assert report.first_bad_seq is None


def test_records_are_numbered_and_linked(app: App):
    _fill(app, 3)
    records = app.audit.tail(10)
    assert [r.seq for r in records] == [1, 2, 3]
    assert records[0].prev_hash == GENESIS
    assert records[1].prev_hash == records[0].hash
    assert records[2].prev_hash == records[1].hash


def test_append_returns_what_was_stored(app: App):
    rec = app.audit.append("test.event", {"x": 1.5, "y": [1, 2]}, actor="tester")
    (stored,) = app.audit.tail(1)
    assert stored == rec
    assert stored.actor == "tester"
    assert stored.kind == "test.event"


def test_tail_filters_by_kind(app: App):
    _fill(app, 3)
    app.audit.append("other.event", {"z": 1})
    assert [r.kind for r in app.audit.tail(10, kind="other.event")] == ["other.event"]
    assert app.audit.count() == 4


def test_edited_payload_is_detected_at_its_seq(app: App):
    _fill(app)
    _sql(app, "UPDATE audit_log SET payload = :p WHERE seq = 3", p=canonical_json({"i": 99}))
    report = app.audit.verify()
    assert not report.ok
    assert report.first_bad_seq == 3
    assert "3" in report.problem


def test_edited_kind_is_detected(app: App):
    _fill(app)
    _sql(app, "UPDATE audit_log SET kind = 'innocent' WHERE seq = 2")
    report = app.audit.verify()
    assert not report.ok
    assert report.first_bad_seq == 2


def test_deleted_middle_record_is_detected(app: App):
    _fill(app)
    _sql(app, "DELETE FROM audit_log WHERE seq = 3")
    report = app.audit.verify()
    assert not report.ok
    assert report.first_bad_seq == 3
    assert "missing" in report.problem


def test_forged_record_appended_at_the_end_is_detected(app: App):
    _fill(app)
    last = _row(app, 5)
    body = {
        "seq": 6,
        "ts": last["ts"],
        "kind": "test.event",
        "actor": "tester",
        "payload": {"i": 6},
        "prev_hash": last["hash"],
    }
    # Without the key a forger can only compute a plain SHA-256.
    forged_hash = hashlib.sha256((last["hash"] + canonical_json(body)).encode()).hexdigest()
    _sql(
        app,
        "INSERT INTO audit_log (seq, ts, kind, actor, payload, prev_hash, hash) "
        "VALUES (6, :ts, 'test.event', 'tester', :p, :prev, :h)",
        ts=last["ts"],
        p=canonical_json({"i": 6}),
        prev=last["hash"],
        h=forged_hash,
    )
    report = app.audit.verify()
    assert not report.ok
    assert report.first_bad_seq == 6


def test_forged_record_inserted_in_the_middle_is_detected(app: App):
    _fill(app)
    # Make room at seq 3 by shifting 3..5 up (descending, to keep the key unique).
    for seq in (5, 4, 3):
        _sql(app, "UPDATE audit_log SET seq = :n WHERE seq = :o", n=seq + 1, o=seq)
    prev = _row(app, 2)
    body = {
        "seq": 3,
        "ts": prev["ts"],
        "kind": "test.event",
        "actor": "tester",
        "payload": {"i": "forged"},
        "prev_hash": prev["hash"],
    }
    forged_hash = hashlib.sha256((prev["hash"] + canonical_json(body)).encode()).hexdigest()
    _sql(
        app,
        "INSERT INTO audit_log (seq, ts, kind, actor, payload, prev_hash, hash) "
        "VALUES (3, :ts, 'test.event', 'tester', :p, :prev, :h)",
        ts=prev["ts"],
        p=canonical_json({"i": "forged"}),
        prev=prev["hash"],
        h=forged_hash,
    )
    report = app.audit.verify()
    assert not report.ok
    assert report.first_bad_seq == 3


def test_swapped_records_are_detected(app: App):
    _fill(app)
    _sql(app, "UPDATE audit_log SET seq = -1 WHERE seq = 2")
    _sql(app, "UPDATE audit_log SET seq = 2 WHERE seq = 3")
    _sql(app, "UPDATE audit_log SET seq = 3 WHERE seq = -1")
    report = app.audit.verify()
    assert not report.ok
    assert report.first_bad_seq == 2


def test_swapped_payloads_are_detected(app: App):
    _fill(app)
    p2, p3 = _row(app, 2)["payload"], _row(app, 3)["payload"]
    _sql(app, "UPDATE audit_log SET payload = :p WHERE seq = 2", p=p3)
    _sql(app, "UPDATE audit_log SET payload = :p WHERE seq = 3", p=p2)
    report = app.audit.verify()
    assert not report.ok
    assert report.first_bad_seq == 2


def test_rewritten_hash_is_detected(app: App):
    _fill(app)
    _sql(app, "UPDATE audit_log SET hash = :h WHERE seq = 4", h="f" * 64)
    report = app.audit.verify()
    assert not report.ok
    assert report.first_bad_seq == 4


def test_rewritten_last_hash_is_detected(app: App):
    _fill(app)
    _sql(app, "UPDATE audit_log SET hash = :h WHERE seq = 5", h="e" * 64)
    report = app.audit.verify()
    assert not report.ok
    assert report.first_bad_seq == 5


def test_truncated_tail_is_detected_via_head(app: App):
    _fill(app)
    _sql(app, "DELETE FROM audit_log WHERE seq >= 4")
    report = app.audit.verify()
    assert not report.ok
    assert report.first_bad_seq == 4
    assert "removed from the end" in report.problem


def test_truncated_tail_with_deleted_head_is_detected(app: App):
    _fill(app)
    _sql(app, "DELETE FROM audit_log WHERE seq >= 4")
    _sql(app, "DELETE FROM audit_head")
    assert not app.audit.verify().ok


def test_appending_after_verify_keeps_the_chain_valid(app: App):
    _fill(app, 2)
    assert app.audit.verify().ok
    app.audit.append("test.event", {"i": 3})
    assert app.audit.verify().ok
    assert app.audit.verify().records == 3


def test_secret_values_are_scrubbed_from_payloads(app: App):
    app.audit.append(
        "test.secrets",
        {
            "api_key": "pk-live-0001",
            "apiKey": "pk-live-0002",
            "nested": {"password": "hunter2-0003", "FRED_API_KEY": "fred-0004"},
            "headers": [{"Authorization": "Bearer tok-0005"}],
            "token": "tok-0006",
            "symbol": "AAPL",
        },
    )
    (rec,) = app.audit.tail(1)
    assert rec.payload["api_key"] == "***"
    assert rec.payload["apiKey"] == "***"
    assert rec.payload["nested"] == {"password": "***", "FRED_API_KEY": "***"}
    assert rec.payload["headers"] == [{"Authorization": "***"}]
    assert rec.payload["symbol"] == "AAPL"
    with app.engine.connect() as conn:
        dump = json.dumps([list(r) for r in conn.execute(text("SELECT * FROM audit_log"))])
    for secret in ("pk-live-0001", "pk-live-0002", "hunter2", "fred-0004", "tok-0005", "tok-0006"):
        assert secret not in dump
    assert app.audit.verify().ok


def test_verify_with_a_different_key_fails(app: App):
    _fill(app, 3)
    other = AuditLog(app.engine, key=b"0123456789abcdef" * 4)
    report = other.verify()
    assert not report.ok
    assert report.first_bad_seq == 1


def test_verify_without_the_key_fails(app: App):
    _fill(app, 3)
    report = AuditLog(app.engine, key=None).verify()
    assert not report.ok
    assert report.first_bad_seq == 1
