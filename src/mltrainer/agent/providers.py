"""Language-model providers behind one small, provider-neutral interface.

The agent loop must not care whether Claude, an OpenAI model or the offline planner is
choosing the next action, so it speaks only the types of :mod:`.messages` (re-exported
here): a transcript of :class:`Message` (user text, assistant turns that may call tools,
tool results), the :class:`ToolSpec` list the model may call, and one
:class:`ProviderResponse` per turn.

Each real provider converts that transcript into its vendor's wire format through the
vendor's official SDK, parses the reply back, and translates *every* SDK failure into
:class:`~mltrainer.errors.ProviderError`. Two rules hold everywhere:

* an API error is raised, never returned as if the model had said it (a truncated stream
  is an error too, not a short answer);
* no error message carries the API key: messages are built from the status, the
  vendor's error type and message, and are scrubbed of the key and of key-like strings.

``stop_reason`` uses Anthropic's vocabulary (``end_turn``, ``tool_use``, ``max_tokens``,
``refusal``...); OpenAI's ``finish_reason`` is mapped onto it. ``usage`` holds
``input_tokens`` / ``output_tokens`` for both vendors.
"""

from __future__ import annotations

import json
import logging
import re
import uuid
from dataclasses import dataclass
from types import ModuleType
from typing import TYPE_CHECKING, Any

from ..errors import ConfigError, ProviderError
from .messages import Message, Provider, ProviderResponse, TextCallback, ToolCall, ToolSpec

if TYPE_CHECKING:
    from ..settings import Settings

__all__ = [
    "ToolSpec",
    "ToolCall",
    "Message",
    "ProviderResponse",
    "Provider",
    "TextCallback",
    "AnthropicProvider",
    "OpenAIProvider",
    "make_provider",
    "INVALID_JSON_KEY",
]

log = logging.getLogger(__name__)

INVALID_JSON_KEY = "__invalid_json__"
"""Key of the only argument of a :class:`ToolCall` whose arguments were not a JSON object.

The raw text is kept under this key so the caller's parameter validation fails and reports
the problem back to the model, instead of the provider guessing or raising.
"""


# --------------------------------------------------------------------------------------
# Error translation (shared by both SDKs, which follow the same exception layout)
# --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Vendor:
    label: str
    key_env: str
    model_env: str
    base_url_env: str


_ANTHROPIC = _Vendor(
    "Anthropic", "ANTHROPIC_API_KEY", "MLTRAINER_ANTHROPIC_MODEL", "MLTRAINER_ANTHROPIC_BASE_URL"
)
_OPENAI = _Vendor("OpenAI", "OPENAI_API_KEY", "MLTRAINER_OPENAI_MODEL", "MLTRAINER_OPENAI_BASE_URL")

# sk-..., sk-ant-..., sk-proj-...: anything that looks like a vendor key.
_KEY_LIKE = re.compile(r"sk-[A-Za-z0-9_\-]{6,}")
_MAX_DETAIL = 300


def _scrub(text: str, secret: str) -> str:
    """Remove the key (and anything key-shaped) from ``text``."""
    if secret:
        text = text.replace(secret, "***")
    return _KEY_LIKE.sub("sk-***", text)


def _transport_errors() -> tuple[type[BaseException], ...]:
    """HTTP-library errors the SDKs may let escape (e.g. a connection dropped mid-stream)."""
    import httpx

    errors: list[type[BaseException]] = [httpx.HTTPError]
    try:
        import httpx2  # the transport of current anthropic/openai SDKs

        errors.append(httpx2.HTTPError)
    except ImportError:  # pragma: no cover - older SDKs use httpx
        pass
    return tuple(errors)


def _error_details(body: object) -> tuple[str | None, str]:
    """(error kind, message) from an error body in either vendor's format.

    The kind is Anthropic's ``error.type``, or OpenAI's ``type/code`` (the code, e.g.
    ``invalid_api_key`` or ``insufficient_quota``, is the more telling part there).
    """
    if isinstance(body, dict):
        inner = body.get("error", body)
        if isinstance(inner, dict):
            parts = [str(p) for p in (inner.get("type"), inner.get("code")) if p]
            kind = "/".join(dict.fromkeys(parts)) or None
            message = " ".join(str(inner.get("message") or "no details").split())
            return kind, message.rstrip(". ")[:_MAX_DETAIL]
    if body:
        return None, " ".join(str(body).split())[:_MAX_DETAIL]
    return None, "no details"


def _status_hint(status: int | None, etype: str | None, vendor: _Vendor) -> str:
    kinds = set((etype or "").split("/"))

    def any_of(*names: str) -> bool:
        return bool(kinds.intersection(names))

    if status == 401 or any_of("authentication_error", "invalid_api_key"):
        return f"check {vendor.key_env}"
    if status == 403 or any_of("permission_error"):
        return f"the key in {vendor.key_env} may not use this model or endpoint"
    if status == 404 or any_of("not_found_error", "model_not_found"):
        return f"check the model name ({vendor.model_env}) and {vendor.base_url_env}"
    if status == 413 or any_of("request_too_large"):
        return "the conversation is too long; start a new one"
    if status == 429 or any_of("rate_limit_error", "insufficient_quota", "rate_limit_exceeded"):
        return "rate limit or quota reached; wait a minute and retry, or check your plan"
    if status == 529 or any_of("overloaded_error"):
        return "the API is overloaded; retry in a minute"
    if (status is not None and status >= 500) or any_of("api_error", "server_error"):
        return "the provider had an internal error; retry later"
    if status in (400, 422) or any_of("invalid_request_error"):
        return (
            f"the request was rejected; check {vendor.model_env}, and report a bug if it persists"
        )
    return "retry later"


def _translate(
    exc: BaseException,
    *,
    sdk: ModuleType,
    vendor: _Vendor,
    secret: str,
    base_url: str,
    model: str,
    timeout_s: float,
) -> ProviderError:
    """Turn any SDK or transport exception into a ProviderError with a hint and no key."""
    label = vendor.label
    if isinstance(exc, sdk.APITimeoutError):
        msg = (
            f"{label} API timed out after {timeout_s:g}s (model {model}); "
            "retry later or raise MLTRAINER_LLM_TIMEOUT_S"
        )
    elif isinstance(exc, (sdk.APIConnectionError, *_transport_errors())):
        cause = exc.__cause__ or exc
        msg = (
            f"{label} API unreachable at {base_url} ({type(cause).__name__}: {cause}); "
            f"check the network and {vendor.base_url_env}"
        )
    elif isinstance(exc, sdk.APIStatusError):
        status = exc.status_code
        etype, detail = _error_details(exc.body)
        where = f"HTTP {status}" if status >= 400 else "error event in the response stream"
        kind = f", {etype}" if etype else ""
        hint = _status_hint(status if status >= 400 else None, etype, vendor)
        msg = f"{label} API error ({where}{kind}) for model {model}: {detail[:_MAX_DETAIL]}; {hint}"
    elif isinstance(exc, sdk.APIError):  # error events in streams, invalid response data
        etype, detail = _error_details(getattr(exc, "body", None) or str(exc))
        kind = f" ({etype})" if etype else ""
        hint = _status_hint(None, etype, vendor)
        msg = f"{label} API error{kind} for model {model}: {detail[:_MAX_DETAIL]}; {hint}"
    else:
        msg = f"{label} SDK error ({type(exc).__name__}): {str(exc)[:_MAX_DETAIL]}"
    return ProviderError(_scrub(msg, secret))


# --------------------------------------------------------------------------------------
# Anthropic
# --------------------------------------------------------------------------------------


def _to_anthropic_messages(messages: list[Message]) -> list[dict[str, Any]]:
    """Neutral transcript -> Anthropic ``messages``.

    Consecutive tool results become one user message of ``tool_result`` blocks (a user
    text that directly follows them joins that message after the results, as the API
    requires results to come first). Empty assistant turns are dropped: the API rejects
    empty content.
    """
    out: list[dict[str, Any]] = []
    results: list[dict[str, Any]] = []

    def flush() -> None:
        if results:
            out.append({"role": "user", "content": list(results)})
            results.clear()

    for m in messages:
        if m.role == "tool":
            results.append(
                {
                    "type": "tool_result",
                    "tool_use_id": m.tool_call_id,
                    "content": m.content,
                    "is_error": m.is_error,
                }
            )
        elif m.role == "user":
            if results:
                blocks = list(results) + (
                    [{"type": "text", "text": m.content}] if m.content else []
                )
                out.append({"role": "user", "content": blocks})
                results.clear()
            else:
                out.append({"role": "user", "content": m.content})
        else:
            flush()
            if not m.tool_calls:
                if m.content:
                    out.append({"role": "assistant", "content": m.content})
                continue
            blocks = [{"type": "text", "text": m.content}] if m.content else []
            blocks += [
                {"type": "tool_use", "id": c.id, "name": c.name, "input": c.arguments}
                for c in m.tool_calls
            ]
            out.append({"role": "assistant", "content": blocks})
    flush()
    return out


def _anthropic_tools(tools: list[ToolSpec]) -> list[dict[str, Any]]:
    return [
        {"name": t.name, "description": t.description, "input_schema": t.parameters} for t in tools
    ]


def _from_anthropic_message(msg: Any) -> ProviderResponse:
    texts: list[str] = []
    calls: list[ToolCall] = []
    for block in msg.content:
        if block.type == "text":
            texts.append(block.text)
        elif block.type == "tool_use":
            args = block.input
            if not isinstance(args, dict):
                args = {INVALID_JSON_KEY: json.dumps(args)}
            calls.append(ToolCall(id=block.id, name=block.name, arguments=dict(args)))
        # thinking / server-tool blocks carry nothing the agent acts on
    usage: dict[str, int] = {}
    if getattr(msg, "usage", None) is not None:
        for k in ("input_tokens", "output_tokens"):
            v = getattr(msg.usage, k, None)
            if isinstance(v, int):
                usage[k] = v
    return ProviderResponse(
        text="".join(texts), tool_calls=calls, stop_reason=msg.stop_reason, usage=usage
    )


class AnthropicProvider:
    """Claude through the official ``anthropic`` SDK (Messages API, tool use, streaming)."""

    name = "anthropic"

    def __init__(
        self,
        api_key: str,
        model: str,
        base_url: str | None = None,
        timeout_s: float = 60,
        max_retries: int = 2,
        max_tokens: int = 2048,
    ):
        if not api_key:
            raise ProviderError("the Anthropic provider needs an API key; set ANTHROPIC_API_KEY")
        import anthropic

        self._sdk = anthropic
        self._catch: tuple[type[BaseException], ...] = (
            anthropic.AnthropicError,
            *_transport_errors(),
        )
        self._secret = api_key
        self.model = model
        self.max_tokens = max_tokens
        self.timeout_s = timeout_s
        self._client = anthropic.Anthropic(
            api_key=api_key, base_url=base_url, timeout=timeout_s, max_retries=max_retries
        )
        self.base_url = str(self._client.base_url)

    def __repr__(self) -> str:
        return f"AnthropicProvider(model={self.model!r}, base_url={self.base_url!r})"

    def complete(
        self,
        system: str,
        messages: list[Message],
        tools: list[ToolSpec],
        on_text: TextCallback | None = None,
    ) -> ProviderResponse:
        kwargs: dict[str, Any] = {
            "model": self.model,
            "max_tokens": self.max_tokens,
            "messages": _to_anthropic_messages(messages),
        }
        if system:
            kwargs["system"] = system
        if tools:
            kwargs["tools"] = _anthropic_tools(tools)
        try:
            if on_text is None:
                msg = self._client.messages.create(**kwargs)
            else:
                msg = self._stream(kwargs, on_text)
        except self._catch as exc:
            raise self._error(exc) from None
        return _from_anthropic_message(msg)

    def _stream(self, kwargs: dict[str, Any], on_text: TextCallback) -> Any:
        with self._client.messages.stream(**kwargs) as stream:
            for text in stream.text_stream:
                on_text(text)
            try:
                msg = stream.get_final_message()
            except AssertionError:  # the stream ended before message_start
                msg = None
        if msg is None or msg.stop_reason is None:
            raise ProviderError(
                f"Anthropic API stream for model {self.model} ended before the message was "
                "complete; retry"
            )
        return msg

    def _error(self, exc: BaseException) -> ProviderError:
        return _translate(
            exc,
            sdk=self._sdk,
            vendor=_ANTHROPIC,
            secret=self._secret,
            base_url=self.base_url,
            model=self.model,
            timeout_s=self.timeout_s,
        )


# --------------------------------------------------------------------------------------
# OpenAI (and OpenAI-compatible servers)
# --------------------------------------------------------------------------------------

_OPENAI_STOP = {
    "stop": "end_turn",
    "tool_calls": "tool_use",
    "function_call": "tool_use",
    "length": "max_tokens",
    "content_filter": "refusal",
}

# OpenAI-compatible local servers (llama.cpp, vLLM, Ollama) ignore the key, but the SDK
# refuses to start without one.
_NO_KEY = "no-key-required"


def _parse_arguments(raw: str | None) -> dict[str, Any]:
    """OpenAI sends arguments as a JSON string; anything but an object is kept raw."""
    if raw is None or not raw.strip():
        return {}
    try:
        value = json.loads(raw)
    except ValueError:
        return {INVALID_JSON_KEY: raw}
    return value if isinstance(value, dict) else {INVALID_JSON_KEY: raw}


def _to_openai_messages(system: str, messages: list[Message]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = [{"role": "system", "content": system}] if system else []
    for m in messages:
        if m.role == "user":
            out.append({"role": "user", "content": m.content})
        elif m.role == "tool":
            content = f"ERROR: {m.content}" if m.is_error else m.content
            out.append({"role": "tool", "tool_call_id": m.tool_call_id, "content": content})
        elif m.tool_calls:
            out.append(
                {
                    "role": "assistant",
                    "content": m.content or None,
                    "tool_calls": [
                        {
                            "id": c.id,
                            "type": "function",
                            "function": {"name": c.name, "arguments": json.dumps(c.arguments)},
                        }
                        for c in m.tool_calls
                    ],
                }
            )
        else:
            out.append({"role": "assistant", "content": m.content})
    return out


def _openai_tools(tools: list[ToolSpec]) -> list[dict[str, Any]]:
    return [
        {
            "type": "function",
            "function": {"name": t.name, "description": t.description, "parameters": t.parameters},
        }
        for t in tools
    ]


def _openai_usage(usage: Any) -> dict[str, int]:
    if usage is None:
        return {}
    out: dict[str, int] = {}
    for ours, theirs in (("input_tokens", "prompt_tokens"), ("output_tokens", "completion_tokens")):
        v = getattr(usage, theirs, None)
        if isinstance(v, int):
            out[ours] = v
    return out


def _stop(finish_reason: str | None) -> str | None:
    return _OPENAI_STOP.get(finish_reason, finish_reason) if finish_reason else None


class OpenAIProvider:
    """OpenAI chat models (or any OpenAI-compatible server) through the ``openai`` SDK."""

    name = "openai"

    def __init__(
        self,
        api_key: str,
        model: str,
        base_url: str | None = None,
        timeout_s: float = 60,
        max_retries: int = 2,
    ):
        if not api_key and not base_url:
            raise ProviderError(
                "the OpenAI provider needs OPENAI_API_KEY (or MLTRAINER_OPENAI_BASE_URL for a "
                "local OpenAI-compatible server)"
            )
        import openai

        self._sdk = openai
        self._catch: tuple[type[BaseException], ...] = (openai.OpenAIError, *_transport_errors())
        self._secret = api_key
        self.model = model
        self.timeout_s = timeout_s
        self._client = openai.OpenAI(
            api_key=api_key or _NO_KEY,
            base_url=base_url,
            timeout=timeout_s,
            max_retries=max_retries,
        )
        self.base_url = str(self._client.base_url)

    def __repr__(self) -> str:
        return f"OpenAIProvider(model={self.model!r}, base_url={self.base_url!r})"

    def complete(
        self,
        system: str,
        messages: list[Message],
        tools: list[ToolSpec],
        on_text: TextCallback | None = None,
    ) -> ProviderResponse:
        kwargs: dict[str, Any] = {
            "model": self.model,
            "messages": _to_openai_messages(system, messages),
        }
        if tools:
            kwargs["tools"] = _openai_tools(tools)
        try:
            if on_text is None:
                return self._create(kwargs)
            return self._stream(kwargs, on_text)
        except self._catch as exc:
            raise self._error(exc) from None

    def _create(self, kwargs: dict[str, Any]) -> ProviderResponse:
        completion = self._client.chat.completions.create(**kwargs)
        if not completion.choices:
            raise ProviderError(f"OpenAI API returned no choices for model {self.model}; retry")
        choice = completion.choices[0]
        message = choice.message
        calls = [
            ToolCall(
                id=tc.id, name=tc.function.name, arguments=_parse_arguments(tc.function.arguments)
            )
            for tc in message.tool_calls or []
            if getattr(tc, "type", "function") == "function"
        ]
        text = message.content or (message.refusal or "")
        return ProviderResponse(
            text=text,
            tool_calls=calls,
            stop_reason=_stop(choice.finish_reason),
            usage=_openai_usage(completion.usage),
        )

    def _stream(self, kwargs: dict[str, Any], on_text: TextCallback) -> ProviderResponse:
        texts: list[str] = []
        slots: dict[int, dict[str, str]] = {}
        finish: str | None = None
        usage: Any = None
        stream = self._client.chat.completions.create(
            **kwargs, stream=True, stream_options={"include_usage": True}
        )
        with stream:
            for chunk in stream:
                if chunk.usage is not None:
                    usage = chunk.usage
                for choice in chunk.choices:
                    if choice.index != 0:
                        continue
                    delta = choice.delta
                    if delta.content:
                        texts.append(delta.content)
                        on_text(delta.content)
                    for tc in delta.tool_calls or []:
                        slot = slots.setdefault(tc.index, {"id": "", "name": "", "arguments": ""})
                        if tc.id:
                            slot["id"] = tc.id
                        if tc.function is not None:
                            slot["name"] += tc.function.name or ""
                            slot["arguments"] += tc.function.arguments or ""
                    if choice.finish_reason:
                        finish = choice.finish_reason
        if finish is None:
            raise ProviderError(
                f"OpenAI API stream for model {self.model} ended before the reply was complete; "
                "retry"
            )
        calls = [
            ToolCall(
                id=s["id"] or f"call_{uuid.uuid4().hex[:24]}",
                name=s["name"],
                arguments=_parse_arguments(s["arguments"]),
            )
            for _, s in sorted(slots.items())
        ]
        return ProviderResponse(
            text="".join(texts),
            tool_calls=calls,
            stop_reason=_stop(finish),
            usage=_openai_usage(usage),
        )

    def _error(self, exc: BaseException) -> ProviderError:
        return _translate(
            exc,
            sdk=self._sdk,
            vendor=_OPENAI,
            secret=self._secret,
            base_url=self.base_url,
            model=self.model,
            timeout_s=self.timeout_s,
        )


# --------------------------------------------------------------------------------------
# Choosing a provider
# --------------------------------------------------------------------------------------


def _secret(value: Any) -> str:
    if value is None:
        return ""
    raw = value.get_secret_value() if hasattr(value, "get_secret_value") else str(value)
    return raw.strip()


def make_provider(settings: Settings) -> Provider:
    """The provider ``settings.llm_provider`` asks for.

    ``auto``: Anthropic when ``ANTHROPIC_API_KEY`` is set, else OpenAI when
    ``OPENAI_API_KEY`` or ``MLTRAINER_OPENAI_BASE_URL`` is set, else the offline planner.
    Naming a vendor explicitly without its key is a :class:`ConfigError`.
    """
    choice = settings.llm_provider
    anthropic_key = _secret(settings.anthropic_api_key)
    openai_key = _secret(settings.openai_api_key)
    if choice == "auto":
        if anthropic_key:
            choice = "anthropic"
        elif openai_key or settings.openai_base_url:
            choice = "openai"
        else:
            choice = "offline"
    if choice == "anthropic":
        if not anthropic_key:
            raise ConfigError("llm_provider is 'anthropic' but ANTHROPIC_API_KEY is not set")
        log.debug("LLM provider: anthropic, model %s", settings.anthropic_model)
        return AnthropicProvider(
            anthropic_key,
            settings.anthropic_model,
            base_url=settings.anthropic_base_url,
            timeout_s=settings.llm_timeout_s,
        )
    if choice == "openai":
        if not openai_key and not settings.openai_base_url:
            raise ConfigError(
                "llm_provider is 'openai' but neither OPENAI_API_KEY nor "
                "MLTRAINER_OPENAI_BASE_URL is set"
            )
        log.debug("LLM provider: openai, model %s", settings.openai_model)
        return OpenAIProvider(
            openai_key,
            settings.openai_model,
            base_url=settings.openai_base_url,
            timeout_s=settings.llm_timeout_s,
        )
    log.debug("LLM provider: offline planner")
    from .offline import OfflinePlanner

    return OfflinePlanner()
