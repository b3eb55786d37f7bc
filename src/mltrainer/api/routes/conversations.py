"""``/conversations``: chat conversations and their stored messages (from memory).

A conversation's messages are rows of the unified memory, so they outlive the server; a
conversation is ``open`` while this server holds its state and ``POST /chat`` with its id
can continue it (after a restart, start a new one: the messages stay readable here)."""

from __future__ import annotations

from fastapi import APIRouter, Query

from ...errors import NotFound
from ..deps import ServicesDep, TokenDep
from ..schemas import ConversationPublic, ConversationsPublic, MessagePublic, MessagesPublic

router = APIRouter(prefix="/conversations", tags=["conversations"])


@router.get("", response_model=ConversationsPublic)
def list_conversations(
    services: ServicesDep, limit: int = Query(50, ge=1, le=1000)
) -> ConversationsPublic:
    """Conversations with stored messages, most recently active first."""
    rows = services.memory.conversations(limit=limit)
    data = [ConversationPublic(**r, open=r["id"] in services.conversations) for r in rows]
    return ConversationsPublic(data=data, count=len(data))


@router.post("", response_model=ConversationPublic, status_code=201)
def create_conversation(services: ServicesDep, token: TokenDep) -> ConversationPublic:
    """Open an empty conversation (the first ``POST /chat`` without an id does the same)."""
    _lock, conv = services.conversation(None, user=token.name)
    return ConversationPublic(id=conv.id, messages=0, first_at=None, last_at=None, open=True)


@router.get("/{conversation_id}/messages", response_model=MessagesPublic)
def messages(
    conversation_id: str, services: ServicesDep, limit: int = Query(200, ge=1, le=10_000)
) -> MessagesPublic:
    """The newest ``limit`` messages of the conversation, oldest first."""
    rows = services.memory.recent(limit=limit, conversation_id=conversation_id)
    if not rows and conversation_id not in services.conversations:
        raise NotFound(f"no conversation '{conversation_id}'")
    data = [
        MessagePublic(
            id=m.id,
            ts=m.ts,
            role=m.role,
            content=m.content,
            topics=m.topics,
            importance=m.importance,
            flags=[*m.metadata.get("flags", []), *m.compliance_flags],
            goal_id=m.goal_id,
        )
        for m in reversed(rows)
    ]
    return MessagesPublic(data=data, count=len(data))
