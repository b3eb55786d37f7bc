"""``POST /chat``: one turn with the mlTrainer agent (offline planner without a key)."""

from __future__ import annotations

from fastapi import APIRouter

from ..deps import ServicesDep, TokenDep
from ..schemas import ChatIn, ChatReply

router = APIRouter(prefix="/chat", tags=["chat"])


@router.post("", response_model=ChatReply)
def chat(body: ChatIn, services: ServicesDep, token: TokenDep) -> ChatReply:
    """Send ``message``; the reply carries the actions run, their results and any
    unverified-number flags. Pass the returned ``conversation_id`` to continue."""
    services.app.settings.require_message_size(body.message)
    lock, conv = services.conversation(body.conversation_id, user=token.name)
    with lock:  # one turn at a time per conversation
        reply = conv.send(body.message)
    d = services.app.scrub(reply.model_dump(mode="json"))
    return ChatReply(conversation_id=conv.id, **d)
