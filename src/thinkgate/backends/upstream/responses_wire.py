"""Native passthrough for Responses-capable upstreams (OpenAI, resellers, another thinkgate).

The canonical request goes out as a Responses body with `store: false`: history,
`previous_response_id` and conversations are resolved by thinkgate's own store, so the
upstream is asked a self-contained question. Its stream events come back as Deltas.
"""

from __future__ import annotations

from typing import Any, Literal

from thinkgate.backends.upstream.service_tiers import TierChoice
from thinkgate.core.backend import UsageMeter
from thinkgate.core.deltas import (
    AnnotationDelta,
    Delta,
    FinishDelta,
    FinishReason,
    HostedItemDelta,
    PromptDelta,
    ReasoningDelta,
    ReasoningDoneDelta,
    TextDelta,
    ToolCallDelta,
    ToolCallDoneDelta,
    ToolCallStartDelta,
)
from thinkgate.core.request import CanonicalRequest, Item
from thinkgate.protocol.hosted_costs import DEFAULT_MAX_CALLS, HOSTED_TYPES
from thinkgate.protocol.tool_catalog import upstream_tools
from thinkgate.protocol.tools import namespaced_name

_CALLS = {"function_call": "function", "custom_tool_call": "custom"}
_BUILTIN_CALLS = {
    "apply_patch_call": ("apply_patch", "operation"),
    "shell_call": ("shell", "action"),
    "tool_search_call": ("tool_search", "arguments"),
}
_TERMINAL = ("response.completed", "response.incomplete")
# Items of tools run on the server (by thinkgate or by the upstream itself): replayed with
# their ids, and in pass-through (`hosted_tools = "passthrough"`) handed to the client as
# the upstream sent them, events included.
HOSTED_CALL_ITEMS = frozenset(
    {
        "web_search_call",
        "file_search_call",
        "mcp_call",
        "mcp_list_tools",
        "code_interpreter_call",
        "image_generation_call",
    }
)


def responses_body(
    request: CanonicalRequest,
    upstream_model: str,
    max_output_tokens: int | None,
    service_tier: str | None = None,
    passthrough: bool = False,
) -> dict[str, Any]:
    """`service_tier`: the tier this channel is sent (backends.upstream.service_tiers);
    `passthrough`: the upstream runs hosted tools itself, sent as declared."""
    text: dict[str, Any] = {"format": request.output_format.to_wire()}
    if request.verbosity != "medium":
        text["verbosity"] = request.verbosity
    body: dict[str, Any] = {
        "model": upstream_model,
        "input": [
            _outgoing(item, request.context.summaries)
            for item in request.all_items
            if _sendable(item)
        ],
        "stream": True,
        "store": False,
        "text": text,
    }
    if request.instructions is not None:
        body["instructions"] = request.instructions
    if request.context.assistant_prefix:  # no prefill in Responses: the forced thought as context
        part = {"type": "output_text", "text": request.context.assistant_prefix}
        body["input"].append({"type": "message", "role": "assistant", "content": [part]})
    declared = request.declared_tools
    tools = request.tools if declared is None else upstream_tools(declared)
    if passthrough and declared is not None:
        tools = list(declared)
    if tools:  # namespaces and deferred tools as declared: the upstream runs them itself
        body["tools"] = tools
        body["tool_choice"] = _flat_tool_choice(request.tool_choice)
        body["parallel_tool_calls"] = request.parallel_tool_calls
    if request.max_tool_calls is not None:
        body["max_tool_calls"] = request.max_tool_calls
    elif passthrough and any(tool["type"] in HOSTED_TYPES for tool in tools):
        body["max_tool_calls"] = DEFAULT_MAX_CALLS  # what the budget reserved for
    reasoning: dict[str, Any] = {}
    if request.reasoning_effort not in ("", "none"):  # "none" is the default; older
        reasoning["effort"] = request.reasoning_effort  # models refuse it outright
    if request.reasoning_summary:
        reasoning["summary"] = request.reasoning_summary
    if reasoning:
        body["reasoning"] = reasoning
    if max_output_tokens is not None:
        body["max_output_tokens"] = max_output_tokens
    for name in ("temperature", "top_p", "top_logprobs"):
        if name in request.context.explicit_sampling:
            body[name] = getattr(request.sampling, name)
    if request.include:
        body["include"] = list(request.include)
    for name in ("prompt_cache_key", "prompt_cache_retention", "safety_identifier", "user"):
        value = getattr(request, name)
        if value is not None:
            body[name] = value
    if service_tier is not None:
        body["service_tier"] = service_tier
    return body


def _flat_tool_choice(choice: str | dict[str, Any]) -> str | dict[str, Any]:
    """Chat's nested `{"type": "function", "function": {"name"}}` → Responses' flat form."""
    if isinstance(choice, dict):
        kind = choice.get("type")
        inner = choice.get(kind) if isinstance(kind, str) else None
        if isinstance(inner, dict) and "name" in inner:
            return {"type": kind, "name": inner["name"]}
        if kind == "allowed_tools" and isinstance(inner, dict):
            tools = [_flat_tool_choice(tool) for tool in inner.get("tools", [])]
            return {"type": "allowed_tools", "mode": inner.get("mode"), "tools": tools}
    return choice


def _sendable(item: Item) -> bool:
    """A reasoning item travels only with its sealed copy: a stateless upstream needs it."""
    return item.get("type") != "reasoning" or bool(item.get("encrypted_content"))


def _outgoing(item: Item, summaries: dict[str, str]) -> Item:
    """Our ids name items in our store, not the upstream's: they stay here. A compaction
    item is sealed with our key, which the upstream cannot open: it goes as the note the
    embedded model reads (backends.chat_prompt)."""
    if item.get("type") == "reasoning":
        return item
    if item.get("type") == "compaction":
        note = f"Summary of the earlier conversation: {summaries[item['encrypted_content']]}"
        return {"role": "system", "content": [{"type": "input_text", "text": note}]}
    if item.get("type") in HOSTED_CALL_ITEMS:  # their `id` and `status` are required
        return item  # fields (an upstream refuses the item without them): sent as stored
    return {key: value for key, value in item.items() if key not in ("id", "status")}


_RENUMBERED = ("type", "sequence_number", "output_index", "item_id")


class ResponsesStreamTranslator:
    """Upstream Responses events → Deltas. Unknown event types are ignored on purpose:
    the assembler re-derives the full event sequence from the Deltas."""

    def __init__(self, meter: UsageMeter, tier: TierChoice | None = None) -> None:
        self._meter = meter
        self._tier = tier  # None: the response keeps the tier it was made with
        self.terminal: dict[str, Any] | None = None  # the completed/incomplete response
        self.failure: dict[str, Any] | None = None  # the upstream's error, if it failed
        self._open_hosted: set[str] = set()  # ids of the upstream's own hosted calls, open

    def _hosted(self, stage: Literal["added", "done"], event: dict[str, Any]) -> list[Delta]:
        """A call the upstream ran itself (pass-through): its item as the upstream sent it."""
        item = event.get("item")
        if not isinstance(item, dict) or item.get("type") not in HOSTED_CALL_ITEMS:
            return []
        item_id = str(item.get("id") or "")
        if stage == "added":
            self._open_hosted.add(item_id)
        elif item_id not in self._open_hosted:  # done without added: opened here, at once
            return [HostedItemDelta("added", item), HostedItemDelta("done", item)]
        else:
            self._open_hosted.discard(item_id)
        return [HostedItemDelta(stage, item)]

    def feed(self, event: dict[str, Any]) -> list[Delta]:
        kind = event.get("type")
        if kind == "response.output_text.delta":
            self._meter.output_tokens += 1
            return [TextDelta(str(event.get("delta", "")))]
        if kind in ("response.reasoning_text.delta", "response.reasoning.delta"):
            self._meter.output_tokens += 1
            self._meter.reasoning_tokens += 1
            return [ReasoningDelta(str(event.get("delta", "")))]
        if kind in (
            "response.function_call_arguments.delta",
            "response.custom_tool_call_input.delta",
        ):
            self._meter.output_tokens += 1
            return [ToolCallDelta(str(event.get("delta", "")))]
        if kind == "response.output_item.added":
            return self._hosted("added", event) or _item_added(event.get("item") or {})
        if kind == "response.output_item.done":
            return self._hosted("done", event) or _item_done(event.get("item") or {})
        if kind == "response.output_text.annotation.added":  # an upstream's own search cites
            annotation = event.get("annotation")
            return [AnnotationDelta(annotation)] if isinstance(annotation, dict) else []
        if self._open_hosted and str(event.get("item_id")) in self._open_hosted:
            return _hosted_stage(event)
        if kind in _TERMINAL:
            self.terminal = event.get("response") or {}
            return self._finish(kind)
        if kind in ("response.failed", "error"):
            self.failure = _error_of(event)
        return []

    def _finish(self, kind: str) -> list[Delta]:
        assert self.terminal is not None
        usage = self.terminal.get("usage") or {}
        prompt = int(usage.get("input_tokens") or 0)
        cached = int((usage.get("input_tokens_details") or {}).get("cached_tokens") or 0)
        output = int(usage.get("output_tokens") or self._meter.output_tokens)
        reasoning = int((usage.get("output_tokens_details") or {}).get("reasoning_tokens") or 0)
        self._meter.output_tokens = output
        reason: FinishReason = "length" if kind == "response.incomplete" else "stop"
        tier = None if self._tier is None else self._tier.served(self.terminal.get("service_tier"))
        return [PromptDelta(prompt, cached), FinishDelta(reason, output, reasoning, tier)]


def _hosted_stage(event: dict[str, Any]) -> list[Delta]:
    """An open hosted call's own event (`response.web_search_call.searching`, an MCP
    call's `response.mcp_call_arguments.delta`…), its payload fields kept; the assembler
    gives it our sequence number and output index."""
    fields = {k: v for k, v in event.items() if k not in _RENUMBERED}
    return [
        HostedItemDelta("progress", {"id": str(event["item_id"])}, ((str(event["type"]), fields),))
    ]


def _item_added(item: dict[str, Any]) -> list[Delta]:
    kind = item.get("type")
    if kind in _CALLS:
        name = str(item.get("name", ""))
        if item.get("namespace"):  # called here by its namespaced name (the assembler's key)
            name = namespaced_name(str(item["namespace"]), name)
        return [ToolCallStartDelta("custom" if kind == "custom_tool_call" else "function", name)]
    return []


def _item_done(item: dict[str, Any]) -> list[Delta]:
    kind = str(item.get("type"))
    if kind == "function_call":
        return [ToolCallDoneDelta(str(item.get("arguments", "")))]
    if kind == "custom_tool_call":
        return [ToolCallDoneDelta(str(item.get("input", "")))]
    if kind in _BUILTIN_CALLS:
        tool, field = _BUILTIN_CALLS[kind]
        payload = item.get(field) or {}
        return [ToolCallStartDelta(tool, tool), ToolCallDoneDelta(payload)]  # type: ignore[arg-type]
    if kind == "reasoning":
        text = "".join(str(part.get("text", "")) for part in item.get("content") or [])
        summary = tuple(str(part.get("text", "")) for part in item.get("summary") or [])
        return [ReasoningDoneDelta(text, summary, item.get("encrypted_content"))]
    return []


def _error_of(event: dict[str, Any]) -> dict[str, Any]:
    error = event.get("error")
    if not isinstance(error, dict):
        error = (event.get("response") or {}).get("error")
    if not isinstance(error, dict):
        error = {k: event.get(k) for k in ("code", "message")}
    return error
