"""Real market data: sources, normalised containers with provenance, cache, catalogue."""

from .market import MarketData, Provenance, content_hash
from .service import CatalogueEntry, DataService

__all__ = ["MarketData", "Provenance", "content_hash", "DataService", "CatalogueEntry"]
