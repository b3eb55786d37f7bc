"""The data service: one door to every source, with compliance, cache and audit.

``fetch`` checks the source id against the policy, serves from the Parquet cache when it
can, verifies the data's provenance hash, and writes a ``data.fetch`` audit record.
"""

from __future__ import annotations

import difflib
import json
import logging
import threading
from dataclasses import asdict, dataclass
from functools import cached_property
from importlib.metadata import version
from typing import TYPE_CHECKING

from ..errors import DataError
from ..fsio import atomic_write_text
from ..scrub import Scrubber
from .bundled import BUNDLED, BundledSource
from .cache import ParquetCache
from .files import FileSource
from .sealed import HoldoutGuard, Unseal

if TYPE_CHECKING:
    from ..audit import AuditLog
    from ..compliance import ComplianceGateway
    from ..settings import Settings
    from .market import DataSource, MarketData

__all__ = ["DataService", "CatalogueEntry", "ALIASES"]

log = logging.getLogger(__name__)

# Common names users type for bundled symbols.
ALIASES = {
    "SP500": "SPX",
    "S&P500": "SPX",
    "S&P 500": "SPX",
    "^GSPC": "SPX",
    "GSPC": "SPX",
    "SPX500": "SPX",
    "NDX": "NASDAQ",
    "COMP": "NASDAQ",
    "^IXIC": "NASDAQ",
    "IXIC": "NASDAQ",
    "^VIX": "VIX",
    "GOOGL": "GOOG",
    "BTC": "BTCUSD",
    "BTC-USD": "BTCUSD",
    "EUR/USD": "EURUSD",
    "WTI": "DCOILWTICO",
    "FAMA-FRENCH": "FF3",
    "FAMA_FRENCH": "FF3",
    # Names people use in sentences ("Apple", "the S&P 500", "oil", "the dollar-euro rate").
    "S&P": "SPX",
    "SP500 INDEX": "SPX",
    "S&P 500 INDEX": "SPX",
    "SNP 500": "SPX",
    "NASDAQ COMPOSITE": "NASDAQ",
    "VOLATILITY INDEX": "VIX",
    "APPLE": "AAPL",
    "MICROSOFT": "MSFT",
    "GOOGLE": "GOOG",
    "ALPHABET": "GOOG",
    "COCA-COLA": "KO",
    "COCA COLA": "KO",
    "COKE": "KO",
    "PEPSI": "PEP",
    "PEPSICO": "PEP",
    "EXXON": "XOM",
    "EXXONMOBIL": "XOM",
    "EXXON MOBIL": "XOM",
    "CHEVRON": "CVX",
    "JOHNSON & JOHNSON": "JNJ",
    "JOHNSON AND JOHNSON": "JNJ",
    "J&J": "JNJ",
    "JPMORGAN": "JPM",
    "JP MORGAN": "JPM",
    "JPMORGAN CHASE": "JPM",
    "BANK OF AMERICA": "BAC",
    "WALMART": "WMT",
    "HOME DEPOT": "HD",
    "GENERAL ELECTRIC": "GE",
    "ELI LILLY": "LLY",
    "LILLY": "LLY",
    "MERCK": "MRK",
    "PFIZER": "PFE",
    "PROCTER & GAMBLE": "PG",
    "PROCTER AND GAMBLE": "PG",
    "P&G": "PG",
    "UNITEDHEALTH": "UNH",
    "UNITED HEALTH": "UNH",
    "BEST BUY": "BBY",
    "RANGE RESOURCES": "RRC",
    "BITCOIN": "BTCUSD",
    "OIL": "DCOILWTICO",
    "CRUDE": "DCOILWTICO",
    "CRUDE OIL": "DCOILWTICO",
    "WTI CRUDE": "DCOILWTICO",
    "EURO": "EURUSD",
    "EUR-USD": "EURUSD",
    "EUR USD": "EURUSD",
    "EURO DOLLAR": "EURUSD",
    "EURO-DOLLAR": "EURUSD",
    "DOLLAR EURO": "EURUSD",
    "DOLLAR-EURO": "EURUSD",
    "CORE CPI": "CPILFESL",
    "FAMA FRENCH": "FF3",
}


@dataclass(frozen=True)
class CatalogueEntry:
    symbol: str
    source: str
    kind: str
    interval: str
    first: str
    last: str
    rows: int
    dataset: str
    description: str
    note: str = ""
    """Which dataset was chosen where two packages hold the symbol, and why."""

    def to_dict(self) -> dict:
        return asdict(self)


class DataService:
    def __init__(
        self,
        settings: Settings,
        gateway: ComplianceGateway,
        audit: AuditLog | None = None,
        *,
        scrubber: Scrubber | None = None,
    ):
        self._gateway = gateway
        self._audit = audit
        self._scrub = scrubber or Scrubber.from_settings(settings)
        """Applied to every error a source raises: a server may echo the key back."""
        self.cache = ParquetCache(settings.cache_dir)
        self.files = FileSource(settings.imports_dir)
        self.bundled = BundledSource()
        self._settings = settings
        self._catalogue: list[CatalogueEntry] | None = None
        self._catalogue_lock = threading.Lock()
        """One thread measures the bundled summary; concurrent first callers wait for it."""
        self.holdouts = HoldoutGuard(audit.engine, gateway) if audit is not None else None
        """Refuses reads of the sealed holdout of an active search run."""

    @cached_property
    def sources(self) -> dict[str, DataSource]:
        """Every source by id. The vendor clients (and pandas with them) are loaded on the
        first fetch, not when the app starts: ``data list`` needs none of them."""
        from .fred import FredSource
        from .polygon import PolygonSource

        st = self._settings
        key = st.polygon_api_key.get_secret_value() if st.polygon_api_key else None
        fkey = st.fred_api_key.get_secret_value() if st.fred_api_key else None
        return {
            "bundled": self.bundled,
            "polygon": PolygonSource(key, st.polygon_base_url, st.http_timeout_s, st.http_retries),
            "fred": FredSource(fkey, st.fred_base_url, st.http_timeout_s, st.http_retries),
            "file": self.files,
        }

    # -- symbols -------------------------------------------------------------------
    def local_symbols(self) -> list[str]:
        """Symbols available without a network: bundled plus imported files."""
        return list(BUNDLED) + [s for s in self.files.symbols() if s not in BUNDLED]

    def resolve_symbol(self, text: str, source: str = "bundled", actor: str = "system") -> str:
        """Map user text to a catalogue symbol, or raise with suggestions.

        A source the policy does not allow is a compliance refusal (audited), never an
        "unknown symbol": the request was for data mlTrainer will not use."""
        if source not in self._gateway.policy.allowed_sources:
            self._gateway.require_source(source, actor=actor)
        if not isinstance(text, str) or not text.strip():
            raise DataError("no symbol given")
        sym = text.strip().upper()
        if source in ("polygon", "fred"):
            return sym
        known = self.bundled.symbols() if source == "bundled" else self.files.symbols()
        if sym in known:
            return sym
        if source == "bundled" and ALIASES.get(sym) in known:
            return ALIASES[sym]
        close = difflib.get_close_matches(sym, known, n=3, cutoff=0.6)
        hint = (
            f"; did you mean {', '.join(close)}?"
            if close
            else "; run 'mltrainer data list' to see what is available"
        )
        raise DataError(f"unknown symbol '{text}' for source '{source}'{hint}")

    def lookup_symbol(self, text: str, source: str = "bundled") -> str | None:
        """:meth:`resolve_symbol` for callers that probe words: None instead of an error."""
        try:
            return self.resolve_symbol(text, source)
        except DataError:
            return None

    # -- catalogue -------------------------------------------------------------------
    def _bundled_summary(self) -> dict[str, dict]:
        """First/last date, rows and note of every bundled symbol.

        Reading them means loading every dataset, which imports arch, skfolio, backtesting
        and statsmodels (about 6 s). They change only with a package, so they are measured
        once and kept in ``cache/bundled/catalogue.json`` under the packages' versions; a
        version change (or a damaged file) measures them again.
        """
        path = self.cache.root / "bundled" / "catalogue.json"
        versions = {pkg: version(pkg) for pkg in sorted({e.package for e in BUNDLED.values()})}
        try:
            stored = json.loads(path.read_text())
            if stored["versions"] == versions and set(stored["entries"]) == set(BUNDLED):
                return stored["entries"]
        except (OSError, ValueError, KeyError, TypeError):
            pass
        entries = {}
        for sym in BUNDLED:
            p = self.bundled.fetch(sym).provenance
            entries[sym] = {"first": p.first, "last": p.last, "rows": p.rows, "note": p.note}
        path.parent.mkdir(parents=True, exist_ok=True)
        atomic_write_text(path, json.dumps({"versions": versions, "entries": entries}))
        return entries

    def catalogue(self) -> list[CatalogueEntry]:
        with self._catalogue_lock:
            if self._catalogue is None:
                summary = self._bundled_summary()
                self._catalogue = [
                    CatalogueEntry(
                        sym,
                        "bundled",
                        entry.kind,
                        entry.interval,
                        summary[sym]["first"][:10],
                        summary[sym]["last"][:10],
                        summary[sym]["rows"],
                        entry.dataset,
                        entry.description,
                        summary[sym]["note"] or "",
                    )
                    for sym, entry in BUNDLED.items()
                ]
        imported = []
        for sym in self.files.symbols():
            ip = self.files.provenance(sym)
            if ip is not None:
                imported.append(
                    CatalogueEntry(
                        sym,
                        "file",
                        "imported",
                        ip.interval,
                        ip.first[:10],
                        ip.last[:10],
                        ip.rows,
                        ip.dataset,
                        f"imported from {ip.vendor}",
                    )
                )
        return self._catalogue + imported

    # -- fetching ----------------------------------------------------------------------
    def fetch(
        self,
        symbol: str,
        source: str = "bundled",
        start=None,
        end=None,
        interval: str | None = None,
        actor: str = "system",
        use_cache: bool = True,
        unseal: Unseal | None = None,
    ) -> MarketData:
        """``unseal``: a search run's capability to read its sealed holdout (see
        :mod:`mltrainer.data.sealed`); without it a request reaching a sealed range is refused."""
        self._gateway.require_source(source, actor=actor)
        src = self.sources.get(source)
        if src is None:  # allowed by a custom policy but not implemented here
            raise DataError(f"source '{source}' is allowed by the policy but has no implementation")
        sym = self.resolve_symbol(symbol, source)
        if self.holdouts is not None:
            self.holdouts.check(sym, source, end, unseal=unseal, actor=actor)
        md = (
            self.cache.get(source, sym, interval, start, end)
            if use_cache and source != "file"
            else None
        )
        hit = md is not None
        if md is None:
            try:
                md = src.fetch(sym, start=start, end=end, interval=interval)
            except Exception as e:  # the data-source edge: no secret leaves in an error
                self._scrub.exception(e)
                raise
            if use_cache and source != "file":
                self.cache.put(md, source, sym, interval, start, end)
        self._gateway.require_data(md, actor=actor)
        if self._audit is not None:
            self._audit.append(
                "data.fetch",
                {
                    "symbol": sym,
                    "source": source,
                    "start": str(start),
                    "end": str(end),
                    "interval": md.interval,
                    "rows": md.provenance.rows,
                    "sha256": md.provenance.sha256,
                    "cache_hit": hit,
                },
                actor=actor,
            )
        return md

    def import_file(
        self, path, symbol: str, vendor: str, replace: bool = False, actor: str = "user"
    ) -> MarketData:
        if not isinstance(vendor, str) or not vendor.strip():
            raise DataError("declare where the file came from: --vendor 'Vendor name / export'")
        self._gateway.require_source("file", actor=actor)
        self._gateway.require_text(vendor, actor=actor)
        audit = self._audit

        def record(md: MarketData) -> None:  # before the files are published (one unit)
            if audit is not None:
                audit.append("data.import", md.provenance.model_dump(), actor=actor)

        return self.files.import_file(path, symbol, vendor, replace=replace, before_publish=record)
