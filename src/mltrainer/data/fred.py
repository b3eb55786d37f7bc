"""The ``fred`` source, through ``fredapi``.

fredapi builds FRED's XML request URLs; we override its one fetch method so requests get
a timeout, retries with exponential backoff on 429 and 5xx, and errors that never echo
the API key. The base URL is configurable (``MLTRAINER_FRED_BASE_URL``).
"""

from __future__ import annotations

import logging
import time
import urllib.error
import urllib.request
import xml.etree.ElementTree as ET

from ..errors import DataError
from .market import MarketData, make_provenance, normalise_frame, slice_frame, validate_frame

__all__ = ["FredSource"]

log = logging.getLogger(__name__)


def _make_client(api_key: str, base_url: str, timeout_s: float, retries: int):
    from fredapi import Fred

    class _Fred(Fred):
        root_url = base_url.rstrip("/")

        def _Fred__fetch_data(self, url: str):  # overrides fredapi's private fetch
            full = url + "&api_key=" + self.api_key
            delay = 0.5
            for attempt in range(retries + 1):
                try:
                    with urllib.request.urlopen(full, timeout=timeout_s) as resp:
                        return ET.fromstring(resp.read())
                except urllib.error.HTTPError as exc:
                    retryable = exc.code == 429 or exc.code >= 500
                    if retryable and attempt < retries:
                        log.warning("fred: HTTP %s, retrying in %.1fs", exc.code, delay)
                        time.sleep(delay)
                        delay *= 2
                        continue
                    try:
                        message = ET.fromstring(exc.read()).get("message") or exc.reason
                    except ET.ParseError:
                        message = exc.reason
                    raise DataError(f"FRED answered HTTP {exc.code}: {message}") from None
                except (urllib.error.URLError, TimeoutError, OSError) as exc:
                    if attempt < retries:
                        time.sleep(delay)
                        delay *= 2
                        continue
                    reason = getattr(exc, "reason", exc)
                    raise DataError(f"FRED is unreachable at {self.root_url}: {reason}") from None
                except ET.ParseError as exc:
                    raise DataError(f"FRED sent a malformed response: {exc}") from None
            raise DataError("FRED request failed")  # pragma: no cover

    return _Fred(api_key=api_key)


class FredSource:
    id = "fred"

    def __init__(
        self, api_key: str | None, base_url: str, timeout_s: float = 20.0, retries: int = 3
    ):
        self._api_key = api_key
        self.base_url = base_url
        self.timeout_s = timeout_s
        self.retries = retries

    def fetch(self, symbol: str, start=None, end=None, interval: str | None = None) -> MarketData:
        if not self._api_key:
            raise DataError(
                "the fred source needs an API key: set FRED_API_KEY "
                "(or use source 'bundled' for CPILFESL, DCOILWTICO, AAA, BAA offline)"
            )
        series_id = symbol.upper()
        client = _make_client(self._api_key, self.base_url, self.timeout_s, self.retries)
        try:
            s = client.get_series(series_id, observation_start=start, observation_end=end)
        except DataError:
            raise
        except ValueError as e:
            raise DataError(f"FRED could not serve {series_id}: {e}") from e
        s = s.dropna()  # FRED's "." marks a missing observation
        if s.empty:
            raise DataError(f"FRED returned no observations for {series_id} in {start}..{end}")
        df = normalise_frame(s.to_frame("value"), series_id)
        validate_frame(df, series_id, "economic")
        df = slice_frame(df, series_id, start, end)
        prov = make_provenance(
            df,
            source=self.id,
            dataset=f"series/observations?series_id={series_id}",
            symbol=series_id,
            interval=interval or "fred",
            vendor="FRED (Federal Reserve Bank of St. Louis)",
        )
        return MarketData(
            symbol=series_id, kind="economic", interval=prov.interval, frame=df, provenance=prov
        )
