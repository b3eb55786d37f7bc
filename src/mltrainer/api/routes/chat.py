"""``/chat``: one turn with the mlTrainer agent (offline planner without a key).

``POST /chat`` answers when the turn is done; ``POST /chat/stream`` sends the same turn as
Server-Sent Events while it runs: ``text`` deltas, each ``action`` before it runs, fold
``progress`` of a running trial, then the final ``reply`` (or one ``error`` problem).
"""

from __future__ import annotations

import threading

from fastapi import APIRouter
from fastapi.sse import EventSourceResponse

from ..deps import Services, ServicesDep, TokenDep
from ..errors import problem_body
from ..schemas import ChatIn, ChatReply
from ..sse import SSE_RESPONSES, Emit, stream_from_thread

router = APIRouter(prefix="/chat", tags=["chat"])


def _turn(body: ChatIn, services: Services, user: str, emit: Emit | None = None) -> ChatReply:
    lock, conv = services.conversation(body.conversation_id, user=user)
    with lock:  # one turn at a time per conversation
        if emit is None:
            reply = conv.send(body.message)
        else:
            conv.executor.on_fold = lambda done, total: emit(
                "progress", {"done": done, "total": total}
            )
            try:
                reply = conv.send(
                    body.message,
                    on_text=lambda delta: emit("text", {"delta": delta}),
                    on_action=lambda name, params: emit("action", {"name": name, "params": params}),
                )
            finally:
                conv.executor.on_fold = None
    d = services.app.scrub(reply.model_dump(mode="json"))
    return ChatReply(conversation_id=conv.id, **d)


@router.post("", response_model=ChatReply)
def chat(body: ChatIn, services: ServicesDep, token: TokenDep) -> ChatReply:
    """Send ``message``; the reply carries the actions run, their results and any
    unverified-number flags. Pass the returned ``conversation_id`` to continue."""
    services.app.settings.require_message_size(body.message)
    return _turn(body, services, token.name)


@router.post("/stream", response_model=None, responses=SSE_RESPONSES)
def chat_stream(body: ChatIn, services: ServicesDep, token: TokenDep) -> EventSourceResponse:
    """The same turn as ``POST /chat``, streamed. Events: ``text`` ``{"delta"}``,
    ``action`` ``{"name", "params"}``, ``progress`` ``{"done", "total"}`` (folds),
    ``reply`` (the ChatReply), or ``error`` (a problem body) as the last event.

    The message size and the conversation id are checked before the stream starts (a
    plain 422/404 problem response); a failure during the turn is an ``error`` event."""
    services.app.settings.require_message_size(body.message)
    if body.conversation_id is not None:
        services.conversation(body.conversation_id, user=token.name)  # 404 before streaming

    def produce(emit: Emit, _closed: threading.Event) -> None:
        reply = _turn(body, services, token.name, emit)
        emit("reply", reply.model_dump(mode="json"))

    return stream_from_thread(produce, services.app.scrub, problem_body)
