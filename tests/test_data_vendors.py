"""Polygon and FRED through DataService, against local servers that serve real bundled data.

The servers (``vendor_servers.py``) speak each vendor's wire format; the real clients
(polygon-api-client, fredapi) talk to them, so these tests cover URL building, paging,
retries, error translation and key hygiene end to end, with no network.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path
from types import SimpleNamespace

import pandas as pd
import pytest

import mltrainer.data.fred as fred_module
from mltrainer.app import App
from mltrainer.data import content_hash
from mltrainer.errors import DataError
from vendor_servers import FredServer, PolygonServer

SECRET = "test-key-Zq8sEcReT"  # distinctive, so a leak is easy to find


@pytest.fixture
def fred_sleeps(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """Record FredSource's backoff sleeps instead of sleeping."""
    slept: list[float] = []
    monkeypatch.setattr(fred_module, "time", SimpleNamespace(sleep=slept.append))
    return slept


@pytest.fixture
def secret_app(settings_factory, polygon_server: PolygonServer, fred_server: FredServer):
    polygon_server.api_key = fred_server.api_key = SECRET
    s = settings_factory(
        polygon_api_key=SECRET,
        polygon_base_url=polygon_server.url,
        fred_api_key=SECRET,
        fred_base_url=fred_server.url,
        http_retries=2,
        http_timeout_s=5.0,
    )
    with App(s) as a:
        yield a


def _files_under(root: Path) -> bytes:
    return b"".join(p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file())


# -- Polygon -----------------------------------------------------------------------------


def test_polygon_daily_goog_equals_bundled_goog(vendor_app: App):
    polygon = vendor_app.data.fetch("GOOG", source="polygon", start="2005-01-01", end="2010-12-31")
    bundled = vendor_app.data.fetch("GOOG", source="bundled", start="2005-01-01", end="2010-12-31")
    pd.testing.assert_frame_equal(polygon.frame, bundled.frame)
    assert polygon.provenance.sha256 == bundled.provenance.sha256


def test_polygon_provenance_names_the_vendor_and_query(vendor_app: App):
    md = vendor_app.data.fetch("GOOG", source="polygon", start="2006-01-01", end="2006-03-31")
    p = md.provenance
    assert p.source == "polygon"
    assert p.vendor == "Polygon.io"
    assert p.dataset.startswith("/v2/aggs/ticker/GOOG/range/1/day/2006-01-01/2006-03-31")
    assert p.sha256 == content_hash(md.frame)
    assert md.kind == "ohlcv"


def test_polygon_daily_bars_are_dated_by_new_york_trading_day(vendor_app: App):
    # Polygon stamps a daily bar at midnight New York time (04:00 or 05:00 UTC).
    md = vendor_app.data.fetch("SPX", source="polygon", start="2008-03-07", end="2008-03-12")
    assert list(md.frame.index) == list(
        pd.to_datetime(["2008-03-07", "2008-03-10", "2008-03-11", "2008-03-12"])
    )  # spans the 2008-03-09 DST change
    assert md.frame.loc["2008-03-07", "close"] == 1293.369995


def test_polygon_pagination_is_followed(vendor_app: App, polygon_server: PolygonServer):
    md = vendor_app.data.fetch("GOOG", source="polygon", start="2005-01-01", end="2010-12-31")
    assert len(md.frame) > polygon_server.page_size
    assert len(polygon_server.requests) == -(-len(md.frame) // polygon_server.page_size)
    first, *rest = polygon_server.requests
    assert first.query["limit"] == "50000"
    assert rest and all("cursor" in r.query for r in rest)


def test_polygon_sends_the_key_as_bearer_header(secret_app: App, polygon_server: PolygonServer):
    secret_app.data.fetch("GOOG", source="polygon", start="2006-01-01", end="2006-01-31")
    (req,) = polygon_server.requests
    assert req.headers["Authorization"] == f"Bearer {SECRET}"
    assert "apiKey" not in req.query


def test_polygon_close_only_ticker_serves_real_closes(vendor_app: App):
    polygon = vendor_app.data.fetch("AAPL", source="polygon", start="2005-01-01", end="2005-12-31")
    bundled = vendor_app.data.fetch("AAPL", source="bundled", start="2005-01-01", end="2005-12-31")
    pd.testing.assert_series_equal(polygon.frame["close"], bundled.frame["close"])


def test_polygon_retries_429_then_succeeds(vendor_app: App, polygon_server: PolygonServer):
    polygon_server.fail_next(2, status=429)
    md = vendor_app.data.fetch("GOOG", source="polygon", start="2006-01-01", end="2006-03-31")
    assert len(md.frame) > 0
    assert len(polygon_server.requests) == 3  # two refusals, then the answer
    assert len(set(polygon_server.paths())) == 1


@pytest.mark.parametrize("status", [500, 502, 503, 504])
def test_polygon_retries_5xx_then_succeeds(
    vendor_app: App, polygon_server: PolygonServer, status: int
):
    polygon_server.fail_next(1, status=status)
    md = vendor_app.data.fetch("GOOG", source="polygon", start="2006-01-01", end="2006-03-31")
    assert len(md.frame) > 0
    assert len(polygon_server.requests) == 2


def test_polygon_gives_up_after_the_configured_retries(
    vendor_app: App, polygon_server: PolygonServer
):
    polygon_server.fail_next(3, status=429)  # http_retries=2: three attempts in all
    with pytest.raises(DataError, match="429"):
        vendor_app.data.fetch("GOOG", source="polygon", start="2006-01-01", end="2006-03-31")
    assert len(polygon_server.requests) == 3


def test_polygon_down_is_a_clear_data_error(vendor_app: App, polygon_server: PolygonServer):
    polygon_server.mode = "down"
    with pytest.raises(DataError, match="polygon request for GOOG failed.*500"):
        vendor_app.data.fetch("GOOG", source="polygon", start="2006-01-01", end="2006-03-31")


def test_polygon_silent_server_times_out(settings_factory, polygon_server: PolygonServer):
    polygon_server.mode = "hang"
    s = settings_factory(
        polygon_api_key="test-key",
        polygon_base_url=polygon_server.url,
        http_retries=1,
        http_timeout_s=0.2,
    )
    outcome: list[BaseException | None] = []

    def fetch() -> None:
        try:
            with App(s) as a:
                a.data.fetch("GOOG", source="polygon", start="2006-01-01", end="2006-03-31")
            outcome.append(None)
        except BaseException as e:  # noqa: BLE001 - handed to the test thread
            outcome.append(e)

    worker = threading.Thread(target=fetch, daemon=True)
    worker.start()
    worker.join(timeout=3.0)  # two attempts at 0.2 s each, plus backoff, fit easily
    assert outcome, "polygon fetch still waiting on a silent server after 3 s"
    assert isinstance(outcome[0], DataError)


def test_polygon_missing_key_names_the_env_variable(
    settings_factory, polygon_server: PolygonServer
):
    s = settings_factory(polygon_base_url=polygon_server.url)
    with App(s) as a, pytest.raises(DataError, match="POLYGON_API_KEY"):
        a.data.fetch("GOOG", source="polygon", start="2006-01-01", end="2006-03-31")
    assert polygon_server.requests == []


def test_polygon_wrong_key_is_a_data_error(settings_factory, polygon_server: PolygonServer):
    s = settings_factory(polygon_api_key="wrong-key-0042", polygon_base_url=polygon_server.url)
    with App(s) as a, pytest.raises(DataError, match="Unknown API Key") as exc_info:
        a.data.fetch("GOOG", source="polygon", start="2006-01-01", end="2006-03-31")
    assert "wrong-key-0042" not in str(exc_info.value)


def test_polygon_unknown_ticker_is_a_data_error(vendor_app: App):
    with pytest.raises(DataError, match="no bars for ZZZZQ"):
        vendor_app.data.fetch("ZZZZQ", source="polygon", start="2006-01-01", end="2006-03-31")


def test_polygon_needs_start_and_end(vendor_app: App, polygon_server: PolygonServer):
    with pytest.raises(DataError, match="start and end"):
        vendor_app.data.fetch("GOOG", source="polygon", start="2006-01-01")
    assert polygon_server.requests == []


def test_polygon_start_after_end_is_refused_before_any_request(
    vendor_app: App, polygon_server: PolygonServer
):
    with pytest.raises(DataError, match="after"):
        vendor_app.data.fetch("GOOG", source="polygon", start="2007-01-01", end="2006-01-01")
    assert polygon_server.requests == []


def test_polygon_result_is_cached(vendor_app: App, polygon_server: PolygonServer):
    first = vendor_app.data.fetch("GOOG", source="polygon", start="2006-01-01", end="2006-03-31")
    n = len(polygon_server.requests)
    again = vendor_app.data.fetch("GOOG", source="polygon", start="2006-01-01", end="2006-03-31")
    assert len(polygon_server.requests) == n
    assert again.provenance.sha256 == first.provenance.sha256


def test_polygon_index_ticker_without_volume_loads(vendor_app: App):
    md = vendor_app.data.fetch("I:SPX", source="polygon", start="2005-01-01", end="2005-12-31")
    bundled = vendor_app.data.fetch("SPX", start="2005-01-01", end="2005-12-31")
    pd.testing.assert_series_equal(md.frame["close"], bundled.frame["close"])


def test_polygon_key_never_in_errors_audit_or_files(secret_app: App, polygon_server: PolygonServer):
    secret_app.data.fetch("GOOG", source="polygon", start="2006-01-01", end="2006-03-31")
    polygon_server.mode = "down"
    with pytest.raises(DataError) as exc_info:
        secret_app.data.fetch("GOOG", source="polygon", start="2007-01-01", end="2007-03-31")
    assert polygon_server.requests[-1].headers["Authorization"].endswith(SECRET)  # it was sent
    assert SECRET not in str(exc_info.value)
    assert SECRET not in repr(exc_info.value.__cause__)
    for rec in secret_app.audit.tail(1000):
        assert SECRET not in str(rec.to_dict())
    secret_app.close()
    assert SECRET.encode() not in _files_under(secret_app.settings.home)


# -- FRED --------------------------------------------------------------------------------


def test_fred_core_cpi_equals_bundled(vendor_app: App):
    fred = vendor_app.data.fetch("CPILFESL", source="fred", start="1990-01-01", end="2010-12-31")
    bundled = vendor_app.data.fetch("CPILFESL", start="1990-01-01", end="2010-12-31")
    pd.testing.assert_frame_equal(fred.frame, bundled.frame)
    assert fred.provenance.sha256 == bundled.provenance.sha256
    assert len(fred.frame) == 21 * 12


def test_fred_full_history_equals_bundled(vendor_app: App, fred_server: FredServer):
    fred = vendor_app.data.fetch("BAA", source="fred")
    bundled = vendor_app.data.fetch("BAA")
    pd.testing.assert_frame_equal(fred.frame, bundled.frame)
    (req,) = fred_server.requests
    assert "observation_start" not in req.query


def test_fred_request_carries_series_dates_and_key(vendor_app: App, fred_server: FredServer):
    vendor_app.data.fetch("AAA", source="fred", start="2000-01-01", end="2000-12-31")
    (req,) = fred_server.requests
    assert req.path == "/fred/series/observations"
    assert req.query["series_id"] == "AAA"
    assert req.query["observation_start"] == "2000-01-01"
    assert req.query["observation_end"] == "2000-12-31"
    assert req.query["api_key"] == "test-key"


def test_fred_missing_observations_are_dropped(vendor_app: App):
    md = vendor_app.data.fetch("DCOILWTICO", source="fred", start="1986-01-01", end="1986-12-31")
    assert md.frame["value"].notna().all()
    assert pd.Timestamp("1986-02-17") not in md.frame.index  # "." on Presidents' Day
    bundled = vendor_app.data.fetch("DCOILWTICO", start="1986-01-01", end="1986-12-31")
    pd.testing.assert_frame_equal(md.frame, bundled.frame)


def test_fred_provenance_names_the_vendor(vendor_app: App):
    md = vendor_app.data.fetch("CPILFESL", source="fred", start="2000-01-01", end="2000-12-31")
    assert md.provenance.source == "fred"
    assert "FRED" in md.provenance.vendor
    assert md.kind == "economic"
    assert list(md.frame.columns) == ["value"]


def test_fred_unknown_series_is_a_data_error(vendor_app: App):
    with pytest.raises(DataError, match="series does not exist"):
        vendor_app.data.fetch("NOSUCHSERIES", source="fred", start="2000-01-01", end="2000-12-31")


def test_fred_empty_range_is_a_data_error(vendor_app: App):
    with pytest.raises(DataError, match="no observations"):
        vendor_app.data.fetch("CPILFESL", source="fred", start="1900-01-01", end="1900-12-31")


def test_fred_retries_503_then_succeeds(
    vendor_app: App, fred_server: FredServer, fred_sleeps: list[float]
):
    fred_server.fail_next(1, status=503)
    md = vendor_app.data.fetch("CPILFESL", source="fred", start="2000-01-01", end="2000-12-31")
    assert len(md.frame) == 12
    assert len(fred_server.requests) == 2
    assert fred_sleeps == [0.5]


def test_fred_retries_429_with_growing_backoff(
    vendor_app: App, fred_server: FredServer, fred_sleeps: list[float]
):
    fred_server.fail_next(2, status=429)
    vendor_app.data.fetch("CPILFESL", source="fred", start="2000-01-01", end="2000-12-31")
    assert len(fred_server.requests) == 3
    assert fred_sleeps == [0.5, 1.0]


def test_fred_down_is_a_clear_data_error(
    vendor_app: App, fred_server: FredServer, fred_sleeps: list[float]
):
    fred_server.mode = "down"
    with pytest.raises(DataError, match="FRED answered HTTP 500"):
        vendor_app.data.fetch("CPILFESL", source="fred", start="2000-01-01", end="2000-12-31")
    assert len(fred_server.requests) == 3  # http_retries=2


def test_fred_silent_server_times_out(
    settings_factory, fred_server: FredServer, fred_sleeps: list[float]
):
    fred_server.mode = "hang"
    s = settings_factory(
        fred_api_key="test-key", fred_base_url=fred_server.url, http_retries=1, http_timeout_s=0.2
    )
    t0 = time.monotonic()
    with App(s) as a, pytest.raises(DataError, match="FRED is unreachable"):
        a.data.fetch("CPILFESL", source="fred", start="2000-01-01", end="2000-12-31")
    assert time.monotonic() - t0 < 3.0


def test_fred_unreachable_host_is_a_data_error(settings_factory, fred_sleeps: list[float]):
    with FredServer() as srv:
        url = srv.url  # a port that was just free and is now closed
    s = settings_factory(fred_api_key="test-key", fred_base_url=url, http_retries=1)
    with App(s) as a, pytest.raises(DataError, match="unreachable"):
        a.data.fetch("CPILFESL", source="fred", start="2000-01-01", end="2000-12-31")


def test_fred_missing_key_names_the_env_variable(settings_factory, fred_server: FredServer):
    s = settings_factory(fred_base_url=fred_server.url)
    with App(s) as a, pytest.raises(DataError, match="FRED_API_KEY"):
        a.data.fetch("CPILFESL", source="fred", start="2000-01-01", end="2000-12-31")
    assert fred_server.requests == []


def test_fred_wrong_key_is_a_data_error(settings_factory, fred_server: FredServer):
    s = settings_factory(fred_api_key="wrong-key-0042", fred_base_url=fred_server.url)
    with App(s) as a, pytest.raises(DataError, match="api_key is not registered") as exc_info:
        a.data.fetch("CPILFESL", source="fred", start="2000-01-01", end="2000-12-31")
    assert "wrong-key-0042" not in str(exc_info.value)


def test_fred_key_never_in_errors_audit_or_files(secret_app: App, fred_server: FredServer):
    secret_app.data.fetch("CPILFESL", source="fred", start="2000-01-01", end="2000-12-31")
    with pytest.raises(DataError) as exc_info:
        secret_app.data.fetch("NOSUCHSERIES", source="fred", start="2000-01-01", end="2000-12-31")
    assert fred_server.requests[-1].query["api_key"] == SECRET  # it was sent
    assert SECRET not in str(exc_info.value)
    for rec in secret_app.audit.tail(1000):
        assert SECRET not in str(rec.to_dict())
    secret_app.close()
    assert SECRET.encode() not in _files_under(secret_app.settings.home)
