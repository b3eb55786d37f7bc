"""Request dependencies: the services built at startup, and the bearer-token check.

:func:`require_token` is a dependency of the whole ``/api/v1`` router, so a new route
cannot forget it: no or an unknown token is 401; a ``read`` token on anything but GET/HEAD
is 403. The token's name is the actor of the audit records a request causes.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Annotated, Any

from fastapi import Depends, HTTPException, Request, status

from ..app import App
from ..executor import UnifiedExecutor
from .tokens import TokenInfo, TokenStore

if TYPE_CHECKING:
    from ..agent.conversation import Conversation
    from ..goals import GoalSystem
    from ..memory import UnifiedMemory
    from ..runs.store import RunStore

__all__ = [
    "Services",
    "ServicesDep",
    "AppDep",
    "ExecutorDep",
    "TokenDep",
    "require_token",
    "READ_METHODS",
]

READ_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
MAX_CONVERSATIONS = 64
"""Open chat conversations kept in memory; the least recently used one is dropped."""


@dataclass
class Services:
    """Everything the routes use, built once per process in the lifespan."""

    app: App
    executor: UnifiedExecutor
    tokens: TokenStore
    goals: GoalSystem
    memory: UnifiedMemory
    runs: RunStore
    conversations: OrderedDict[str, tuple[threading.Lock, Conversation]] = field(
        default_factory=OrderedDict
    )
    lock: threading.Lock = field(default_factory=threading.Lock)

    @classmethod
    def build(cls, app: App) -> Services:
        from ..goals import GoalSystem
        from ..memory import UnifiedMemory

        ex = UnifiedExecutor(app)
        resolve = app.data.lookup_symbol
        return cls(
            app=app,
            executor=ex,
            tokens=TokenStore(app.engine, app.audit),
            goals=GoalSystem(app.engine, app.gateway, app.audit, resolve_symbol=resolve),
            memory=UnifiedMemory(
                app.engine, known_models=ex.registry.ids(), resolve_symbol=resolve, scrub=app.scrub
            ),
            runs=ex.runs,
        )

    def conversation(self, conv_id: str | None, user: str) -> tuple[threading.Lock, Conversation]:
        """The open conversation ``conv_id`` (404 if unknown), or a new one for ``user``.

        Each conversation has an executor of its own (sharing the model registry): the
        agent's goal and memory actions and the goal in force belong to one conversation.
        """
        from ..agent.session import open_conversation
        from ..errors import NotFound

        with self.lock:
            if conv_id is not None:
                if conv_id not in self.conversations:
                    raise NotFound(f"no open conversation '{conv_id}'; omit the id to start one")
                self.conversations.move_to_end(conv_id)
                return self.conversations[conv_id]
            ex = UnifiedExecutor(self.app, registry=self.executor.registry)
            conv = open_conversation(self.app, executor=ex, user=user)
            entry = (threading.Lock(), conv)
            self.conversations[conv.id] = entry
            while len(self.conversations) > MAX_CONVERSATIONS:
                self.conversations.popitem(last=False)
            return entry

    def close(self) -> None:
        self.executor.shutdown()
        for _lock, conv in self.conversations.values():
            conv.executor.shutdown()
        self.app.close()


def get_services(request: Request) -> Services:
    return request.app.state.services


ServicesDep = Annotated[Services, Depends(get_services)]


def get_app(services: ServicesDep) -> App:
    return services.app


def get_executor(services: ServicesDep) -> UnifiedExecutor:
    return services.executor


AppDep = Annotated[App, Depends(get_app)]
ExecutorDep = Annotated[UnifiedExecutor, Depends(get_executor)]


def _unauthorized(detail: str) -> HTTPException:
    return HTTPException(
        status.HTTP_401_UNAUTHORIZED, detail=detail, headers={"WWW-Authenticate": "Bearer"}
    )


def require_token(request: Request, services: ServicesDep) -> TokenInfo:
    """The token of ``Authorization: Bearer <token>``; 401 when missing or unknown, 403
    when a read token asks for a write (any method but GET/HEAD/OPTIONS)."""
    cached: Any = getattr(request.state, "token", None)
    if isinstance(cached, TokenInfo):
        return cached
    header = request.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "bearer" or not value.strip():
        raise _unauthorized(
            "a bearer token is required; create one with: mltrainer token create NAME"
        )
    info = services.tokens.authenticate(value.strip())
    if info is None:
        raise _unauthorized("the bearer token is unknown or revoked")
    if request.method not in READ_METHODS and not info.can_write():
        raise HTTPException(
            status.HTTP_403_FORBIDDEN,
            detail=f"token '{info.name}' has scope read; this request needs a write token",
        )
    request.state.token = info
    return info


TokenDep = Annotated[TokenInfo, Depends(require_token)]
