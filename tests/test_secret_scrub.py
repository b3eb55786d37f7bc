"""Secrets are scrubbed by value: a key a server echoes back reaches no output at all.

The local Polygon and FRED servers in ``mode = "echo"`` answer every request with HTTP 400
and an error message holding the request line and every request header, so the key
(Polygon: ``Authorization: Bearer KEY``; FRED: ``?api_key=KEY``) comes back inside the
vendor's own error text. It must not reach stdout, stderr, the audit log, the trials
table, any other table, or a log record.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Iterator

import pytest
from sqlalchemy import MetaData, select

from mltrainer.app import App
from mltrainer.errors import DataError
from mltrainer.scrub import REDACTED, Scrubber
from mltrainer.trials.spec import TrialSpec
from mltrainer.trials.store import TrialStore
from vendor_servers import FredServer, PolygonServer

SECRET = "pk_Zq8sEcReT_4f2c9a77"  # distinctive, so any leak is easy to find
FRED_SECRET = "fred0b1c2d3e4f5a6b7c8d9e0f1a2b3c4d"


@pytest.fixture
def echo_polygon() -> Iterator[PolygonServer]:
    with PolygonServer(api_key=SECRET) as srv:
        srv.mode = "echo"
        yield srv


@pytest.fixture
def echo_fred() -> Iterator[FredServer]:
    with FredServer(api_key=FRED_SECRET) as srv:
        srv.mode = "echo"
        yield srv


def _every_stored_value(app: App) -> str:
    """Every row of every table, as one text."""
    meta = MetaData()
    meta.reflect(app.engine)
    parts = []
    with app.engine.connect() as c:
        for table in meta.sorted_tables:
            parts += [repr(tuple(row)) for row in c.execute(select(table))]
    return "\n".join(parts)


def test_trial_run_through_the_cli_leaks_no_echoed_key(
    settings, echo_polygon, monkeypatch, capsys, caplog
):
    from mltrainer.cli import main

    monkeypatch.setenv("MLTRAINER_HOME", str(settings.home))
    monkeypatch.setenv("POLYGON_API_KEY", SECRET)
    monkeypatch.setenv("MLTRAINER_POLYGON_BASE_URL", echo_polygon.url)
    monkeypatch.setenv("MLTRAINER_HTTP_RETRIES", "0")
    args = ["trial", "run", "-m", "ridge", "-s", "AAPL", "--source", "polygon"]
    args += ["--start", "2015-01-01", "--end", "2016-12-31", "--max-folds", "1", "--no-report"]
    monkeypatch.setattr(sys, "argv", ["mltrainer", "-v", *args])
    caplog.set_level(logging.DEBUG)
    with pytest.raises(SystemExit) as exit_info:
        main()
    assert exit_info.value.code == 2
    # The server did get the key and echoed it: the test is not vacuous.
    assert echo_polygon.requests and SECRET in str(echo_polygon.requests[0].headers)

    out, err = capsys.readouterr()
    assert SECRET not in out and SECRET not in err
    assert "polygon request for AAPL failed" in err and REDACTED in err
    assert all(SECRET not in r.getMessage() for r in caplog.records)
    assert SECRET not in caplog.text

    with App(settings) as app:
        (trial,) = TrialStore(app.engine).list()
        assert trial["status"] == "failed" and REDACTED in trial["error"]
        failed = app.audit.records(("trial.failed",))
        assert failed and REDACTED in failed[-1].payload["error"]
        assert SECRET not in _every_stored_value(app)
        assert app.audit.verify().ok


def test_fred_key_echoed_in_the_query_string_is_scrubbed(settings_factory, echo_fred):
    settings = settings_factory(
        fred_api_key=FRED_SECRET, fred_base_url=echo_fred.url, http_retries=0
    )
    with App(settings) as app:
        with pytest.raises(DataError) as exc_info:
            app.data.fetch("CPILFESL", source="fred", start="2010-01-01", end="2010-12-31")
        assert echo_fred.requests[0].query["api_key"] == FRED_SECRET
        assert FRED_SECRET not in str(exc_info.value)
        assert REDACTED in str(exc_info.value)
        assert FRED_SECRET not in _every_stored_value(app)


def test_executor_error_for_the_agent_holds_no_key(settings_factory, echo_polygon):
    from mltrainer.executor import UnifiedExecutor

    settings = settings_factory(
        polygon_api_key=SECRET, polygon_base_url=echo_polygon.url, http_retries=0
    )
    with App(settings) as app:
        ex = UnifiedExecutor(app)
        res = ex.execute(
            "data_summary",
            {"symbol": "AAPL", "source": "polygon", "start": "2015-01-01", "end": "2015-12-31"},
        )
        ex.shutdown()
        assert res["success"] is False and REDACTED in res["error"]
        assert SECRET not in res["error"]
        assert SECRET not in _every_stored_value(app)


def test_agent_reply_and_memory_hold_no_echoed_key(settings_factory, echo_polygon):
    from mltrainer.agent.offline import OfflinePlanner
    from mltrainer.agent.session import open_conversation

    settings = settings_factory(
        polygon_api_key=SECRET, polygon_base_url=echo_polygon.url, http_retries=0
    )
    with App(settings) as app:
        conv = open_conversation(app, provider=OfflinePlanner())
        reply = conv.send("train ridge on AAPL with data_source polygon from 2015 to 2016")
        (action,) = reply.actions
        assert action.success is False and REDACTED in (action.error or "")
        assert echo_polygon.requests  # the key went out and came back
        assert SECRET not in reply.text and SECRET not in str(action)
        assert SECRET not in _every_stored_value(app)  # memory, trials, audit, all of it
        conv.executor.shutdown()


def test_a_key_pasted_into_chat_is_not_stored_in_memory(settings_factory):
    from mltrainer.agent.offline import OfflinePlanner
    from mltrainer.agent.session import open_conversation

    with App(settings_factory(polygon_api_key=SECRET)) as app:
        conv = open_conversation(app, provider=OfflinePlanner())
        conv.send(f"my polygon key is {SECRET}, which symbols can I use?")
        stored = _every_stored_value(app)
        assert SECRET not in stored and REDACTED in stored
        conv.executor.shutdown()


def test_log_records_are_scrubbed_while_the_app_is_open(settings_factory, caplog):
    caplog.set_level(logging.INFO)
    with App(settings_factory(polygon_api_key=SECRET)) as app:
        logging.getLogger("urllib3.connectionpool").warning("GET /x?apiKey=%s", SECRET)
        try:
            raise RuntimeError(f"server said: Authorization: Bearer {SECRET}")
        except RuntimeError:
            logging.getLogger("mltrainer.test").exception("fetch failed")
        audit_key = app.settings.audit_key_path.read_text().strip()
        logging.getLogger("mltrainer.test").warning("key %s", audit_key)
        flt = app.log_filter
    assert SECRET not in caplog.text and audit_key not in caplog.text
    assert "GET /x?apiKey=***" in caplog.text and "Bearer ***" in caplog.text
    root = logging.getLogger()  # closing the App took its filter off again
    assert flt not in root.filters and not any(flt in h.filters for h in root.handlers)


def test_audit_append_scrubs_secret_values_wherever_they_appear(settings_factory):
    with App(settings_factory(openai_api_key=SECRET)) as app:
        rec = app.audit.append(
            "test", {"error": f"upstream said {SECRET}", "nested": [{"text": SECRET}]}
        )
        assert rec.payload == {"error": f"upstream said {REDACTED}", "nested": [{"text": REDACTED}]}
        assert SECRET not in _every_stored_value(app)
        assert app.audit.verify().ok


def test_trial_store_fail_stores_the_error_scrubbed(app: App):
    store = TrialStore(app.engine, Scrubber([SECRET]))
    tid = store.create(TrialSpec(model_id="ridge", symbol="SPX"))
    store.fail(tid, f"HTTP 400: echo Authorization: Bearer {SECRET}")
    assert store.get(tid)["error"] == f"HTTP 400: echo Authorization: Bearer {REDACTED}"


def test_scrubber_removes_encoded_forms_and_chained_causes():
    secret = 'ab/c+d=e&f"g'
    s = Scrubber([secret, None, ""])
    from urllib.parse import quote, quote_plus

    text = f"raw {secret} url {quote(secret, safe='')} form {quote_plus(secret)}"
    assert secret not in s.text(text) and "%2F" not in s.text(text)
    assert s.text(text).count(REDACTED) == 3
    try:
        try:
            raise ValueError(f"inner {secret}")
        except ValueError as inner:
            raise DataError(f"outer {secret}") from inner
    except DataError as e:
        s.exception(e)
        assert str(e) == f"outer {REDACTED}"
        assert str(e.__cause__) == f"inner {REDACTED}"


def test_scrubber_is_built_from_every_secret_setting(settings_factory):
    values = ["polygon-secret-1", "fred-secret-22", "anthropic-secret-3", "openai-secret-44"]
    settings = settings_factory(
        polygon_api_key=values[0],
        fred_api_key=values[1],
        anthropic_api_key=values[2],
        openai_api_key=values[3],
    )
    s = Scrubber.from_settings(settings, b"audit-key-bytes-0123")
    assert s.text(" ".join([*values, "audit-key-bytes-0123"])) == " ".join([REDACTED] * 5)
    assert not any(v in repr(s) for v in values)


def test_short_values_are_not_scrubbed():
    assert Scrubber(["abc"]).text("abc abc") == "abc abc"
