"""Tier 1 of the bridge: tool calls (Anthropic ``tool_use``, OpenAI ``tool_calls`` and
``function_call``), and the shapes a reply may come in (a string, content blocks, an
Anthropic or OpenAI message object).

When a reply has tool calls its text is returned but not parsed. A tool call's name must be
an action the bridge knows; its arguments (an object, or a JSON string read leniently)
go through the same field readers as every other tier.
"""

from __future__ import annotations

import difflib
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .fields import SINGLE_MODEL_ACTIONS, Fields, read_fields, validate
from .json_blocks import load_jsonish
from .readers import Invalid, fragment, hint
from .results import ActionRequest, BridgeError

if TYPE_CHECKING:
    from .core import Bridge

__all__ = ["ToolCallBlock", "split_response", "from_tool_call"]


@dataclass
class ToolCallBlock:
    """One tool call as the vendor wrote it: id, name and raw arguments."""

    id: str | None
    name: Any
    arguments: Any


def _get(obj: Any, name: str) -> Any:
    if isinstance(obj, Mapping):
        return obj.get(name)
    return getattr(obj, name, None)


def _dumps(value: Any) -> str:
    try:
        return json.dumps(value, default=str)
    except (TypeError, ValueError):
        return repr(value)


def _str_or_none(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


# -- response shapes ----------------------------------------------------------------------------
def split_response(response: Any) -> tuple[list[str], list[ToolCallBlock], list[BridgeError]]:
    """Text pieces and tool calls from a str, content blocks, an Anthropic or OpenAI message."""
    if response is None:
        return [], [], []
    if isinstance(response, bytes):
        response = response.decode("utf-8", errors="replace")
    if isinstance(response, str):
        return [response], [], []
    texts: list[str] = []
    calls: list[ToolCallBlock] = []
    if not isinstance(response, (list, tuple)):
        choices = _get(response, "choices")
        if isinstance(choices, (list, tuple)) and choices:
            response = _get(choices[0], "message") or choices[0]
    if isinstance(response, (list, tuple)):
        _read_blocks(response, texts, calls)
        return texts, calls, []
    if _get(response, "type") in ("text", "tool_use", "function_call"):
        _read_blocks([response], texts, calls)
        return texts, calls, []
    content = _get(response, "content")
    tool_calls = _get(response, "tool_calls")
    function_call = _get(response, "function_call")
    if content is None and tool_calls is None and function_call is None:
        if isinstance(response, Mapping):
            return [], [], []
        kind = type(response).__name__
        return (
            [],
            [],
            [BridgeError(message=f"cannot read a reply of type {kind}", origin="response")],
        )
    if isinstance(content, str):
        texts.append(content)
    elif isinstance(content, (list, tuple)):
        _read_blocks(content, texts, calls)
    for tc in tool_calls or ():
        fn = _get(tc, "function") or tc
        calls.append(
            ToolCallBlock(_str_or_none(_get(tc, "id")), _get(fn, "name"), _get(fn, "arguments"))
        )
    if function_call is not None:
        calls.append(
            ToolCallBlock(None, _get(function_call, "name"), _get(function_call, "arguments"))
        )
    return texts, calls, []


def _read_blocks(blocks: Iterable[Any], texts: list[str], calls: list[ToolCallBlock]) -> None:
    for block in blocks:
        if isinstance(block, str):
            texts.append(block)
            continue
        kind = _get(block, "type")
        if kind == "text":
            text = _get(block, "text")
            if isinstance(text, str):
                texts.append(text)
        elif kind == "tool_use":
            calls.append(
                ToolCallBlock(
                    _str_or_none(_get(block, "id")), _get(block, "name"), _get(block, "input")
                )
            )
        elif kind == "function_call":  # OpenAI Responses API
            call_id = _get(block, "call_id") or _get(block, "id")
            calls.append(
                ToolCallBlock(_str_or_none(call_id), _get(block, "name"), _get(block, "arguments"))
            )


# -- tool calls ----------------------------------------------------------------------------------
def from_tool_call(
    bridge: Bridge, call: ToolCallBlock, cache: dict[str, str | None]
) -> tuple[list[ActionRequest], list[BridgeError]]:
    """The action request of one tool call, or the errors that stop it."""

    def err(
        message: str, suggestions: Sequence[str] = (), fragment: str | None = None
    ) -> BridgeError:
        return BridgeError(
            message=message,
            suggestions=list(suggestions),
            origin="tool_use",
            tool_use_id=call.id,
            fragment=fragment,
        )

    name = call.name
    if not isinstance(name, str) or not name.strip():
        return [], [err("tool call without a name")]
    if name not in bridge.actions:
        close = difflib.get_close_matches(name, bridge.actions, n=3, cutoff=0.5)
        return [], [err(f"unknown tool '{name}'{hint(close)}", close)]
    args = call.arguments
    shown = fragment(args if isinstance(args, str) else _dumps(args))
    if isinstance(args, str):
        if not args.strip():
            args = {}
        else:
            try:
                args = load_jsonish(args)
            except Invalid as exc:
                return [], [
                    err(f"could not read the arguments of '{name}': {exc.message}", (), shown)
                ]
    if args is None:
        args = {}
    if not isinstance(args, Mapping):
        return [], [err(f"the arguments of '{name}' must be an object", (), shown)]
    fields = read_fields(bridge.vocab, args, cache, financial=name == "run_financial")
    errors = [err(e.message, e.suggestions, shown) for e in fields.errors]
    if errors:
        return [], errors
    params = {key: fields.values.get(key, value) for key, value in args.items()}
    if name not in bridge.schemas:
        missing = _missing_for_tool(name, fields)
        if missing:
            return [], [err(missing, (), shown)]
    validated, problems = validate(name, params, bridge.schemas)
    if problems:
        return [], [err(p, (), shown) for p in problems]
    return [
        ActionRequest(action=name, params=validated, origin="tool_use", tool_use_id=call.id)
    ], []


def _missing_for_tool(name: str, fields: Fields) -> str | None:
    """Without a schema, the minimum a trial tool call needs."""
    if name in SINGLE_MODEL_ACTIONS:
        if len(fields.models) != 1:
            return f"{name} needs exactly one model_id"
        if not fields.symbols:
            return f"{name} needs a symbol"
    if name == "compare_models":
        if len(fields.models) < 2:
            return "compare_models needs at least two model_ids"
        if not fields.symbols:
            return "compare_models needs a symbol"
    return None
