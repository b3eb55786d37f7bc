"""Server-Sent Events from blocking work: a thread produces events, the response sends them.

A chat turn or a run is blocking code (trials, database polls). :func:`stream_from_thread`
runs the producer on a daemon thread that puts ``(event, data)`` pairs on a queue; the
response iterates the queue (Starlette runs a sync iterator in its thread pool) and sends a
comment every ``keepalive_s`` so proxies keep an idle stream open. When the client goes
away the iterator is closed; the producer finishes its unit of work (a chat turn is stored
whole, never half) and its later events are dropped; a producer that polls
waits on the ``closed`` event instead of sleeping, and stops.

Every event's data passes the App's scrubber (by key and by value) before it is framed.
"""

from __future__ import annotations

import json
import queue
import threading
from collections.abc import Callable, Iterator
from typing import Any

from fastapi.sse import EventSourceResponse, format_sse_event

from .encoding import finite

__all__ = ["Emit", "frame", "stream_from_thread", "SSE_RESPONSES"]

Emit = Callable[[str, Any], None]
_END = object()

SSE_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "A `text/event-stream` of named events; each `data:` line is JSON.",
        "content": {
            "text/event-stream": {
                "schema": {
                    "type": "object",
                    "required": ["event", "data"],
                    "properties": {"event": {"type": "string"}, "data": {"type": "string"}},
                }
            }
        },
    }
}
"""The OpenAPI entry of a streaming route: the schema of one event (OpenAPI 3.2's
reading of an SSE stream, which schemathesis checks event by event)."""


def frame(event: str, data: Any, scrub: Callable[[Any], Any] | None = None) -> bytes:
    """One SSE frame: ``event: NAME`` and a single ``data:`` line of JSON (NaN and
    infinities as null, like every JSON response), scrubbed by key and by value."""
    text = json.dumps(finite(scrub(data) if scrub else data), default=str, ensure_ascii=False)
    return format_sse_event(event=event, data_str=text)


def stream_from_thread(
    produce: Callable[[Emit, threading.Event], None],
    scrub: Callable[[Any], Any],
    on_error: Callable[[BaseException], Any],
    keepalive_s: float = 15.0,
) -> EventSourceResponse:
    """Run ``produce(emit, closed)`` on a thread and stream what it emits; ``closed`` is
    set when the client has gone (a polling producer waits on it and stops).

    An exception in ``produce`` becomes a final ``error`` event whose data is
    ``on_error(exc)`` (a problem body); the stream then ends."""
    q: queue.Queue[Any] = queue.Queue()
    closed = threading.Event()

    def emit(event: str, data: Any) -> None:
        if not closed.is_set():
            q.put((event, data))

    def run() -> None:
        try:
            produce(emit, closed)
        except BaseException as exc:  # noqa: BLE001 - every failure ends the stream as a problem
            emit("error", on_error(exc))
        finally:
            q.put(_END)

    def frames() -> Iterator[bytes]:
        worker = threading.Thread(target=run, name="mlt-sse", daemon=True)
        worker.start()
        try:
            while True:
                try:
                    item = q.get(timeout=keepalive_s)
                except queue.Empty:
                    yield b": keep-alive\n\n"
                    continue
                if item is _END:
                    return
                event, data = item
                yield frame(event, data, scrub)
        finally:
            closed.set()

    return EventSourceResponse(
        frames(), headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
    )
