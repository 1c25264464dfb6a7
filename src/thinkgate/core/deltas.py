"""Deltas: the small typed values a backend yields; only the assembler writes the wire.

A generation is `PromptDelta` first (`Prepared.prompt`: the prompt was accepted, its
token count is known and it fits), then, streamed in batches (one per read), any number
of `TextDelta`, then one `FinishDelta` with usage.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

FinishReason = Literal["stop", "length", "cancelled"]


@dataclass(slots=True, frozen=True)
class TokenLogprob:
    token: str
    logprob: float
    bytes: list[int]
    top: list[tuple[str, float, list[int]]] = field(default_factory=list)


@dataclass(slots=True, frozen=True)
class PromptDelta:
    input_tokens: int
    cached_tokens: int = 0
    kind: Literal["prompt"] = "prompt"


@dataclass(slots=True, frozen=True)
class TextDelta:
    text: str
    logprobs: tuple[TokenLogprob, ...] = ()
    kind: Literal["text"] = "text"


@dataclass(slots=True, frozen=True)
class ReasoningDelta:
    """A piece of hidden reasoning text (the reasoning layer's thinking pass).

    `raw=False`: the model's raw thought is not shown (GPT-5.1 never shows it); the item
    opens with this delta, its text goes only to the summary and the sealed copy."""

    text: str
    kind: Literal["reasoning"] = "reasoning"
    raw: bool = True


@dataclass(slots=True, frozen=True)
class ReasoningDoneDelta:
    """The reasoning is over: its whole text, summary parts and (optionally) sealed copy."""

    text: str
    summary: tuple[str, ...] = ()
    encrypted_content: str | None = None
    kind: Literal["reasoning_done"] = "reasoning_done"
    raw: bool = True  # False: the item carries no `reasoning_text` content


ToolKind = Literal["function", "custom", "apply_patch", "shell", "tool_search"]


@dataclass(slots=True, frozen=True)
class ToolCallStartDelta:
    """The model began a tool call: which tool is known, its arguments are not yet."""

    tool: ToolKind
    name: str
    kind: Literal["tool_call_start"] = "tool_call_start"


@dataclass(slots=True, frozen=True)
class ToolCallDelta:
    """A piece of the open call's arguments (function: JSON text; custom: input text)."""

    text: str
    kind: Literal["tool_call_delta"] = "tool_call_delta"


@dataclass(slots=True, frozen=True)
class ToolCallDoneDelta:
    """The open call is complete. `payload`: arguments JSON text (function), input text
    (custom), the operation (apply_patch) or the action (shell) as a JSON object."""

    payload: str | dict[str, Any]
    kind: Literal["tool_call_done"] = "tool_call_done"


@dataclass(slots=True, frozen=True)
class FinishDelta:
    reason: FinishReason
    output_tokens: int
    reasoning_tokens: int = 0
    # the `service_tier` that served, when a backend knows it (an upstream's report, or
    # what it was asked for); None: the response keeps the one it was made with
    service_tier: str | None = None
    kind: Literal["finish"] = "finish"


@dataclass(slots=True, frozen=True)
class HostedItemDelta:
    """A call of a tool the gateway runs itself (`hosted`: web search), told in stages.

    `added`: its item opens (status `in_progress`) at the next output index; `progress`:
    a named event only (`response.web_search_call.searching`); `done`: the item as it ended.
    `events`: the item's own event types for this stage, sent with its id and index (a
    `(type, fields)` pair adds fields: MCP's `mcp_call_arguments.delta` carries `delta`)."""

    stage: Literal["added", "progress", "done"]
    item: dict[str, Any]
    events: tuple[str | tuple[str, dict[str, Any]], ...] = ()
    kind: Literal["hosted_item"] = "hosted_item"


@dataclass(slots=True, frozen=True)
class AnnotationDelta:
    """An annotation on the open message's text (a `url_citation` of a hosted search's
    source), sent after the text it points into and before the message closes."""

    annotation: dict[str, Any]
    kind: Literal["annotation"] = "annotation"


Delta = (
    PromptDelta
    | TextDelta
    | FinishDelta
    | ReasoningDelta
    | ReasoningDoneDelta
    | ToolCallStartDelta
    | ToolCallDelta
    | ToolCallDoneDelta
    | HostedItemDelta
    | AnnotationDelta
)
