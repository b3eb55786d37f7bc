"""Local stand-ins for the Anthropic Messages API and the OpenAI Chat Completions API.

The providers are tested through the vendors' *real* SDKs, so these servers speak the
vendors' exact wire formats on ``127.0.0.1`` (port 0: the OS picks a free port) and
answer from a scripted queue of model turns. Every request is recorded (method, path,
lower-cased headers, parsed JSON body) so tests can check what the SDK actually sent.

Anthropic (``POST /v1/messages``; SDK ``base_url`` = :attr:`AnthropicServer.url`)
    A :class:`Turn` is answered as a ``message`` object, or, when the request has
    ``"stream": true``, as Server-Sent Events (``message_start``, ``content_block_start``,
    ``ping``, ``content_block_delta`` with ``text_delta`` / ``input_json_delta``,
    ``content_block_stop``, ``message_delta``, ``message_stop``). Errors use Anthropic's
    body ``{"type": "error", "error": {"type": ..., "message": ...}, "request_id": ...}``.
    The key is accepted as ``x-api-key`` or ``Authorization: Bearer`` (recent SDKs send
    the latter); a wrong key gets 401 ``authentication_error``.

OpenAI (``POST /v1/chat/completions``; SDK ``base_url`` = :attr:`OpenAIServer.url`,
which ends in ``/v1``)
    A :class:`Turn` is answered as a ``chat.completion`` object, or with ``"stream": true``
    as ``chat.completion.chunk`` events (tool-call arguments split across chunks, a usage
    chunk when ``stream_options.include_usage``), then ``data: [DONE]``. Errors use
    ``{"error": {"message", "type", "param", "code"}}``; a wrong key gets 401
    ``invalid_api_key`` with the key masked the way OpenAI masks it.

Both servers also reject a transcript the real API would reject: a tool call that is not
answered by a tool result in the next turn (HTTP 400 ``invalid_request_error``), so a
conversion bug fails loudly. Besides turns, the queue can hold :class:`Failure` (an HTTP
error), :class:`Hang` (answer nothing for a while) and :class:`Truncate` (start a stream,
then close the connection). An empty queue answers HTTP 500 naming the problem.
"""

from __future__ import annotations

import contextlib
import json
import threading
import time
import uuid
from collections import deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from typing import Any

from local_http import LocalServer, QuietServer

__all__ = [
    "ANTHROPIC_TEST_KEY",
    "OPENAI_TEST_KEY",
    "AnthropicServer",
    "OpenAIServer",
    "RecordedRequest",
    "Turn",
    "ScriptedToolCall",
    "Failure",
    "Hang",
    "Truncate",
]

ANTHROPIC_TEST_KEY = "sk-ant-api03-test-0123456789abcdefXYZ"
OPENAI_TEST_KEY = "sk-proj-test-0123456789abcdefXYZ"


# --------------------------------------------------------------------------------------
# Script items
# --------------------------------------------------------------------------------------


@dataclass
class ScriptedToolCall:
    """A tool call the scripted model makes. ``raw_arguments`` overrides the JSON text."""

    name: str
    arguments: dict[str, Any] = field(default_factory=dict)
    id: str | None = None
    raw_arguments: str | None = None

    def arguments_json(self) -> str:
        return self.raw_arguments if self.raw_arguments is not None else json.dumps(self.arguments)


@dataclass
class Turn:
    """One scripted model turn: text (a list = the stream's chunks) and tool calls."""

    text: str | list[str] = ""
    tool_calls: list[ScriptedToolCall] = field(default_factory=list)
    stop_reason: str | None = None  # default: tool_use/tool_calls or end_turn/stop
    input_tokens: int = 42
    output_tokens: int = 17

    @property
    def chunks(self) -> list[str]:
        if isinstance(self.text, list):
            return self.text
        return [self.text] if self.text else []

    @property
    def full_text(self) -> str:
        return "".join(self.chunks)


@dataclass
class Failure:
    """Answer with an HTTP error in the vendor's format.

    ``in_stream=True`` (Anthropic, streaming requests only) starts a 200 event stream and
    then sends an ``error`` event, as the API does when it overloads mid-response.
    """

    status: int
    type: str
    message: str
    code: str | None = None
    headers: dict[str, str] = field(default_factory=dict)
    in_stream: bool = False


@dataclass
class Hang:
    """Send nothing for ``seconds`` (released early when the server stops)."""

    seconds: float = 10.0


@dataclass
class Truncate:
    """Start a streamed reply with ``text``, then close the connection without finishing."""

    text: str = "partial"


Script = Turn | Failure | Hang | Truncate


@dataclass
class RecordedRequest:
    """One request as the server received it."""

    method: str
    path: str
    headers: dict[str, str] = field(repr=False)
    body: Any


# --------------------------------------------------------------------------------------
# HTTP plumbing
# --------------------------------------------------------------------------------------


class _Handler(BaseHTTPRequestHandler):
    server: QuietServer
    protocol_version = "HTTP/1.0"  # one request per connection; streams end at close

    def do_POST(self) -> None:  # noqa: N802 - http.server's naming
        self.server.owner._handle(self)

    def do_GET(self) -> None:  # noqa: N802
        self.server.owner._handle(self)

    def log_message(self, format: str, *args: Any) -> None:  # keep test output clean
        pass

    def send_json(self, status: int, obj: Any, headers: dict[str, str] | None = None) -> None:
        body = json.dumps(obj).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(body)

    def start_sse(self, headers: dict[str, str] | None = None) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream; charset=utf-8")
        self.send_header("Cache-Control", "no-cache")
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()

    def write_sse(self, data: Any, event: str | None = None) -> None:
        payload = data if isinstance(data, str) else json.dumps(data)
        text = (f"event: {event}\n" if event else "") + f"data: {payload}\n\n"
        self.wfile.write(text.encode())
        self.wfile.flush()


class _LLMServer(LocalServer):
    """Threaded HTTP server on 127.0.0.1 with a script queue and request recording.

    After :meth:`stop` the port is remembered, so :attr:`url` points at a closed port.
    """

    url_prefix = ""
    endpoint = ""
    handler = _Handler

    def __init__(self, api_key: str):
        super().__init__()
        self.api_key = api_key
        self.requests: list[RecordedRequest] = []
        self._script: deque[Script] = deque()
        self._lock = threading.Lock()

    @property
    def url(self) -> str:
        """The SDK ``base_url``."""
        assert self._port is not None, "server was never started"
        return f"http://127.0.0.1:{self._port}{self.url_prefix}"

    # -- scripting -----------------------------------------------------------------------
    def push(self, *items: Script) -> None:
        with self._lock:
            self._script.extend(items)

    @property
    def pending(self) -> int:
        return len(self._script)

    def bodies(self) -> list[Any]:
        return [r.body for r in self.requests]

    # -- request handling ------------------------------------------------------------------
    def _handle(self, h: _Handler) -> None:
        length = int(h.headers.get("Content-Length") or 0)
        raw = h.rfile.read(length) if length else b""
        try:
            body = json.loads(raw) if raw else None
        except ValueError:
            body = raw.decode(errors="replace")
        headers = {k.lower(): v for k, v in h.headers.items()}
        with self._lock:
            self.requests.append(RecordedRequest(h.command, h.path.split("?")[0], headers, body))
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):  # client gave up
            self._dispatch(h, headers, body)

    def _dispatch(self, h: _Handler, headers: dict[str, str], body: Any) -> None:
        path = h.path.split("?")[0]
        if h.command != "POST" or path != self.endpoint:
            return self._error(h, 404, "not_found_error", f"no route {h.command} {path}")
        if not self._key_ok(headers):
            return self._unauthorized(h, headers)
        if not isinstance(body, dict):
            return self._error(h, 400, "invalid_request_error", "body must be a JSON object")
        problem = self._validate(body)
        if problem:
            return self._error(h, 400, "invalid_request_error", problem)
        with self._lock:
            item = self._script.popleft() if self._script else None
        stream = bool(body.get("stream"))
        if item is None:
            return self._error(h, 500, "api_error", "test server: no scripted response left")
        if isinstance(item, Hang):
            self._stop.wait(item.seconds)
            return self._error(h, 500, "api_error", "test server: hang released")
        if isinstance(item, Failure):
            if item.in_stream and stream:
                return self._stream_failure(h, body, item)
            return self._failure(h, item)
        if isinstance(item, Truncate):
            return self._truncate(h, body, item)
        if stream:
            return self._stream_turn(h, body, item)
        return self._turn(h, body, item)

    # -- vendor specifics (overridden) -----------------------------------------------------
    def _key_ok(self, headers: dict[str, str]) -> bool:
        raise NotImplementedError

    def _unauthorized(self, h: _Handler, headers: dict[str, str]) -> None:
        raise NotImplementedError

    def _validate(self, body: dict[str, Any]) -> str | None:
        raise NotImplementedError

    def _error(self, h: _Handler, status: int, etype: str, message: str) -> None:
        self._failure(h, Failure(status, etype, message))

    def _failure(self, h: _Handler, f: Failure) -> None:
        raise NotImplementedError

    def _stream_failure(self, h: _Handler, body: dict[str, Any], f: Failure) -> None:
        self._failure(h, f)

    def _turn(self, h: _Handler, body: dict[str, Any], t: Turn) -> None:
        raise NotImplementedError

    def _stream_turn(self, h: _Handler, body: dict[str, Any], t: Turn) -> None:
        raise NotImplementedError

    def _truncate(self, h: _Handler, body: dict[str, Any], t: Truncate) -> None:
        raise NotImplementedError


def _split(text: str, parts: int = 2) -> list[str]:
    """Split ``text`` into ``parts`` non-empty pieces (fewer if it is short)."""
    if len(text) < parts:
        return [text] if text else []
    step = -(-len(text) // parts)
    return [text[i : i + step] for i in range(0, len(text), step)]


# --------------------------------------------------------------------------------------
# Anthropic Messages API
# --------------------------------------------------------------------------------------


class AnthropicServer(_LLMServer):
    """``POST /v1/messages`` in Anthropic's format (see module docstring)."""

    endpoint = "/v1/messages"

    def __init__(self, api_key: str = ANTHROPIC_TEST_KEY):
        super().__init__(api_key)

    def _key_ok(self, headers: dict[str, str]) -> bool:
        given = headers.get("x-api-key") or headers.get("authorization", "").removeprefix("Bearer ")
        return given == self.api_key

    def _unauthorized(self, h: _Handler, headers: dict[str, str]) -> None:
        self._error(h, 401, "authentication_error", "invalid x-api-key")

    def _validate(self, body: dict[str, Any]) -> str | None:
        for name in ("model", "max_tokens", "messages"):
            if name not in body:
                return f"{name}: Field required"
        msgs = body["messages"]
        for i, m in enumerate(msgs):
            content = m.get("content")
            if m.get("role") not in ("user", "assistant"):
                return f"messages.{i}.role: Input should be 'user' or 'assistant'"
            if content in ("", []):
                return f"messages.{i}: all messages must have non-empty content"
            if m["role"] != "assistant" or not isinstance(content, list):
                continue
            uses = [b["id"] for b in content if b.get("type") == "tool_use"]
            if not uses:
                continue
            nxt = msgs[i + 1]["content"] if i + 1 < len(msgs) else []
            nxt = nxt if isinstance(nxt, list) else []
            answered = [b.get("tool_use_id") for b in nxt if b.get("type") == "tool_result"]
            missing = [u for u in uses if u not in answered]
            if missing:
                return (
                    f"messages.{i + 1}: `tool_use` ids were found without `tool_result` blocks "
                    f"immediately after: {', '.join(missing)}. Each `tool_use` block must have a "
                    "corresponding `tool_result` block in the next message."
                )
            kinds = [b.get("type") for b in nxt]
            if "text" in kinds and kinds.index("text") < len(answered):
                return f"messages.{i + 1}: `tool_result` blocks must come first"
        return None

    def _failure(self, h: _Handler, f: Failure) -> None:
        body = {
            "type": "error",
            "error": {"type": f.type, "message": f.message},
            "request_id": f"req_{uuid.uuid4().hex[:24]}",
        }
        h.send_json(f.status, body, {"request-id": body["request_id"], **f.headers})

    def _message(self, body: dict[str, Any], t: Turn) -> dict[str, Any]:
        content: list[dict[str, Any]] = []
        if t.full_text:
            content.append({"type": "text", "text": t.full_text})
        for c in t.tool_calls:
            c.id = c.id or f"toolu_{uuid.uuid4().hex[:24]}"
            content.append({"type": "tool_use", "id": c.id, "name": c.name, "input": c.arguments})
        stop = t.stop_reason or ("tool_use" if t.tool_calls else "end_turn")
        return {
            "id": f"msg_{uuid.uuid4().hex[:24]}",
            "type": "message",
            "role": "assistant",
            "model": body.get("model"),
            "content": content,
            "stop_reason": stop,
            "stop_sequence": None,
            "usage": {"input_tokens": t.input_tokens, "output_tokens": t.output_tokens},
        }

    def _turn(self, h: _Handler, body: dict[str, Any], t: Turn) -> None:
        h.send_json(200, self._message(body, t), {"request-id": f"req_{uuid.uuid4().hex[:24]}"})

    def _start(self, h: _Handler, msg: dict[str, Any]) -> None:
        h.start_sse({"request-id": f"req_{uuid.uuid4().hex[:24]}"})
        start = {
            **msg,
            "content": [],
            "stop_reason": None,
            "stop_sequence": None,
            "usage": {"input_tokens": msg["usage"]["input_tokens"], "output_tokens": 1},
        }
        h.write_sse({"type": "message_start", "message": start}, "message_start")
        h.write_sse({"type": "ping"}, "ping")

    def _stream_turn(self, h: _Handler, body: dict[str, Any], t: Turn) -> None:
        msg = self._message(body, t)
        self._start(h, msg)
        index = 0
        if t.chunks:
            h.write_sse(
                {
                    "type": "content_block_start",
                    "index": index,
                    "content_block": {"type": "text", "text": ""},
                },
                "content_block_start",
            )
            for chunk in t.chunks:
                delta = {"type": "text_delta", "text": chunk}
                h.write_sse(
                    {"type": "content_block_delta", "index": index, "delta": delta},
                    "content_block_delta",
                )
            h.write_sse({"type": "content_block_stop", "index": index}, "content_block_stop")
            index += 1
        for c in t.tool_calls:
            block = {"type": "tool_use", "id": c.id, "name": c.name, "input": {}}
            h.write_sse(
                {"type": "content_block_start", "index": index, "content_block": block},
                "content_block_start",
            )
            for part in [""] + _split(c.arguments_json(), 3):  # the API starts with ""
                delta = {"type": "input_json_delta", "partial_json": part}
                h.write_sse(
                    {"type": "content_block_delta", "index": index, "delta": delta},
                    "content_block_delta",
                )
            h.write_sse({"type": "content_block_stop", "index": index}, "content_block_stop")
            index += 1
        h.write_sse(
            {
                "type": "message_delta",
                "delta": {"stop_reason": msg["stop_reason"], "stop_sequence": None},
                "usage": {"output_tokens": t.output_tokens},
            },
            "message_delta",
        )
        h.write_sse({"type": "message_stop"}, "message_stop")

    def _stream_failure(self, h: _Handler, body: dict[str, Any], f: Failure) -> None:
        self._start(h, self._message(body, Turn()))
        error = {"type": "error", "error": {"type": f.type, "message": f.message}}
        h.write_sse(error, "error")

    def _truncate(self, h: _Handler, body: dict[str, Any], t: Truncate) -> None:
        self._start(h, self._message(body, Turn()))
        h.write_sse(
            {
                "type": "content_block_start",
                "index": 0,
                "content_block": {"type": "text", "text": ""},
            },
            "content_block_start",
        )
        h.write_sse(
            {
                "type": "content_block_delta",
                "index": 0,
                "delta": {"type": "text_delta", "text": t.text},
            },
            "content_block_delta",
        )
        # ... and the connection closes: no content_block_stop, message_delta, message_stop


# --------------------------------------------------------------------------------------
# OpenAI Chat Completions API
# --------------------------------------------------------------------------------------

_OPENAI_ERROR_CODES = {
    401: "invalid_api_key",
    429: "rate_limit_exceeded",
}


class OpenAIServer(_LLMServer):
    """``POST /v1/chat/completions`` in OpenAI's format (see module docstring)."""

    url_prefix = "/v1"
    endpoint = "/v1/chat/completions"

    def __init__(self, api_key: str = OPENAI_TEST_KEY):
        super().__init__(api_key)

    def _key_ok(self, headers: dict[str, str]) -> bool:
        return headers.get("authorization", "") == f"Bearer {self.api_key}"

    def _unauthorized(self, h: _Handler, headers: dict[str, str]) -> None:
        given = headers.get("authorization", "").removeprefix("Bearer ")
        masked = f"{given[:8]}{'*' * 10}{given[-4:]}" if len(given) > 12 else "***"
        self._failure(
            h,
            Failure(
                401,
                "invalid_request_error",
                f"Incorrect API key provided: {masked}. You can find your API key at "
                "https://platform.openai.com/account/api-keys.",
                code="invalid_api_key",
            ),
        )

    def _validate(self, body: dict[str, Any]) -> str | None:
        for name in ("model", "messages"):
            if name not in body:
                return f"Missing required parameter: '{name}'."
        msgs = body["messages"]
        for i, m in enumerate(msgs):
            if m.get("role") not in ("system", "developer", "user", "assistant", "tool"):
                return f"Invalid value: '{m.get('role')}'. Supported values are: 'system', ..."
            if m["role"] == "tool":
                prev_ids: list[str] = []
                for p in reversed(msgs[:i]):
                    if p["role"] == "assistant":
                        prev_ids = [c["id"] for c in p.get("tool_calls") or []]
                        break
                    if p["role"] != "tool":
                        break
                if m.get("tool_call_id") not in prev_ids:
                    return (
                        f"Invalid parameter: messages with role 'tool' must be a response to a "
                        f"preceeding message with 'tool_calls'. (messages.[{i}])"
                    )
            if m["role"] == "assistant" and m.get("tool_calls"):
                answered = []
                for nxt in msgs[i + 1 :]:
                    if nxt["role"] != "tool":
                        break
                    answered.append(nxt.get("tool_call_id"))
                missing = [c["id"] for c in m["tool_calls"] if c["id"] not in answered]
                if missing:
                    return (
                        "An assistant message with 'tool_calls' must be followed by tool messages "
                        "responding to each 'tool_call_id'. The following tool_call_ids did not "
                        f"have response messages: {', '.join(missing)}"
                    )
        return None

    def _failure(self, h: _Handler, f: Failure) -> None:
        code = f.code if f.code is not None else _OPENAI_ERROR_CODES.get(f.status)
        body = {"error": {"message": f.message, "type": f.type, "param": None, "code": code}}
        h.send_json(f.status, body, {"x-request-id": f"req_{uuid.uuid4().hex}", **f.headers})

    def _ids(self, t: Turn) -> None:
        for c in t.tool_calls:
            c.id = c.id or f"call_{uuid.uuid4().hex[:24]}"

    def _finish(self, t: Turn) -> str:
        return t.stop_reason or ("tool_calls" if t.tool_calls else "stop")

    def _usage(self, t: Turn) -> dict[str, int]:
        return {
            "prompt_tokens": t.input_tokens,
            "completion_tokens": t.output_tokens,
            "total_tokens": t.input_tokens + t.output_tokens,
        }

    def _turn(self, h: _Handler, body: dict[str, Any], t: Turn) -> None:
        self._ids(t)
        message: dict[str, Any] = {
            "role": "assistant",
            "content": t.full_text or None,
            "refusal": None,
            "annotations": [],
        }
        if t.tool_calls:
            message["tool_calls"] = [
                {
                    "id": c.id,
                    "type": "function",
                    "function": {"name": c.name, "arguments": c.arguments_json()},
                }
                for c in t.tool_calls
            ]
        reply = {
            "id": f"chatcmpl-{uuid.uuid4().hex[:29]}",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": body.get("model"),
            "choices": [
                {"index": 0, "message": message, "logprobs": None, "finish_reason": self._finish(t)}
            ],
            "usage": self._usage(t),
            "service_tier": "default",
            "system_fingerprint": "fp_test",
        }
        h.send_json(200, reply, {"x-request-id": f"req_{uuid.uuid4().hex}"})

    def _chunker(self, h: _Handler, body: dict[str, Any]):
        base = {
            "id": f"chatcmpl-{uuid.uuid4().hex[:29]}",
            "object": "chat.completion.chunk",
            "created": int(time.time()),
            "model": body.get("model"),
            "service_tier": "default",
            "system_fingerprint": "fp_test",
        }
        include_usage = bool((body.get("stream_options") or {}).get("include_usage"))

        def send(delta: dict[str, Any], finish: str | None = None) -> None:
            choice = {"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}
            chunk = {**base, "choices": [choice]}
            if include_usage:
                chunk["usage"] = None
            h.write_sse(chunk)

        def send_usage(usage: dict[str, int]) -> None:
            if include_usage:
                h.write_sse({**base, "choices": [], "usage": usage})

        return send, send_usage

    def _stream_turn(self, h: _Handler, body: dict[str, Any], t: Turn) -> None:
        self._ids(t)
        h.start_sse({"x-request-id": f"req_{uuid.uuid4().hex}"})
        send, send_usage = self._chunker(h, body)
        send({"role": "assistant", "content": "", "refusal": None})
        for chunk in t.chunks:
            send({"content": chunk})
        for i, c in enumerate(t.tool_calls):
            first = {"index": i, "id": c.id, "type": "function"}
            send({"tool_calls": [{**first, "function": {"name": c.name, "arguments": ""}}]})
            for part in _split(c.arguments_json(), 3):
                send({"tool_calls": [{"index": i, "function": {"arguments": part}}]})
        send({}, self._finish(t))
        send_usage(self._usage(t))
        h.write_sse("[DONE]")

    def _truncate(self, h: _Handler, body: dict[str, Any], t: Truncate) -> None:
        h.start_sse()
        send, _ = self._chunker(h, body)
        send({"role": "assistant", "content": "", "refusal": None})
        send({"content": t.text})
        # ... and the connection closes: no finish_reason, no [DONE]
