"""Deltas → the Response object and its typed stream events, in the one right order.

The assembler alone owns item ids, `output_index`, `content_index` and
`sequence_number`. Item life cycle (reference §3.3):

    output_item.added → content_part.added → output_text.delta* → output_text.done
      → content_part.done → output_item.done          … then exactly one terminal event

A non-streaming request runs the same assembler and drops the events.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from thinkgate.core.deltas import (
    AnnotationDelta,
    Delta,
    FinishDelta,
    HostedItemDelta,
    PromptDelta,
    ReasoningDelta,
    ReasoningDoneDelta,
    TextDelta,
    ToolCallDelta,
    ToolCallDoneDelta,
    ToolCallStartDelta,
    ToolKind,
)
from thinkgate.core.request import ResponseDict
from thinkgate.engine.delta_extras import logprob_wire, obfuscation_padding
from thinkgate.engine.reasoning_item import ReasoningItem
from thinkgate.engine.response_object import snapshot, usage_object
from thinkgate.engine.tool_items import ToolCallItem
from thinkgate.errors import ThinkgateError
from thinkgate.ids import new_id
from thinkgate.protocol.common import shown_service_tier
from thinkgate.protocol.tools import call_name

Event = dict[str, Any]


@dataclass(slots=True)
class _OpenMessage:
    item_id: str
    output_index: int
    text: list[str] = field(default_factory=list)
    logprobs: list[dict[str, Any]] = field(default_factory=list)
    annotations: list[dict[str, Any]] = field(default_factory=list)


class ResponseAssembler:
    shows_reasoning = True
    awaits_settling = True

    def __init__(
        self,
        response: ResponseDict,
        *,
        obfuscate: bool = True,
        tools: Sequence[dict[str, Any]] = (),
    ) -> None:
        self.response = response
        self._obfuscate = obfuscate
        # By call name: a namespaced tool's call carries its namespace and own name
        self._tools = {call_name(tool): tool for tool in tools}
        self._sequence = 0
        self._message: _OpenMessage | None = None
        self._reasoning: ReasoningItem | None = None
        self._tool: ToolCallItem | None = None
        self._made_calls = False
        self._hosted: dict[str, int] = {}  # open hosted calls: item id → output index
        self.input_tokens = 0
        self.cached_tokens = 0
        self.output_tokens = 0
        self.reasoning_tokens = 0
        self.finished = False
        self._leading: list[dict[str, Any]] = []

    def lead_with(self, item: dict[str, Any]) -> None:
        """An item made before generation (server-side compaction): output first."""
        self._leading.append(item)

    # --- public steps ---------------------------------------------------------------

    def start(self) -> list[Event]:
        events = [
            self._event("response.created", response=snapshot(self.response)),
            self._event("response.in_progress", response=snapshot(self.response)),
        ]
        for item in self._leading:
            where = {"output_index": len(self.response["output"])}
            self.response["output"].append(item)
            events.append(self._event("response.output_item.added", **where, item=dict(item)))
            events.append(self._event("response.output_item.done", **where, item=dict(item)))
        self._leading.clear()
        return events

    def feed(self, delta: Delta) -> list[Event]:
        if isinstance(delta, PromptDelta):
            self.input_tokens, self.cached_tokens = delta.input_tokens, delta.cached_tokens
            return []
        if isinstance(delta, TextDelta):
            return self._close_reasoning(None) + self._on_text(delta)
        if isinstance(delta, ReasoningDelta):
            return self._on_reasoning(delta)
        if isinstance(delta, ReasoningDoneDelta):
            return self._close_reasoning(delta)
        if isinstance(delta, ToolCallStartDelta | ToolCallDelta | ToolCallDoneDelta):
            return self._on_tool(delta)
        if isinstance(delta, HostedItemDelta):
            return self._on_hosted(delta)
        if isinstance(delta, AnnotationDelta):
            return self._on_annotation(delta)
        return self.finish(delta)

    def finish(self, delta: FinishDelta) -> list[Event]:
        self.output_tokens, self.reasoning_tokens = delta.output_tokens, delta.reasoning_tokens
        if delta.service_tier is not None:  # the tier that served (an upstream's)
            self.response["service_tier"] = delta.service_tier
        incomplete = delta.reason == "length"
        events = self._close_reasoning(None) + self._close_tool(None)
        if self._message is not None or not self._made_calls:  # calls alone: no empty message
            events += [] if self._message is not None else self._open_message()
            events += self._close_message("incomplete" if incomplete else "completed")
        self._settle("incomplete" if incomplete else "completed")
        if incomplete:
            self.response["incomplete_details"] = {"reason": "max_output_tokens"}
            events.append(self._event("response.incomplete", response=snapshot(self.response)))
        else:
            events.append(self._event("response.completed", response=snapshot(self.response)))
        return events

    def fail(self, error: ThinkgateError) -> list[Event]:
        """The live shape: a nested `error` event, then `response.failed`."""
        events = self._close_reasoning(None) + self._close_tool(None)
        events += self._close_message("incomplete") if self._message is not None else []
        self._end_hosted("failed")
        code = error.code or error.error_type
        events.append(self._event("error", error={**error.to_payload(), "code": code}))
        self.response["error"] = {"code": code, "message": error.message}
        self.response["status"] = "failed"
        self.finished = True
        events.append(self._event("response.failed", response=snapshot(self.response)))
        return events

    def cancel(self, *, output_tokens: int, reasoning_tokens: int = 0) -> None:
        """The client went away: keep what was produced, counted, marked cancelled."""
        self.output_tokens, self.reasoning_tokens = output_tokens, reasoning_tokens
        self._close_reasoning(None)
        self._close_tool(None)
        if self._message is not None:
            self._close_message("incomplete")
        self._end_hosted("incomplete")
        self._settle("cancelled")

    # --- items ----------------------------------------------------------------------

    def _on_text(self, delta: TextDelta) -> list[Event]:
        events = self._open_message() if self._message is None else []
        message = self._message
        assert message is not None
        logprobs = [logprob_wire(lp) for lp in delta.logprobs]
        message.text.append(delta.text)
        message.logprobs.extend(logprobs)
        event = self._event(
            "response.output_text.delta",
            item_id=message.item_id,
            output_index=message.output_index,
            content_index=0,
            delta=delta.text,
            logprobs=logprobs,
        )
        if self._obfuscate:
            event["obfuscation"] = obfuscation_padding()
        events.append(event)
        return events

    def _on_reasoning(self, delta: ReasoningDelta) -> list[Event]:
        events: list[Event] = []
        if self._reasoning is None:
            obfuscation = obfuscation_padding if self._obfuscate else None
            index = len(self.response["output"])
            self._reasoning = ReasoningItem(
                self._event, index, obfuscation=obfuscation, raw=delta.raw
            )
            events += self._reasoning.open()
        return events + self._reasoning.delta(delta.text)

    def _close_reasoning(self, done: ReasoningDoneDelta | None) -> list[Event]:
        """A reasoning item ends before anything follows it (or with the response)."""
        if done is not None and self._reasoning is None:
            opened = self._on_reasoning(ReasoningDelta(done.text, raw=done.raw))
        else:
            opened = []
        reasoning, self._reasoning = self._reasoning, None
        if reasoning is None:
            return opened
        item, events = reasoning.close(done)
        self.response["output"].append(item)
        return opened + events

    def _on_tool(
        self, delta: ToolCallStartDelta | ToolCallDelta | ToolCallDoneDelta
    ) -> list[Event]:
        """Tool calls (engine.tool_items): each a new output item after anything open."""
        if isinstance(delta, ToolCallStartDelta):
            events = self._close_reasoning(None) + self._close_tool(None)
            if self._message is not None:
                events += self._close_message("completed")
            obfuscation = obfuscation_padding if self._obfuscate else None
            index = len(self.response["output"])
            kind, name, namespace = self._called(delta)
            self._tool = ToolCallItem(
                self._event, index, kind, name, obfuscation=obfuscation, namespace=namespace
            )
            self._made_calls = True
            return events + self._tool.open()
        if self._tool is None:
            return []
        if isinstance(delta, ToolCallDelta):
            return self._tool.delta(delta.text)
        return self._close_tool(delta.payload)

    def _called(self, delta: ToolCallStartDelta) -> tuple[ToolKind, str, str | None]:
        """(kind, name, namespace) of a call: backends name calls by call name, and a
        chat-only upstream reports a tool search as a function call."""
        tool = self._tools.get(delta.name)
        if tool is None:
            return delta.tool, delta.name, None
        kind: ToolKind = "tool_search" if tool["type"] == "tool_search" else delta.tool
        return kind, str(tool.get("name") or delta.name), tool.get("namespace")

    def _close_tool(self, payload: str | dict[str, Any] | None) -> list[Event]:
        tool, self._tool = self._tool, None
        if tool is None:
            return []
        item, events = tool.close(payload)
        if item is not None:
            self.response["output"].append(item)
        return events

    def _on_hosted(self, delta: HostedItemDelta) -> list[Event]:
        """A gateway-run call (engine.hosted_loop): its index is taken when it opens, so
        calls run side by side keep their order; `done` puts the final item in place."""
        item_id = str(delta.item["id"])
        events: list[Event] = []
        if delta.stage == "added":
            events += self._close_reasoning(None) + self._close_tool(None)
            if self._message is not None:
                events += self._close_message("completed")
            self._hosted[item_id] = len(self.response["output"])
            self._made_calls = True
            events.append(
                self._event(
                    "response.output_item.added",
                    output_index=self._hosted[item_id],
                    item=dict(delta.item),
                )
            )
            self.response["output"].append(dict(delta.item))
        index = self._hosted.get(item_id)
        if index is None:
            return events
        where = {"output_index": index, "item_id": item_id}
        for event in delta.events:
            kind, fields = (event, {}) if isinstance(event, str) else event
            events.append(self._event(kind, **where, **fields))
        if delta.stage == "done":
            del self._hosted[item_id]
            self.response["output"][index] = dict(delta.item)
            events.append(
                self._event("response.output_item.done", output_index=index, item=dict(delta.item))
            )
        return events

    def _end_hosted(self, status: str) -> None:
        """Hosted calls still open when the response ends (failed, cancelled) end so."""
        for index in self._hosted.values():
            self.response["output"][index] = {**self.response["output"][index], "status": status}
        self._hosted.clear()

    def _on_annotation(self, delta: AnnotationDelta) -> list[Event]:
        message = self._message
        if message is None:
            return []
        message.annotations.append(delta.annotation)
        return [
            self._event(
                "response.output_text.annotation.added",
                item_id=message.item_id,
                output_index=message.output_index,
                content_index=0,
                annotation_index=len(message.annotations) - 1,
                annotation=dict(delta.annotation),
            )
        ]

    def _open_message(self) -> list[Event]:
        output_index = len(self.response["output"])
        message = _OpenMessage(item_id=new_id("msg"), output_index=output_index)
        self._message = message
        item = {
            "id": message.item_id,
            "type": "message",
            "status": "in_progress",
            "content": [],
            "role": "assistant",
        }
        part = {"type": "output_text", "annotations": [], "logprobs": [], "text": ""}
        return [
            self._event("response.output_item.added", output_index=output_index, item=item),
            self._event(
                "response.content_part.added",
                item_id=message.item_id,
                output_index=output_index,
                content_index=0,
                part=part,
            ),
        ]

    def _close_message(self, status: str) -> list[Event]:
        message = self._message
        assert message is not None
        self._message = None
        text = "".join(message.text)
        part = {
            "type": "output_text",
            "annotations": message.annotations,
            "logprobs": message.logprobs,
            "text": text,
        }
        item = {
            "id": message.item_id,
            "type": "message",
            "status": status,
            "content": [part],
            "role": "assistant",
        }
        self.response["output"].append(item)
        where = {"item_id": message.item_id, "output_index": message.output_index}
        return [
            self._event(
                "response.output_text.done",
                **where,
                content_index=0,
                text=text,
                logprobs=message.logprobs,
            ),
            self._event("response.content_part.done", **where, content_index=0, part=dict(part)),
            self._event(
                "response.output_item.done", output_index=message.output_index, item=snapshot(item)
            ),
        ]

    # --- response -------------------------------------------------------------------

    def _settle(self, status: str) -> None:
        self.finished = True
        self.response["status"] = status
        self.response["completed_at"] = int(time.time()) if status == "completed" else None
        self.response["service_tier"] = shown_service_tier(self.response["service_tier"])
        self.response["usage"] = usage_object(
            self.input_tokens, self.cached_tokens, self.output_tokens, self.reasoning_tokens
        )

    def _event(self, event_type: str, **fields: Any) -> Event:
        event = {"type": event_type, "sequence_number": self._sequence, **fields}
        self._sequence += 1
        return event
