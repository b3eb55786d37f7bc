"""The provider-neutral transcript: messages, tool specs, tool calls and one turn's response.

Kept apart from :mod:`.providers` (the vendor SDKs) so the offline planner and the
conversation loop can speak these types without importing the providers, and the
providers can build the offline planner without an import circle.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Literal, Protocol, runtime_checkable

from pydantic import BaseModel, Field, model_validator

__all__ = ["ToolSpec", "ToolCall", "Message", "ProviderResponse", "Provider", "TextCallback"]

TextCallback = Callable[[str], None]


class ToolSpec(BaseModel):
    """A tool the model may call; ``parameters`` is a JSON schema of type object."""

    name: str
    description: str
    parameters: dict[str, Any]


class ToolCall(BaseModel):
    """One tool call the model asked for."""

    id: str
    name: str
    arguments: dict[str, Any]


class Message(BaseModel):
    """One turn of the neutral transcript.

    ``user`` and ``assistant`` turns carry text; an assistant turn may also carry the
    ``tool_calls`` it made. A ``tool`` turn answers one call (``tool_call_id``) and says
    whether the tool failed (``is_error``: validation or compliance refusal, for example).
    """

    role: Literal["user", "assistant", "tool"]
    content: str = ""
    tool_calls: list[ToolCall] = Field(default_factory=list)
    tool_call_id: str | None = None
    is_error: bool = False

    @model_validator(mode="after")
    def _check_role_fields(self) -> Message:
        if self.role == "tool" and not self.tool_call_id:
            raise ValueError("a tool message needs the tool_call_id of the call it answers")
        if self.role != "assistant" and self.tool_calls:
            raise ValueError("only assistant messages carry tool_calls")
        return self


class ProviderResponse(BaseModel):
    """What the model said in one turn: text and/or tool calls."""

    text: str = ""
    tool_calls: list[ToolCall] = Field(default_factory=list)
    stop_reason: str | None = None
    usage: dict[str, int] = Field(default_factory=dict)


@runtime_checkable
class Provider(Protocol):
    """Anything that can produce the next assistant turn of a transcript."""

    name: str

    def complete(
        self,
        system: str,
        messages: list[Message],
        tools: list[ToolSpec],
        on_text: TextCallback | None = None,
    ) -> ProviderResponse:
        """Return the next assistant turn; stream text deltas to ``on_text`` if given."""
        ...
