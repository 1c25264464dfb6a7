"""Chat messages and their content parts, validated one at a time (strict in).

Each message is checked against the model its `role` selects, each part against the
model its `type` selects, so an error names the exact place (`messages[2].content[0].text`)
rather than a union member pydantic happened to try.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from pydantic import Field

from thinkgate.errors import InvalidRequestError
from thinkgate.protocol.common import StrictModel
from thinkgate.protocol.parsing import validate

# Cache breakpoints (after GPT-5.1) are hints about caching only: accepted, no effect on output.
CacheHint = dict[str, Any] | None


class TextPart(StrictModel):
    type: Literal["text"]
    text: str
    prompt_cache_breakpoint: CacheHint = None


class RefusalPart(StrictModel):
    type: Literal["refusal"]
    refusal: str


class ImageUrl(StrictModel):
    url: str
    detail: Literal["auto", "low", "high", "original"] | None = None


class ImagePart(StrictModel):
    type: Literal["image_url"]
    image_url: ImageUrl
    prompt_cache_breakpoint: CacheHint = None


class InputAudio(StrictModel):
    data: str
    format: Literal["wav", "mp3"]


class AudioPart(StrictModel):
    type: Literal["input_audio"]
    input_audio: InputAudio
    prompt_cache_breakpoint: CacheHint = None


class FileRef(StrictModel):
    file_data: str | None = None
    file_id: str | None = None
    filename: str | None = None


class FilePart(StrictModel):
    type: Literal["file"]
    file: FileRef
    prompt_cache_breakpoint: CacheHint = None


ContentPart = TextPart | RefusalPart | ImagePart | AudioPart | FilePart

_PARTS: dict[str, type[StrictModel]] = {
    "text": TextPart,
    "refusal": RefusalPart,
    "image_url": ImagePart,
    "input_audio": AudioPart,
    "file": FilePart,
}
_TEXT_ONLY = ("text",)
_PARTS_BY_ROLE = {
    "system": _TEXT_ONLY,
    "developer": _TEXT_ONLY,
    "tool": _TEXT_ONLY,
    "user": ("text", "image_url", "input_audio", "file"),
    "assistant": ("text", "refusal"),
}

# --- messages ------------------------------------------------------------------------


class InstructionMessage(StrictModel):
    role: Literal["system", "developer"]
    content: str | list[dict[str, Any]]
    name: str | None = None  # the chat template has no place for a name: accepted, unused


class UserMessage(StrictModel):
    role: Literal["user"]
    content: str | list[dict[str, Any]]
    name: str | None = None


class FunctionRef(StrictModel):
    name: str = Field(min_length=1)
    arguments: str


class ToolCall(StrictModel):
    id: str = Field(min_length=1, max_length=64)
    type: Literal["function"]
    function: FunctionRef


class CustomRef(StrictModel):
    name: str = Field(min_length=1)
    input: str


class CustomToolCall(StrictModel):
    id: str = Field(min_length=1, max_length=64)
    type: Literal["custom"]
    custom: CustomRef


class AssistantMessage(StrictModel):
    role: Literal["assistant"]
    content: str | list[dict[str, Any]] | None = None
    refusal: str | None = None
    name: str | None = None
    tool_calls: list[dict[str, Any]] | None = None
    audio: dict[str, Any] | None = None
    function_call: dict[str, Any] | None = None
    # Our own replies carry `annotations: []`, and openai-node's documented tool loop sends
    # the reply back as it came (`messages.push(completion.choices[0].message)`): accepted,
    # not shown to the model (url citations have no place in the chat template).
    annotations: list[dict[str, Any]] | None = None


class ToolMessage(StrictModel):
    role: Literal["tool"]
    content: str | list[dict[str, Any]]
    tool_call_id: str = Field(min_length=1)


_MESSAGES: dict[str, type[StrictModel]] = {
    "system": InstructionMessage,
    "developer": InstructionMessage,
    "user": UserMessage,
    "assistant": AssistantMessage,
    "tool": ToolMessage,
}
_PLAIN_ROLES = frozenset({"system", "developer", "user", "assistant"})
_ROLES_NAMED = "'system', 'assistant', 'user', 'function', 'tool', and 'developer'"


@dataclass(slots=True, frozen=True)
class ChatMessage:
    """A validated message: its parts in order (a string is one text part)."""

    index: int
    role: Literal["system", "developer", "user", "assistant", "tool"]
    parts: list[ContentPart]
    tool_calls: list[ToolCall | CustomToolCall]
    tool_call_id: str | None = None


def parse_messages(raw: list[dict[str, Any]]) -> list[ChatMessage]:
    return [_parse_message(message, index) for index, message in enumerate(raw)]


def _parse_message(raw: dict[str, Any], index: int) -> ChatMessage:
    if (
        type(raw) is dict
        and len(raw) == 2
        and type(raw.get("content")) is str
        and raw.get("role") in _PLAIN_ROLES
    ):
        # `{"role": …, "content": "text"}`, most messages: nothing here a model could refuse
        text = TextPart(type="text", text=raw["content"])
        return ChatMessage(index, raw["role"], [text], [])
    where = f"messages[{index}]"
    if not isinstance(raw, dict):
        raise InvalidRequestError(
            f"Invalid type for '{where}': expected an object.", param=where, code="invalid_type"
        )
    role = raw.get("role")
    if role is None:
        raise InvalidRequestError(
            f"Missing required parameter: '{where}.role'.",
            param=f"{where}.role",
            code="missing_required_parameter",
        )
    if role == "function":
        raise InvalidRequestError(
            "The deprecated 'function' role is not supported; use 'tool' messages.",
            param=f"{where}.role",
            code="unsupported_value",
        )
    model = _MESSAGES.get(role) if isinstance(role, str) else None
    if model is None:
        raise InvalidRequestError(
            f"Invalid value: {role!r}. Supported values are: {_ROLES_NAMED}.",
            param=f"{where}.role",
            code="invalid_value",
        )
    message = validate(raw, model, prefix=where)
    content = getattr(message, "content", None)
    parts = _parse_parts(content, _PARTS_BY_ROLE[role], f"{where}.content")
    if isinstance(message, AssistantMessage):
        return _assistant(message, parts, index)
    tool_call_id = message.tool_call_id if isinstance(message, ToolMessage) else None
    return ChatMessage(index, role, parts, [], tool_call_id)


def _assistant(message: AssistantMessage, parts: list[ContentPart], index: int) -> ChatMessage:
    where = f"messages[{index}]"
    if message.audio is not None or message.function_call is not None:
        name = "audio" if message.audio is not None else "function_call"
        raise InvalidRequestError(
            f"Assistant '{name}' is not supported by this server; use 'content' or 'tool_calls'.",
            param=f"{where}.{name}",
            code="unsupported_parameter",
        )
    if message.refusal is not None:
        parts = [*parts, RefusalPart(type="refusal", refusal=message.refusal)]
    calls: list[ToolCall | CustomToolCall] = []
    for number, call in enumerate(message.tool_calls or []):
        call_where = f"{where}.tool_calls[{number}]"
        if call.get("type") == "custom":
            calls.append(validate(call, CustomToolCall, prefix=call_where))
        else:
            calls.append(validate(call, ToolCall, prefix=call_where))
    if not parts and not calls:
        raise InvalidRequestError(
            "Invalid value for 'content': expected a string, got null.",
            param=f"{where}.content",
            code="invalid_value",
        )
    return ChatMessage(index, "assistant", parts, calls)


def _parse_parts(
    content: str | list[dict[str, Any]] | None, allowed: tuple[str, ...], param: str
) -> list[ContentPart]:
    if content is None:
        return []
    if isinstance(content, str):
        return [TextPart(type="text", text=content)]
    parts: list[ContentPart] = []
    for index, raw in enumerate(content):
        where = f"{param}[{index}]"
        kind = raw.get("type")
        if kind not in allowed:
            supported = ", ".join(f"'{name}'" for name in allowed)
            raise InvalidRequestError(
                f"Invalid value: {kind!r}. Supported values are: {supported}.",
                param=f"{where}.type",
                code="invalid_value",
            )
        part = validate(raw, _PARTS[kind], prefix=where)
        assert isinstance(part, TextPart | RefusalPart | ImagePart | AudioPart | FilePart)
        parts.append(part)
    return parts
