"""The Anthropic and OpenAI providers, driven through the real SDKs against local servers.

What matters: the tool schemas, system prompt, model and key reach the API in the
vendor's format; tool calls come back parsed; tool results (including failures) go back
attached to the right call; streaming delivers text in order; and every API failure is a
:class:`ProviderError` that names the cause and never contains the key.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from llm_servers import (
    ANTHROPIC_TEST_KEY,
    OPENAI_TEST_KEY,
    AnthropicServer,
    Failure,
    Hang,
    OpenAIServer,
    ScriptedToolCall,
    Truncate,
    Turn,
)
from mltrainer.agent.providers import (
    INVALID_JSON_KEY,
    AnthropicProvider,
    Message,
    OpenAIProvider,
    Provider,
    ProviderResponse,
    ToolCall,
    ToolSpec,
    make_provider,
)
from mltrainer.errors import ConfigError, ProviderError

pytestmark = pytest.mark.timeout(30)

GOAL = "Find a daily momentum model for AAPL with out-of-sample Sharpe above 1.0"
SYSTEM = f"You are mlTrainer's research assistant.\nCurrent goal: {GOAL}"

PRICES_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "symbol": {"type": "string", "description": "ticker, e.g. AAPL"},
        "days": {"type": "integer", "minimum": 1, "maximum": 5000},
    },
    "required": ["symbol"],
    "additionalProperties": False,
}
TOOLS = [
    ToolSpec(name="get_prices", description="Load daily prices.", parameters=PRICES_SCHEMA),
    ToolSpec(
        name="list_models",
        description="List the available model ids.",
        parameters={"type": "object", "properties": {}},
    ),
]
USER = Message(role="user", content="Which model should I try first for AAPL?")


def _no_key_in(text: str, *keys: str) -> None:
    for key in keys:
        assert key not in text
        assert key[8:20] not in text  # not even a recognisable slice of it


@pytest.fixture
def anthropic_server() -> Iterator[AnthropicServer]:
    with AnthropicServer() as srv:
        yield srv


@pytest.fixture
def openai_server() -> Iterator[OpenAIServer]:
    with OpenAIServer() as srv:
        yield srv


def _anthropic(srv: AnthropicServer, **kw: Any) -> AnthropicProvider:
    opts = {"model": "claude-test-1", "timeout_s": 5.0, "max_retries": 0, **kw}
    return AnthropicProvider(opts.pop("api_key", ANTHROPIC_TEST_KEY), base_url=srv.url, **opts)


def _openai(srv: OpenAIServer, **kw: Any) -> OpenAIProvider:
    opts = {"model": "gpt-test-1", "timeout_s": 5.0, "max_retries": 0, **kw}
    return OpenAIProvider(opts.pop("api_key", OPENAI_TEST_KEY), base_url=srv.url, **opts)


# --------------------------------------------------------------------------------------
# Anthropic
# --------------------------------------------------------------------------------------


def test_anthropic_tool_round_trip(anthropic_server: AnthropicServer) -> None:
    srv = anthropic_server
    srv.push(
        Turn(
            text="Let me load the data first.",
            tool_calls=[
                ScriptedToolCall("get_prices", {"symbol": "AAPL", "days": 250}),
                ScriptedToolCall("get_prices", {"symbol": "MSFT"}),
            ],
        ),
        Turn(text="Start with a ridge model on 20-day momentum.", input_tokens=90),
    )
    provider = _anthropic(srv)
    assert isinstance(provider, Provider)

    # (a) the first turn's tool calls come back parsed
    first = provider.complete(SYSTEM, [USER], TOOLS)
    assert first.text == "Let me load the data first."
    assert [(c.name, c.arguments) for c in first.tool_calls] == [
        ("get_prices", {"symbol": "AAPL", "days": 250}),
        ("get_prices", {"symbol": "MSFT"}),
    ]
    assert all(c.id.startswith("toolu_") for c in first.tool_calls)
    assert first.stop_reason == "tool_use"
    assert first.usage == {"input_tokens": 42, "output_tokens": 17}

    # (b) what was sent
    req = srv.requests[0]
    assert (req.method, req.path) == ("POST", "/v1/messages")
    assert req.body["model"] == "claude-test-1"
    assert req.body["max_tokens"] == 2048
    assert GOAL in req.body["system"]
    assert req.body["tools"] == [
        {"name": "get_prices", "description": "Load daily prices.", "input_schema": PRICES_SCHEMA},
        {
            "name": "list_models",
            "description": "List the available model ids.",
            "input_schema": {"type": "object", "properties": {}},
        },
    ]
    assert req.body["messages"] == [{"role": "user", "content": USER.content}]
    assert not req.body.get("stream")
    # anthropic>=2 sends the key as a bearer token; older SDKs used x-api-key
    sent_key = req.headers.get("x-api-key") or req.headers["authorization"].removeprefix("Bearer ")
    assert sent_key == ANTHROPIC_TEST_KEY
    assert req.headers.get("anthropic-version")

    # (c) tool results go back in one user message, attached to the right calls
    aapl, msft = first.tool_calls
    transcript = [
        USER,
        Message(role="assistant", content=first.text, tool_calls=first.tool_calls),
        Message(role="tool", tool_call_id=aapl.id, content='{"rows": 250, "last_close": 187.2}'),
        Message(
            role="tool", tool_call_id=msft.id, content="compliance: MSFT not allowed", is_error=True
        ),
    ]
    second = provider.complete(SYSTEM, transcript, TOOLS)
    assert second == ProviderResponse(
        text="Start with a ridge model on 20-day momentum.",
        tool_calls=[],
        stop_reason="end_turn",
        usage={"input_tokens": 90, "output_tokens": 17},
    )
    sent = srv.requests[1].body["messages"]
    assert sent[1] == {
        "role": "assistant",
        "content": [
            {"type": "text", "text": "Let me load the data first."},
            {"type": "tool_use", "id": aapl.id, "name": "get_prices", "input": aapl.arguments},
            {"type": "tool_use", "id": msft.id, "name": "get_prices", "input": msft.arguments},
        ],
    }
    assert sent[2] == {
        "role": "user",
        "content": [
            {
                "type": "tool_result",
                "tool_use_id": aapl.id,
                "content": '{"rows": 250, "last_close": 187.2}',
                "is_error": False,
            },
            {
                "type": "tool_result",
                "tool_use_id": msft.id,
                "content": "compliance: MSFT not allowed",
                "is_error": True,
            },
        ],
    }
    assert len(sent) == 3


def test_anthropic_user_text_after_tool_results_joins_their_message(
    anthropic_server: AnthropicServer,
) -> None:
    srv = anthropic_server
    srv.push(Turn(text="ok"))
    call = ToolCall(id="toolu_1", name="list_models", arguments={})
    transcript = [
        USER,
        Message(role="assistant", tool_calls=[call]),  # no text: only the tool_use block
        Message(role="tool", tool_call_id="toolu_1", content="ridge, lgbm"),
        Message(role="user", content="Use lgbm."),
        Message(role="assistant", content=""),  # empty turns are dropped
        Message(role="user", content="Go on."),
    ]
    assert _anthropic(srv).complete("", transcript, []).text == "ok"
    body = srv.requests[0].body
    assert "system" not in body and "tools" not in body
    assert body["messages"][1:] == [
        {
            "role": "assistant",
            "content": [{"type": "tool_use", "id": "toolu_1", "name": "list_models", "input": {}}],
        },
        {
            "role": "user",
            "content": [
                {
                    "type": "tool_result",
                    "tool_use_id": "toolu_1",
                    "content": "ridge, lgbm",
                    "is_error": False,
                },
                {"type": "text", "text": "Use lgbm."},
            ],
        },
        {"role": "user", "content": "Go on."},
    ]


def test_anthropic_streaming_delivers_text_deltas_in_order(
    anthropic_server: AnthropicServer,
) -> None:
    srv = anthropic_server
    chunks = ["Ridge ", "on 20-day ", "momentum ", "is a good ", "first model."]
    srv.push(
        Turn(text=chunks),
        Turn(
            text=["Loading ", "prices."],
            tool_calls=[ScriptedToolCall("get_prices", {"symbol": "AAPL", "days": 30})],
        ),
    )
    provider = _anthropic(srv)

    seen: list[str] = []
    resp = provider.complete(SYSTEM, [USER], TOOLS, on_text=seen.append)
    assert seen == chunks
    assert resp.text == "".join(chunks)
    assert resp.tool_calls == [] and resp.stop_reason == "end_turn"
    assert resp.usage == {"input_tokens": 42, "output_tokens": 17}
    assert srv.requests[0].body["stream"] is True
    assert GOAL in srv.requests[0].body["system"]

    # a streamed tool call: input_json_delta fragments are assembled into the arguments
    seen.clear()
    resp = provider.complete(SYSTEM, [USER], TOOLS, on_text=seen.append)
    assert seen == ["Loading ", "prices."]
    assert resp.text == "Loading prices."
    assert [(c.name, c.arguments) for c in resp.tool_calls] == [
        ("get_prices", {"symbol": "AAPL", "days": 30})
    ]
    assert resp.stop_reason == "tool_use"


@pytest.mark.parametrize("stream", [False, True])
def test_anthropic_wrong_key_is_a_provider_error(
    anthropic_server: AnthropicServer, stream: bool
) -> None:
    wrong = "sk-ant-api03-WRONG-9876543210fedcba"
    provider = _anthropic(anthropic_server, api_key=wrong)
    with pytest.raises(ProviderError) as info:
        provider.complete(SYSTEM, [USER], TOOLS, on_text=(lambda _t: None) if stream else None)
    msg = str(info.value)
    assert "Anthropic" in msg and "401" in msg and "ANTHROPIC_API_KEY" in msg
    _no_key_in(msg, wrong, ANTHROPIC_TEST_KEY)
    assert len(anthropic_server.requests) == 1  # 401 is not retried


@pytest.mark.parametrize(
    ("status", "etype", "message", "words"),
    [
        (529, "overloaded_error", "Overloaded", ["529", "overloaded"]),
        (500, "api_error", "Internal server error", ["500", "retry later"]),
    ],
)
def test_anthropic_server_errors_after_retries(
    anthropic_server: AnthropicServer, status: int, etype: str, message: str, words: list[str]
) -> None:
    srv = anthropic_server
    srv.push(Failure(status, etype, message), Failure(status, etype, message))
    with pytest.raises(ProviderError) as info:
        _anthropic(srv, max_retries=1).complete(SYSTEM, [USER], TOOLS)
    msg = str(info.value)
    assert len(srv.requests) == 2  # the SDK retried once, then gave up
    assert all(w in msg for w in words), msg
    assert etype in msg
    _no_key_in(msg, ANTHROPIC_TEST_KEY)


def test_anthropic_error_event_mid_stream(anthropic_server: AnthropicServer) -> None:
    srv = anthropic_server
    srv.push(Failure(529, "overloaded_error", "Overloaded", in_stream=True))
    seen: list[str] = []
    with pytest.raises(ProviderError) as info:
        _anthropic(srv).complete(SYSTEM, [USER], TOOLS, on_text=seen.append)
    msg = str(info.value)
    assert "overloaded" in msg and "stream" in msg
    assert seen == []


def test_anthropic_truncated_stream_is_not_an_answer(anthropic_server: AnthropicServer) -> None:
    srv = anthropic_server
    srv.push(Truncate("The best model is"))
    seen: list[str] = []
    with pytest.raises(ProviderError, match="ended before"):
        _anthropic(srv).complete(SYSTEM, [USER], TOOLS, on_text=seen.append)
    assert seen == ["The best model is"]


def test_anthropic_server_down(anthropic_server: AnthropicServer) -> None:
    provider = _anthropic(anthropic_server)
    anthropic_server.stop()  # the port is now closed
    with pytest.raises(ProviderError) as info:
        provider.complete(SYSTEM, [USER], TOOLS)
    msg = str(info.value)
    assert "unreachable" in msg and anthropic_server.url in msg
    _no_key_in(msg, ANTHROPIC_TEST_KEY)


def test_anthropic_timeout(anthropic_server: AnthropicServer) -> None:
    anthropic_server.push(Hang(10))
    with pytest.raises(ProviderError, match="timed out after 0.5s"):
        _anthropic(anthropic_server, timeout_s=0.5).complete(SYSTEM, [USER], TOOLS)


def test_anthropic_needs_a_key() -> None:
    with pytest.raises(ProviderError, match="ANTHROPIC_API_KEY"):
        AnthropicProvider("", "claude-test-1")


# --------------------------------------------------------------------------------------
# OpenAI
# --------------------------------------------------------------------------------------


def test_openai_tool_round_trip(openai_server: OpenAIServer) -> None:
    srv = openai_server
    srv.push(
        Turn(
            tool_calls=[
                ScriptedToolCall("get_prices", {"symbol": "AAPL", "days": 250}),
                ScriptedToolCall("list_models"),
            ]
        ),
        Turn(text="Start with a ridge model on 20-day momentum.", input_tokens=90),
    )
    provider = _openai(srv)
    assert isinstance(provider, Provider)

    # (a)
    first = provider.complete(SYSTEM, [USER], TOOLS)
    assert first.text == ""
    assert [(c.name, c.arguments) for c in first.tool_calls] == [
        ("get_prices", {"symbol": "AAPL", "days": 250}),
        ("list_models", {}),
    ]
    assert all(c.id.startswith("call_") for c in first.tool_calls)
    assert first.stop_reason == "tool_use"  # finish_reason "tool_calls", mapped
    assert first.usage == {"input_tokens": 42, "output_tokens": 17}

    # (b)
    req = srv.requests[0]
    assert (req.method, req.path) == ("POST", "/v1/chat/completions")
    assert req.body["model"] == "gpt-test-1"
    assert req.body["messages"][0]["role"] == "system"
    assert GOAL in req.body["messages"][0]["content"]
    assert req.body["messages"][1:] == [{"role": "user", "content": USER.content}]
    assert req.body["tools"] == [
        {
            "type": "function",
            "function": {
                "name": "get_prices",
                "description": "Load daily prices.",
                "parameters": PRICES_SCHEMA,
            },
        },
        {
            "type": "function",
            "function": {
                "name": "list_models",
                "description": "List the available model ids.",
                "parameters": {"type": "object", "properties": {}},
            },
        },
    ]
    assert not req.body.get("stream")
    assert req.headers["authorization"] == f"Bearer {OPENAI_TEST_KEY}"

    # (c)
    prices, models = first.tool_calls
    transcript = [
        USER,
        Message(role="assistant", tool_calls=first.tool_calls),
        Message(
            role="tool", tool_call_id=prices.id, content="compliance: too many days", is_error=True
        ),
        Message(role="tool", tool_call_id=models.id, content='["ridge", "lgbm"]'),
    ]
    second = provider.complete(SYSTEM, transcript, TOOLS)
    assert second == ProviderResponse(
        text="Start with a ridge model on 20-day momentum.",
        tool_calls=[],
        stop_reason="end_turn",
        usage={"input_tokens": 90, "output_tokens": 17},
    )
    sent = srv.requests[1].body["messages"]
    assistant = sent[2]
    assert assistant["role"] == "assistant" and assistant["content"] is None
    assert [
        (c["id"], c["type"], c["function"]["name"], json.loads(c["function"]["arguments"]))
        for c in assistant["tool_calls"]
    ] == [
        (prices.id, "function", "get_prices", {"symbol": "AAPL", "days": 250}),
        (models.id, "function", "list_models", {}),
    ]
    assert sent[3:] == [
        {"role": "tool", "tool_call_id": prices.id, "content": "ERROR: compliance: too many days"},
        {"role": "tool", "tool_call_id": models.id, "content": '["ridge", "lgbm"]'},
    ]


def test_openai_malformed_arguments_reach_the_caller_raw(openai_server: OpenAIServer) -> None:
    srv = openai_server
    raw = '{"symbol": "AAPL", "days": '
    srv.push(
        Turn(
            tool_calls=[
                ScriptedToolCall("get_prices", raw_arguments=raw),
                ScriptedToolCall("get_prices", raw_arguments='["AAPL"]'),
                ScriptedToolCall("list_models", raw_arguments=""),
            ]
        )
    )
    resp = _openai(srv).complete(SYSTEM, [USER], TOOLS)
    assert [c.arguments for c in resp.tool_calls] == [
        {INVALID_JSON_KEY: raw},
        {INVALID_JSON_KEY: '["AAPL"]'},
        {},
    ]


def test_openai_streaming(openai_server: OpenAIServer) -> None:
    srv = openai_server
    chunks = ["Loading ", "AAPL ", "prices."]
    srv.push(
        Turn(
            text=chunks, tool_calls=[ScriptedToolCall("get_prices", {"symbol": "AAPL", "days": 30})]
        ),
        Turn(text=["Done", "."], output_tokens=3),
    )
    provider = _openai(srv)
    seen: list[str] = []
    resp = provider.complete(SYSTEM, [USER], TOOLS, on_text=seen.append)
    assert seen == chunks
    assert resp.text == "Loading AAPL prices."
    assert [(c.name, c.arguments) for c in resp.tool_calls] == [
        ("get_prices", {"symbol": "AAPL", "days": 30})
    ]
    assert resp.stop_reason == "tool_use"
    assert resp.usage == {"input_tokens": 42, "output_tokens": 17}
    body = srv.requests[0].body
    assert body["stream"] is True and body["stream_options"] == {"include_usage": True}

    seen.clear()
    resp = provider.complete(SYSTEM, [USER], TOOLS, on_text=seen.append)
    assert seen == ["Done", "."] and resp.text == "Done."
    assert resp.stop_reason == "end_turn" and resp.usage["output_tokens"] == 3


@pytest.mark.parametrize("stream", [False, True])
def test_openai_wrong_key_is_a_provider_error(openai_server: OpenAIServer, stream: bool) -> None:
    wrong = "sk-proj-WRONG-9876543210fedcba"
    provider = _openai(openai_server, api_key=wrong)
    with pytest.raises(ProviderError) as info:
        provider.complete(SYSTEM, [USER], TOOLS, on_text=(lambda _t: None) if stream else None)
    msg = str(info.value)
    assert "OpenAI" in msg and "401" in msg and "OPENAI_API_KEY" in msg
    _no_key_in(msg, wrong, OPENAI_TEST_KEY)


def test_openai_server_error_after_retries(openai_server: OpenAIServer) -> None:
    srv = openai_server
    text = "The server had an error while processing your request. Sorry about that!"
    srv.push(Failure(500, "server_error", text), Failure(500, "server_error", text))
    with pytest.raises(ProviderError) as info:
        _openai(srv, max_retries=1).complete(SYSTEM, [USER], TOOLS)
    msg = str(info.value)
    assert len(srv.requests) == 2
    assert "500" in msg and "server_error" in msg and "retry later" in msg
    _no_key_in(msg, OPENAI_TEST_KEY)


def test_openai_rate_limit_and_key_echo_are_scrubbed(openai_server: OpenAIServer) -> None:
    """Even an error body that echoes the whole key (a misbehaving proxy) is scrubbed."""
    srv = openai_server
    srv.push(
        Failure(
            429,
            "requests",
            f"Rate limit reached for key {OPENAI_TEST_KEY}",
            headers={"retry-after-ms": "1"},
        )
    )
    with pytest.raises(ProviderError) as info:
        _openai(srv).complete(SYSTEM, [USER], TOOLS)
    msg = str(info.value)
    assert "429" in msg and "rate limit" in msg.lower()
    _no_key_in(msg, OPENAI_TEST_KEY)


def test_openai_truncated_stream_is_not_an_answer(openai_server: OpenAIServer) -> None:
    openai_server.push(Truncate("The best model is"))
    seen: list[str] = []
    with pytest.raises(ProviderError, match="ended before"):
        _openai(openai_server).complete(SYSTEM, [USER], TOOLS, on_text=seen.append)
    assert seen == ["The best model is"]


def test_openai_server_down(openai_server: OpenAIServer) -> None:
    provider = _openai(openai_server)
    openai_server.stop()
    with pytest.raises(ProviderError) as info:
        provider.complete(SYSTEM, [USER], TOOLS)
    msg = str(info.value)
    assert "unreachable" in msg and "127.0.0.1" in msg
    _no_key_in(msg, OPENAI_TEST_KEY)


def test_openai_timeout(openai_server: OpenAIServer) -> None:
    openai_server.push(Hang(10))
    with pytest.raises(ProviderError, match="timed out after 0.5s"):
        _openai(openai_server, timeout_s=0.5).complete(SYSTEM, [USER], TOOLS)


def test_openai_compatible_server_without_key(openai_server: OpenAIServer) -> None:
    """A local OpenAI-compatible server needs only a base URL; a placeholder key is sent."""
    openai_server.api_key = "no-key-required"
    openai_server.push(Turn(text="hello"))
    provider = OpenAIProvider(
        "", "local-model", base_url=openai_server.url, timeout_s=5, max_retries=0
    )
    assert provider.complete("", [USER], []).text == "hello"
    body = openai_server.requests[0].body
    assert body["messages"] == [{"role": "user", "content": USER.content}]
    assert "tools" not in body
    with pytest.raises(ProviderError, match="OPENAI_API_KEY"):
        OpenAIProvider("", "gpt-test-1")


# --------------------------------------------------------------------------------------
# Transcript types and provider choice
# --------------------------------------------------------------------------------------


def test_message_validation() -> None:
    with pytest.raises(ValueError, match="tool_call_id"):
        Message(role="tool", content="x")
    with pytest.raises(ValueError, match="only assistant"):
        Message(role="user", tool_calls=[ToolCall(id="a", name="b", arguments={})])


def test_make_provider_offline_without_keys(settings_factory) -> None:
    pytest.importorskip("mltrainer.agent.offline")
    assert type(make_provider(settings_factory())).__name__ == "OfflinePlanner"
    assert type(
        make_provider(settings_factory(llm_provider="offline", anthropic_api_key="k"))
    ).__name__ == ("OfflinePlanner")


def test_make_provider_picks_vendor(settings_factory) -> None:
    both = {"anthropic_api_key": ANTHROPIC_TEST_KEY, "openai_api_key": OPENAI_TEST_KEY}
    p = make_provider(settings_factory(**both, anthropic_model="claude-x", llm_timeout_s=7))
    assert isinstance(p, AnthropicProvider) and p.model == "claude-x" and p.timeout_s == 7
    assert ANTHROPIC_TEST_KEY not in repr(p)

    p = make_provider(settings_factory(**both, llm_provider="openai", openai_model="gpt-x"))
    assert isinstance(p, OpenAIProvider) and p.model == "gpt-x"

    assert isinstance(
        make_provider(settings_factory(openai_api_key=OPENAI_TEST_KEY)), OpenAIProvider
    )
    p = make_provider(settings_factory(openai_base_url="http://127.0.0.1:9/v1"))
    assert isinstance(p, OpenAIProvider) and p.base_url.startswith("http://127.0.0.1:9/v1")

    with pytest.raises(ConfigError, match="ANTHROPIC_API_KEY"):
        make_provider(settings_factory(llm_provider="anthropic", openai_api_key=OPENAI_TEST_KEY))
    with pytest.raises(ConfigError, match="OPENAI_API_KEY"):
        make_provider(settings_factory(llm_provider="openai"))


def test_make_provider_talks_to_the_configured_server(
    settings_factory, anthropic_server: AnthropicServer
) -> None:
    anthropic_server.push(Turn(text="hi"))
    settings = settings_factory(
        anthropic_api_key=ANTHROPIC_TEST_KEY,
        anthropic_model="claude-from-settings",
        anthropic_base_url=anthropic_server.url,
        llm_timeout_s=5,
    )
    assert make_provider(settings).complete(SYSTEM, [USER], TOOLS).text == "hi"
    assert anthropic_server.requests[0].body["model"] == "claude-from-settings"
