"""``/memory``: full-text search over stored messages, and the memory statistics."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Query

from ..deps import ServicesDep
from ..schemas import MemoryHit, MemoryHitsPublic

router = APIRouter(prefix="/memory", tags=["memory"])


@router.get("/search", response_model=MemoryHitsPublic)
def search(
    services: ServicesDep,
    q: str = Query(..., min_length=1, description="words to find, e.g. ridge SPX"),
    k: int = Query(10, ge=1, le=1000),
) -> MemoryHitsPublic:
    """BM25-ranked messages (and results) matching ``q``."""
    services.app.settings.require_message_size(q, "query")
    hits = services.memory.search(q, k=k)
    data = [
        MemoryHit(**m.model_dump(exclude={"metadata", "compliance_flags"}), score=s)
        for m, s in hits
    ]
    return MemoryHitsPublic(data=data, count=len(data))


@router.get("/stats")
def stats(services: ServicesDep) -> dict[str, Any]:
    """``{"total", "by_role", "top_topics", "importance_histogram"}``."""
    return services.memory.stats()
