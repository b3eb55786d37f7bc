"""Local stand-ins for the Polygon.io and FRED HTTP APIs, serving real bundled prices.

Each server listens on ``127.0.0.1`` (port 0, so the OS picks a free one), speaks its
vendor's own wire format, and is built only from real historical data shipped inside
published packages, read through those packages' own loaders or raw files, never through
mlTrainer code:

Polygon (``GET /v2/aggs/ticker/{ticker}/range/{multiplier}/{timespan}/{from}/{to}``)
    ``GOOG``      ``backtesting.test.GOOG``: daily OHLCV 2004-08-19 .. 2013-03-01.
    ``SPX``       ``arch.data.sp500``: S&P 500 daily OHLCV 1999-2018 (``Close``, not
                  ``Adj Close``; they are equal for an index).
    ``I:SPX``     the same S&P 500 bars in Polygon's *index* format: indices carry no
                  volume, so ``v``/``vw``/``n`` are omitted, as Polygon does.
    ``AAPL`` ...  the 20 stocks of ``skfolio.datasets.load_sp500_dataset`` (daily adjusted
                  close 1990-2022). The recorded fixture holds closes only, so each bar has
                  ``o = h = l = c = close`` (the real close) and ``v = 0`` (volume unknown).
                  Use these tickers where only the close matters.
    ``SPY`` is deliberately not served: the SPY ETF trades near a tenth of the index level,
    so serving S&P 500 index values under the ETF's ticker would mislabel real data.

    Daily bars are stamped, as Polygon stamps them, with midnight America/New_York in
    milliseconds since the epoch (UTC). Only ``multiplier=1, timespan=day`` is served.
    The API key is accepted as ``Authorization: Bearer KEY`` (what polygon-api-client
    sends) or ``?apiKey=KEY``; a missing or wrong key gets HTTP 401 like Polygon's.
    Results are paged: a page holds ``min(limit, page_size)`` bars and, when more remain,
    ``next_url`` is an absolute URL back to this server carrying an opaque ``cursor``.

FRED (``GET /fred/series/observations?series_id=...&api_key=...``)
    ``CPILFESL``, ``DCOILWTICO``, ``AAA``, ``BAA`` from ``arch.data``'s FRED copies, the
    values passed through as the exact strings of the file, including FRED's ``"."`` for a
    missing observation. XML as FRED sends it (``file_type=xml``, what fredapi parses);
    errors are ``<error code=".." message=".."/>`` with FRED's wording.

Both servers record every request (:attr:`requests`), can answer the next *n* requests
with a scripted status (:meth:`fail_next`), and can be switched ``mode = "down"`` (every
request answers HTTP 500), ``mode = "hang"`` (never answers until stopped) or
``mode = "echo"`` (every request answers HTTP 400 with an error message, in the vendor's
format, that echoes the request line, its query string and every request header back, as
a misconfigured proxy or debug endpoint does: the API key comes back in the body).

Use as context managers (``with PolygonServer() as srv: ... srv.url``) or through the
``polygon_server`` / ``fred_server`` fixtures in ``conftest.py``.
"""

from __future__ import annotations

import base64
import gzip
import io
import json
import re
import threading
import uuid
from collections import deque
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import cache
from http.server import BaseHTTPRequestHandler
from importlib import resources
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit
from xml.sax.saxutils import quoteattr

import pandas as pd

from local_http import LocalServer, QuietServer

__all__ = [
    "TEST_KEY",
    "PolygonServer",
    "FredServer",
    "RecordedRequest",
    "polygon_daily_frames",
    "fred_observations",
    "FRED_SERIES",
]

TEST_KEY = "test-key"

# --------------------------------------------------------------------------------------
# Real data, read straight from the packages that ship it.
# --------------------------------------------------------------------------------------

SKFOLIO_TICKERS = [
    "AAPL",
    "AMD",
    "BAC",
    "BBY",
    "CVX",
    "GE",
    "HD",
    "JNJ",
    "JPM",
    "KO",
    "LLY",
    "MRK",
    "MSFT",
    "PEP",
    "PFE",
    "PG",
    "RRC",
    "UNH",
    "WMT",
    "XOM",
]


def _ohlcv(df: pd.DataFrame) -> pd.DataFrame:
    out = df[["Open", "High", "Low", "Close", "Volume"]].astype("float64")
    out.columns = ["o", "h", "l", "c", "v"]
    out.index = pd.DatetimeIndex(out.index).as_unit("ns")
    return out


@cache
def polygon_daily_frames() -> dict[str, pd.DataFrame]:
    """Ticker -> real daily bars with columns among ``o h l c v`` (see module docstring)."""
    import arch.data.sp500
    import backtesting.test
    from skfolio.datasets import load_sp500_dataset

    frames: dict[str, pd.DataFrame] = {}
    frames["GOOG"] = _ohlcv(backtesting.test.GOOG)
    spx = _ohlcv(arch.data.sp500.load())
    frames["SPX"] = spx
    frames["I:SPX"] = spx[["o", "h", "l", "c"]]
    closes = load_sp500_dataset()
    for ticker in SKFOLIO_TICKERS:
        c = closes[ticker].dropna().astype("float64")
        c.index = pd.DatetimeIndex(c.index).as_unit("ns")
        frames[ticker] = pd.DataFrame({"o": c, "h": c, "l": c, "c": c, "v": 0.0})
    return frames


# FRED series id -> (file inside arch.data, column)
FRED_SERIES = {
    "CPILFESL": ("core_cpi/core-cpi.csv.gz", "CPILFESL"),
    "DCOILWTICO": ("wti/wti.csv.gz", "DCOILWTICO"),
    "AAA": ("default/default.csv.gz", "AAA"),
    "BAA": ("default/default.csv.gz", "BAA"),
}


@cache
def fred_observations(series_id: str) -> tuple[tuple[str, str], ...]:
    """``(YYYY-MM-DD, value string)`` pairs exactly as in the FRED copy ("." = missing)."""
    relpath, column = FRED_SERIES[series_id]
    raw = gzip.decompress(resources.files("arch.data").joinpath(relpath).read_bytes())
    df = pd.read_csv(io.BytesIO(raw), dtype=str, keep_default_na=False)
    dates = pd.to_datetime(df.iloc[:, 0], format="%m/%d/%Y").dt.strftime("%Y-%m-%d")
    return tuple(zip(dates, df[column].str.strip(), strict=True))


# --------------------------------------------------------------------------------------
# Server plumbing shared by both vendors.
# --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class RecordedRequest:
    """One request as the server saw it (``query`` keeps the last value of each name)."""

    path: str
    query: dict[str, str]
    headers: dict[str, str] = field(repr=False)


class _Handler(BaseHTTPRequestHandler):
    server: QuietServer

    def do_GET(self) -> None:  # noqa: N802 - http.server's naming
        self.server.owner._handle(self)

    def log_message(self, format: str, *args: Any) -> None:  # keep test output clean
        pass

    def send_body(self, status: int, body: bytes, content_type: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


class _VendorServer(LocalServer):
    """Threaded HTTP server on 127.0.0.1 with request recording and scripted failures."""

    url_prefix = ""
    handler = _Handler

    def __init__(self, api_key: str = TEST_KEY, hang_seconds: float = 30.0):
        super().__init__()
        self.api_key = api_key
        self.hang_seconds = hang_seconds
        self.mode = "ok"  # "ok" | "down" (HTTP 500) | "hang" (never answers) | "echo" (400)
        self.requests: list[RecordedRequest] = []
        self._failures: deque[int] = deque()
        self._lock = threading.Lock()

    @property
    def origin(self) -> str:
        assert self._httpd is not None, "server is not running"
        host, port = self._httpd.server_address[:2]
        return f"http://{host}:{port}"

    @property
    def url(self) -> str:
        """The base URL to put in Settings (``polygon_base_url`` / ``fred_base_url``)."""
        return self.origin + self.url_prefix

    # -- scripting ---------------------------------------------------------------------
    def fail_next(self, n: int, status: int = 429) -> None:
        """Answer the next ``n`` requests with HTTP ``status`` (vendor-style error body)."""
        with self._lock:
            self._failures.extend([status] * n)

    def paths(self) -> list[str]:
        return [r.path for r in self.requests]

    # -- dispatch ----------------------------------------------------------------------
    def _handle(self, h: _Handler) -> None:
        parts = urlsplit(h.path)
        query = {k: v[-1] for k, v in parse_qs(parts.query, keep_blank_values=True).items()}
        with self._lock:
            self.requests.append(RecordedRequest(parts.path, query, dict(h.headers.items())))
            scripted = self._failures.popleft() if self._failures else None
        if self.mode == "hang":
            self._stop.wait(self.hang_seconds)
            return  # close without answering
        if scripted is not None:
            return self._error(h, scripted)
        if self.mode == "down":
            return self._error(h, 500)
        if self.mode == "echo":
            headers = "; ".join(f"{k}: {v}" for k, v in h.headers.items())
            return self._error(h, 400, f"Bad request: {h.command} {h.path} (headers: {headers})")
        self._serve(h, parts.path, query)

    def _error(self, h: _Handler, status: int, message: str | None = None) -> None:
        raise NotImplementedError

    def _serve(self, h: _Handler, path: str, query: dict[str, str]) -> None:
        raise NotImplementedError


# --------------------------------------------------------------------------------------
# Polygon.io
# --------------------------------------------------------------------------------------

_AGGS = re.compile(r"^/v2/aggs/ticker/([^/]+)/range/(\d+)/([a-z]+)/([^/]+)/([^/]+)$")
_POLYGON_MESSAGES = {
    400: "Bad request",
    401: "Unknown API Key",
    403: "You are not entitled to this data. Please upgrade your plan at https://polygon.io/pricing",
    404: "Not found",
    429: "You've exceeded the maximum requests per minute, please wait or upgrade your "
    "subscription to continue. https://polygon.io/docs/#limits",
    500: "Internal server error",
    502: "Bad gateway",
    503: "Service unavailable",
    504: "Gateway timeout",
}


def _ny_midnight_ms(index: pd.DatetimeIndex) -> pd.Index:
    utc = pd.DatetimeIndex(index).tz_localize("America/New_York").tz_convert("UTC")
    return pd.Index(utc.as_unit("ms").asi8)


class PolygonServer(_VendorServer):
    """Polygon.io aggregates API (see module docstring)."""

    def __init__(self, api_key: str = TEST_KEY, page_size: int = 500, **kw: Any):
        super().__init__(api_key, **kw)
        self.page_size = page_size

    def _json(self, h: _Handler, status: int, obj: dict[str, Any]) -> None:
        h.send_body(status, json.dumps(obj).encode(), "application/json")

    def _error(self, h: _Handler, status: int, message: str | None = None) -> None:
        msg = message or _POLYGON_MESSAGES.get(status, "Error")
        kind = "NOT_FOUND" if status == 404 else "ERROR"
        self._json(h, status, {"status": kind, "request_id": uuid.uuid4().hex, "error": msg})

    def _given_key(self, h: _Handler, query: dict[str, str]) -> str | None:
        auth = h.headers.get("Authorization", "")
        if auth.startswith("Bearer "):
            return auth.removeprefix("Bearer ")
        return query.get("apiKey")

    def _serve(self, h: _Handler, path: str, query: dict[str, str]) -> None:
        key = self._given_key(h, query)
        if not key:
            return self._error(h, 401, "API Key was not provided")
        if key != self.api_key:
            return self._error(h, 401, "Unknown API Key")
        m = _AGGS.match(path)
        if not m:
            return self._error(h, 404)
        ticker, mult, timespan, frm, to = m.groups()
        if (int(mult), timespan) != (1, "day"):
            return self._error(h, 400, "this test server serves multiplier=1, timespan=day only")
        opts = dict(query)
        if "cursor" in opts:  # page 2+: the cursor carries the original options
            opts.update(parse_qs(base64.urlsafe_b64decode(opts.pop("cursor")).decode()))
            opts = {k: v[-1] if isinstance(v, list) else v for k, v in opts.items()}
        limit = min(int(opts.get("limit", 5000)), 50000)
        descending = opts.get("sort", "asc") == "desc"

        frame = polygon_daily_frames().get(ticker)
        base = {"ticker": ticker, "adjusted": opts.get("adjusted", "true") == "true"}
        if frame is None:
            body = {**base, "queryCount": 0, "resultsCount": 0, "status": "OK", "count": 0}
            return self._json(h, 200, {**body, "request_id": uuid.uuid4().hex})
        t = _ny_midnight_ms(frame.index)
        try:
            lo, hi = self._bound(frm, start=True), self._bound(to, start=False)
        except ValueError:
            return self._error(h, 400, f"Could not parse the time parameter: '{frm}' / '{to}'")
        rows = frame.assign(t=t.to_numpy())[(t >= lo) & (t <= hi)]
        if descending:
            rows = rows.iloc[::-1]
        page = rows.iloc[: min(limit, self.page_size)]
        results = []
        for ts, rec in zip(page["t"], page.drop(columns="t").to_dict("records"), strict=True):
            results.append({**{k: float(v) for k, v in rec.items()}, "t": int(ts)})
        body: dict[str, Any] = {
            **base,
            "queryCount": len(rows),
            "resultsCount": len(results),
            "results": results,
            "status": "OK",
            "request_id": uuid.uuid4().hex,
            "count": len(results),
        }
        if len(rows) > len(page):
            nxt = int(rows["t"].iloc[len(page)])
            cursor = base64.urlsafe_b64encode(
                urlencode(
                    {"limit": limit, "sort": "desc" if descending else "asc", "adjusted": "true"}
                ).encode()
            ).decode()
            if descending:  # keep the original lower bound, move the upper one
                body["next_url"] = (
                    f"{self.origin}/v2/aggs/ticker/{ticker}/range/1/day/{frm}/{nxt}?cursor={cursor}"
                )
            else:
                body["next_url"] = (
                    f"{self.origin}/v2/aggs/ticker/{ticker}/range/1/day/{nxt}/{to}?cursor={cursor}"
                )
        self._json(h, 200, body)

    @staticmethod
    def _bound(text: str, start: bool) -> int:
        """A ``from``/``to`` path value (YYYY-MM-DD or ms epoch) as inclusive ms bounds."""
        if text.isdigit():
            return int(text)
        day = pd.Timestamp(text)
        if not start:
            day = day + pd.Timedelta(days=1) - pd.Timedelta(milliseconds=1)
        return day.tz_localize("America/New_York").value // 1_000_000  # .value is UTC ns


# --------------------------------------------------------------------------------------
# FRED
# --------------------------------------------------------------------------------------

_FRED_KEY_HELP = "Read https://research.stlouisfed.org/docs/api/api_key.html for more information."
_FRED_MESSAGES = {
    400: "Bad Request.",
    404: "Not Found.",
    429: "Too Many Requests.  Exceeded Rate Limit",
    500: "Internal Server Error",
    502: "Bad Gateway",
    503: "Service Unavailable",
    504: "Gateway Timeout",
}


class FredServer(_VendorServer):
    """FRED ``series/observations`` in XML (see module docstring)."""

    url_prefix = "/fred"

    def _xml(self, h: _Handler, status: int, body: str) -> None:
        h.send_body(status, body.encode("utf-8"), "text/xml; charset=UTF-8")

    def _error(self, h: _Handler, status: int, message: str | None = None) -> None:
        msg = message or _FRED_MESSAGES.get(status, "Error")
        self._xml(
            h,
            status,
            '<?xml version="1.0" encoding="utf-8" ?>\n'
            f'<error code="{status}" message={quoteattr(msg)} />\n',
        )

    def _serve(self, h: _Handler, path: str, query: dict[str, str]) -> None:
        if path != "/fred/series/observations":
            return self._error(h, 404)
        key = query.get("api_key")
        if not key:
            return self._error(
                h, 400, f"Bad Request.  Variable api_key is not set.  {_FRED_KEY_HELP}"
            )
        if key != self.api_key:
            return self._error(
                h,
                400,
                f"Bad Request.  The value for variable api_key is not registered.  {_FRED_KEY_HELP}",
            )
        series_id = query.get("series_id", "")
        if series_id not in FRED_SERIES:
            return self._error(h, 400, "Bad Request.  The series does not exist.")
        start = query.get("observation_start", "1776-07-04")
        end = query.get("observation_end", "9999-12-31")
        for name, value in (("observation_start", start), ("observation_end", end)):
            if not re.fullmatch(r"\d{4}-\d{2}-\d{2}", value):
                return self._error(
                    h, 400, f"Bad Request.  Variable {name} can not be '{value}'.  Use YYYY-MM-DD."
                )
        obs = [(d, v) for d, v in fred_observations(series_id) if start <= d <= end]
        today = datetime.now(UTC).strftime("%Y-%m-%d")
        lines = [
            '<?xml version="1.0" encoding="utf-8" ?>',
            f'<observations realtime_start="{today}" realtime_end="{today}" '
            f'observation_start="{start}" observation_end="{end}" units="lin" '
            'output_type="1" file_type="xml" order_by="observation_date" sort_order="asc" '
            f'count="{len(obs)}" offset="0" limit="100000">',
        ]
        lines += [
            f'  <observation realtime_start="{today}" realtime_end="{today}" date="{d}" '
            f"value={quoteattr(v)}/>"
            for d, v in obs
        ]
        lines.append("</observations>")
        self._xml(h, 200, "\n".join(lines) + "\n")
