"""Tool-call output items and their stream events, for the assembler.

    function_call (fc_)      added → function_call_arguments.delta* → .done → item done
    custom_tool_call (ctc_)  added → custom_tool_call_input.delta* → .done → item done
    apply_patch_call (apc_)  added → item done   (the SDK defines no diff events)
    shell_call (sh_)         added → (shell_call_command.added → .delta → .done)* → item done
    tool_search_call (tsc_)  added → item done   (client-executed: the client searches)

apply_patch, shell and tool_search items are announced when their call is complete: their
fields are parsed from the whole constrained JSON, not streamed piecemeal. A call of a tool
inside a namespace carries `namespace` and the tool's own `name`.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from typing import Any

from thinkgate.core.deltas import ToolKind
from thinkgate.ids import new_call_id, new_id

Event = dict[str, Any]
Emit = Callable[..., Event]
_PREFIX = {
    "function": "fc",
    "custom": "ctc",
    "apply_patch": "apc",
    "shell": "sh",
    "tool_search": "tsc",
}
_STREAMED = {
    "function": ("response.function_call_arguments", "arguments"),
    "custom": ("response.custom_tool_call_input", "input"),
}


class ToolCallItem:
    """One open call; `emit(type, **fields)` numbers the events."""

    def __init__(
        self,
        emit: Emit,
        output_index: int,
        tool: ToolKind,
        name: str,
        *,
        obfuscation: Callable[[], str] | None,
        namespace: str | None = None,
    ) -> None:
        self.item_id = new_id(_PREFIX[tool])
        self.call_id = new_call_id()
        self.output_index = output_index
        self.tool = tool
        self.name = name
        self.namespace = namespace
        self._emit = emit
        self._obfuscation = obfuscation
        self._text: list[str] = []

    def open(self) -> list[Event]:
        if self.tool not in _STREAMED:
            return []  # announced whole, in close()
        item = self._item("in_progress", "".join(self._text))
        return [self._emit("response.output_item.added", output_index=self.output_index, item=item)]

    def delta(self, text: str) -> list[Event]:
        if not text or self.tool not in _STREAMED:
            return []
        self._text.append(text)
        event = self._emit(f"{_STREAMED[self.tool][0]}.delta", **self._where(), delta=text)
        if self._obfuscation is not None:
            event["obfuscation"] = self._obfuscation()
        return [event]

    def close(
        self, payload: str | dict[str, Any] | None
    ) -> tuple[dict[str, Any] | None, list[Event]]:
        """Finish the item; `payload` None: generation stopped mid-call (status incomplete).

        Returns None for the item when a cut-off call has nothing a client could use."""
        if self.tool not in _STREAMED:
            if self.tool == "tool_search" and isinstance(payload, str):
                payload = _arguments_object(payload)  # a chat upstream's function call
            if not isinstance(payload, dict):
                return None, []
            return self._close_whole(payload)
        text = "".join(self._text) if payload is None else str(payload)
        status = "incomplete" if payload is None else "completed"
        prefix, field = _STREAMED[self.tool]
        item = self._item(status, text)
        events = [
            self._emit(f"{prefix}.done", **self._where(), **{field: text}),
            self._emit(
                "response.output_item.done",
                output_index=self.output_index,
                item=copy.deepcopy(item),
            ),
        ]
        return item, events

    def _close_whole(self, payload: dict[str, Any]) -> tuple[dict[str, Any], list[Event]]:
        final = self._item("completed", payload)
        opening = copy.deepcopy(final)
        opening["status"] = "in_progress"
        events = []
        if self.tool == "apply_patch":
            if "diff" in opening["operation"]:
                opening["operation"]["diff"] = ""
        elif self.tool == "shell":
            opening["action"]["commands"] = []
        events.append(
            self._emit("response.output_item.added", output_index=self.output_index, item=opening)
        )
        if self.tool == "shell":
            events += self._command_events(final["action"]["commands"])
        events.append(
            self._emit(
                "response.output_item.done",
                output_index=self.output_index,
                item=copy.deepcopy(final),
            )
        )
        return final, events

    def _command_events(self, commands: list[str]) -> list[Event]:
        events = []
        for index, command in enumerate(commands):
            where = {"output_index": self.output_index, "command_index": index}
            events.append(self._emit("response.shell_call_command.added", **where, command=""))
            delta = self._emit("response.shell_call_command.delta", **where, delta=command)
            if self._obfuscation is not None:
                delta["obfuscation"] = self._obfuscation()
            events.append(delta)
            events.append(self._emit("response.shell_call_command.done", **where, command=command))
        return events

    def _item(self, status: str, value: str | dict[str, Any]) -> dict[str, Any]:
        base = {"id": self.item_id, "call_id": self.call_id}
        named = {"name": self.name} | ({"namespace": self.namespace} if self.namespace else {})
        if self.tool == "function":
            return {
                **base,
                "type": "function_call",
                "status": status,
                "arguments": value,
                **named,
            }
        if self.tool == "custom":
            return {**base, "type": "custom_tool_call", **named, "input": value}
        assert isinstance(value, dict)
        if self.tool == "tool_search":
            kind = {"type": "tool_search_call", "execution": "client"}
            return {**base, **kind, "status": status, "arguments": value}
        if self.tool == "apply_patch":
            operation = {key: value[key] for key in ("type", "path", "diff") if key in value}
            return {**base, "type": "apply_patch_call", "status": status, "operation": operation}
        action = {
            "commands": list(value.get("commands") or []),
            "timeout_ms": value.get("timeout_ms"),
            "max_output_length": value.get("max_output_length"),
        }
        return {**base, "type": "shell_call", "status": status, "action": action}

    def _where(self) -> dict[str, Any]:
        return {"item_id": self.item_id, "output_index": self.output_index}


def _arguments_object(text: str) -> dict[str, Any] | None:
    try:
        value = json.loads(text)
    except json.JSONDecodeError:
        return None
    return value if isinstance(value, dict) else None
