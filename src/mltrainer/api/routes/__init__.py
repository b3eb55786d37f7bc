"""One router per resource. Every router in :data:`PROTECTED` is mounted behind the
bearer-token dependency; ``health`` alone is public."""

from __future__ import annotations

from . import (
    audit,
    chat,
    conversations,
    data,
    financial,
    goals,
    health,
    memory,
    metrics,
    migrate,
    models,
    research,
    runs,
    trials,
)

__all__ = ["PROTECTED", "health"]

PROTECTED = (
    models,
    data,
    trials,
    goals,
    runs,
    financial,
    memory,
    audit,
    chat,
    conversations,
    metrics,
    migrate,
    research,
)
