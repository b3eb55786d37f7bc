"""Builds a ready :class:`Conversation` from an :class:`~mltrainer.app.App`."""

from __future__ import annotations

from typing import TYPE_CHECKING

from .conversation import Conversation

if TYPE_CHECKING:
    from ..app import App
    from ..executor import UnifiedExecutor
    from .providers import Provider

__all__ = ["open_conversation"]


def open_conversation(
    app: App,
    provider: Provider | None = None,
    executor: UnifiedExecutor | None = None,
    user: str = "user",
) -> Conversation:
    from ..executor import UnifiedExecutor
    from ..goals import GoalSystem
    from ..memory import UnifiedMemory
    from .offline import OfflinePlanner
    from .providers import make_provider

    ex = executor or UnifiedExecutor(app)
    resolve = app.data.lookup_symbol
    goals = GoalSystem(app.engine, app.gateway, app.audit, resolve_symbol=resolve)
    memory = UnifiedMemory(
        app.engine, known_models=ex.registry.ids(), resolve_symbol=resolve, scrub=app.scrub
    )
    prov = provider or make_provider(app.settings)
    conv = Conversation(ex, prov, goals, memory, max_steps=app.settings.llm_max_steps, user=user)
    if isinstance(prov, OfflinePlanner) and prov.bridge is None:
        prov.bridge = conv.bridge
    return conv
