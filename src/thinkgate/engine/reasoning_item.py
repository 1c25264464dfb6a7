"""The `reasoning` output item (`rs_…`) and its stream events, for the assembler.

Event order for one reasoning item (reference §3.3 (b); raw text as open engines send it):

    output_item.added {summary: []}
      → content_part.added {reasoning_text} → reasoning_text.delta* → reasoning_text.done
      → content_part.done
      → (summary_part.added → summary_text.delta → summary_text.done → summary_part.done)*
      → output_item.done {summary, content, [encrypted_content]}

Without the raw text (`raw=False`: GPT-5.1, which never returns its chain of thought,
reference §3.3): no content part and no `reasoning_text` events, only the summary parts
and the sealed copy.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

from thinkgate.core.deltas import ReasoningDoneDelta
from thinkgate.ids import new_id

Event = dict[str, Any]
Emit = Callable[..., Event]


class ReasoningItem:
    """One open reasoning item; `emit(type, **fields)` numbers the events."""

    def __init__(
        self,
        emit: Emit,
        output_index: int,
        *,
        obfuscation: Callable[[], str] | None,
        raw: bool = True,
    ):
        self.item_id = new_id("rs")
        self._raw = raw
        self.output_index = output_index
        self._emit = emit
        self._obfuscation = obfuscation
        self._text: list[str] = []

    def open(self) -> list[Event]:
        item = {"id": self.item_id, "type": "reasoning", "summary": []}
        part = {"type": "reasoning_text", "text": ""}
        added = self._emit("response.output_item.added", output_index=self.output_index, item=item)
        if not self._raw:
            return [added]
        return [
            added,
            self._emit("response.content_part.added", **self._where(), content_index=0, part=part),
        ]

    def delta(self, text: str) -> list[Event]:
        if not text or not self._raw:
            return []
        self._text.append(text)
        return [
            self._emit(
                "response.reasoning_text.delta", **self._where(), content_index=0, delta=text
            )
        ]

    def close(self, done: ReasoningDoneDelta | None) -> tuple[dict[str, Any], list[Event]]:
        """Finish the item; `done` is None when generation stopped mid-thought."""
        text = "".join(self._text)  # what was streamed is what the item holds
        part = {"type": "reasoning_text", "text": text}
        events = []
        if self._raw:
            where = {**self._where(), "content_index": 0}
            events += [
                self._emit("response.reasoning_text.done", **where, text=text),
                self._emit("response.content_part.done", **where, part=part),
            ]
        summary = [] if done is None else [s for s in done.summary if s]
        for index, summary_text in enumerate(summary):
            events += self._summary_events(index, summary_text)
        item: dict[str, Any] = {
            "id": self.item_id,
            "type": "reasoning",
            "summary": [{"type": "summary_text", "text": s} for s in summary],
        }
        if self._raw:
            item["content"] = [dict(part)]
        if done is not None and done.encrypted_content is not None:
            item["encrypted_content"] = done.encrypted_content
        events.append(
            self._emit(
                "response.output_item.done",
                output_index=self.output_index,
                item=copy.deepcopy(item),
            )
        )
        return item, events

    def _summary_events(self, index: int, text: str) -> list[Event]:
        """Emitted in order: `emit` numbers the events as it makes them."""
        where = {**self._where(), "summary_index": index}
        empty = {"type": "summary_text", "text": ""}
        added = self._emit("response.reasoning_summary_part.added", **where, part=empty)
        delta = self._emit("response.reasoning_summary_text.delta", **where, delta=text)
        if self._obfuscation is not None:
            delta["obfuscation"] = self._obfuscation()
        done = self._emit("response.reasoning_summary_text.done", **where, text=text)
        part = {"type": "summary_text", "text": text}
        return [
            added,
            delta,
            done,
            self._emit("response.reasoning_summary_part.done", **where, part=part),
        ]

    def _where(self) -> dict[str, Any]:
        return {"item_id": self.item_id, "output_index": self.output_index}
