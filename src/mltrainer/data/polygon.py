"""The ``polygon`` source, through the official ``polygon-api-client``.

Daily and intraday aggregates (``/v2/aggs``), split-adjusted, following the vendor's
pagination (``next_url``). The client retries 429 and 5xx responses with exponential
backoff (``retries`` from settings). The base URL is configurable so tests can point
the client at a local server that speaks Polygon's JSON.
"""

from __future__ import annotations

import logging

import pandas as pd

from ..errors import DataError
from ..scrub import Scrubber
from .intervals import parse_interval
from .market import MarketData, make_provenance, normalise_frame, slice_frame, validate_frame

__all__ = ["PolygonSource"]

log = logging.getLogger(__name__)


class PolygonSource:
    id = "polygon"

    def __init__(
        self, api_key: str | None, base_url: str, timeout_s: float = 20.0, retries: int = 3
    ):
        self._api_key = api_key
        self._scrub = Scrubber([api_key])  # servers may echo the key (header or query) back
        self.base_url = base_url.rstrip("/")
        self.timeout_s = timeout_s
        self.retries = retries

    def _client(self):
        if not self._api_key:
            raise DataError(
                "the polygon source needs an API key: set POLYGON_API_KEY "
                "(or use source 'bundled' for offline data)"
            )
        from polygon import RESTClient

        client = RESTClient(
            api_key=self._api_key,
            base=self.base_url,
            connect_timeout=self.timeout_s,
            read_timeout=self.timeout_s,
            retries=self.retries,
        )
        # polygon-api-client does not hand its timeouts to urllib3; without this a silent
        # server would hang the fetch forever.
        import urllib3

        client.client.connection_pool_kw["timeout"] = urllib3.Timeout(
            connect=self.timeout_s, read=self.timeout_s
        )
        return client

    def fetch(self, symbol: str, start=None, end=None, interval: str | None = "1d") -> MarketData:
        interval = interval or "1d"
        mult, unit = parse_interval(interval)
        if unit == "quarter":
            raise DataError("polygon aggregates do not support quarterly bars")
        if start is None or end is None:
            raise DataError("the polygon source needs both start and end dates")
        ticker = symbol.upper()
        frm, to = pd.Timestamp(start).strftime("%Y-%m-%d"), pd.Timestamp(end).strftime("%Y-%m-%d")
        if frm > to:
            raise DataError(f"{ticker}: start {frm} is after end {to}")
        client = self._client()
        log.info("polygon: %s %s%s %s..%s", ticker, mult, unit, frm, to)
        try:
            aggs = list(
                client.list_aggs(
                    ticker, mult, unit, frm, to, adjusted=True, sort="asc", limit=50000
                )
            )
        except DataError:
            raise
        except Exception as e:  # the client raises urllib3/BadResponse/AuthError types
            raise DataError(
                f"polygon request for {ticker} failed: {type(e).__name__}: "
                f"{self._scrub.text(str(e))[:300]}"
            ) from e
        if not aggs:
            raise DataError(f"polygon returned no bars for {ticker} between {frm} and {to}")
        ts = pd.to_datetime([a.timestamp for a in aggs], unit="ms", utc=True).tz_convert(
            "America/New_York"
        )
        ts = ts.tz_localize(None)
        if unit in ("day", "week", "month"):
            ts = ts.normalize()
        raw = pd.DataFrame(
            {
                "open": [a.open for a in aggs],
                "high": [a.high for a in aggs],
                "low": [a.low for a in aggs],
                "close": [a.close for a in aggs],
                "volume": [a.volume for a in aggs],
            },
            index=ts,
        )
        df = normalise_frame(raw, ticker)
        if df["volume"].isna().all():  # indices (I:SPX) have no volume
            df = df.drop(columns="volume")
        validate_frame(df, ticker, "ohlcv")
        df = slice_frame(df, ticker, start, end)
        prov = make_provenance(
            df,
            source=self.id,
            dataset=f"/v2/aggs/ticker/{ticker}/range/{mult}/{unit}/{frm}/{to}?adjusted=true",
            symbol=ticker,
            interval=interval,
            vendor="Polygon.io",
        )
        return MarketData(symbol=ticker, kind="ohlcv", interval=interval, frame=df, provenance=prov)
