"""Real market data: sources, normalised containers with provenance, cache, catalogue.

Names are loaded on first use (PEP 562): the app needs :class:`DataService` at start, but
pandas (behind :class:`MarketData`) only once data is read.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .._lazy import lazy_names

if TYPE_CHECKING:
    from .market import MarketData, content_hash
    from .provenance import Provenance
    from .service import CatalogueEntry, DataService

__all__ = ["MarketData", "Provenance", "content_hash", "DataService", "CatalogueEntry"]

_HOME = {
    "MarketData": "market",
    "content_hash": "market",
    "Provenance": "provenance",
    "DataService": "service",
    "CatalogueEntry": "service",
}

__getattr__ = lazy_names(__name__, _HOME)
