"""Remote MCP (`type: "mcp"`) as a hosted tool: each declared server's tools are offered to
the model as functions `mcp__<label>__<tool>`; a call runs on the server, or, where the
server needs approval, ends the response with an `mcp_approval_request`.

    before round 0 (`prelude`)   each server resolved (allow-list, SSRF guard, access);
                                 its tools listed (`mcp_list_tools`) unless the chain
                                 already holds a list for that label; each approval answer
                                 of this turn checked, the approved calls run (`mcp_call`
                                 with `approval_request_id`)
    a call (`begin` / `run`)     `mcp_call` in_progress → completed | failed (error), or an
                                 `mcp_approval_request` that pauses the response
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar

import anyio

from thinkgate.config import McpConfig
from thinkgate.hosted.base import CallOutcome, HostedCall, Item, Tool
from thinkgate.hosted.mcp.approvals import Approval, Approvals
from thinkgate.hosted.mcp.client import ListedTool, McpClient, McpFailure
from thinkgate.hosted.mcp.servers import (
    Resolved,
    needs_approval,
    offered_tools,
    resolve,
)
from thinkgate.ids import new_call_id, new_id
from thinkgate.net import UrlPolicy

_KEY = "_mcp"  # where a declaration carries what the prelude worked out (never echoed)
_NAME = re.compile(r"[^a-zA-Z0-9_-]")
_CALLED = "response.mcp_call"


@dataclass(slots=True)
class _Server:
    """A declared server for this response: resolved, its offered tools by function name."""

    resolved: Resolved
    owner: str | None
    tools: dict[str, ListedTool] = field(default_factory=dict)


@dataclass(slots=True)
class Announced:
    """An item the loop sends before the model's first round, whole: as it opened (and
    its opening events), as it ended (and its closing events)."""

    added: Item
    opening: tuple[Any, ...]
    done: Item
    closing: tuple[Any, ...]


@dataclass(slots=True)
class Prelude:
    declarations: list[Tool]
    announced: list[Announced]
    context: list[Item]  # what the model reads of the approved (or declined) calls


class RemoteMcp:
    types: ClassVar[tuple[str, ...]] = ("mcp",)
    item_type: ClassVar[str] = "mcp_call"
    id_prefix: ClassVar[str] = "mcp"
    price_key: ClassVar[str] = "mcp"
    per_declaration: ClassVar[bool] = True  # every declared server counts, not the first
    opening: ClassVar[tuple[str, ...]] = (f"{_CALLED}.in_progress",)
    working: ClassVar[tuple[str, ...]] = ()
    closing: ClassVar[tuple[str, ...]] = (f"{_CALLED}.completed",)

    def __init__(self, config: McpConfig, policy: UrlPolicy, approvals: Approvals) -> None:
        self._config = config
        self._policy = policy
        self._approvals = approvals
        self._client = McpClient(policy, config.max_output_chars)

    # --- before the model's first round ------------------------------------------------

    async def prelude(
        self,
        declarations: Sequence[Tool],
        items: Sequence[Item],
        this_turn: Sequence[Item],
        owner: str | None,
        key_id: str | None,
    ) -> Prelude:
        servers = [
            _Server(await resolve(d, self._config, self._policy, owner, key_id), owner)
            for d in declarations
        ]
        urls = {s.resolved.server.label: s.resolved.server.url for s in servers}
        approvals = self._approvals.answered(items, this_turn, owner, urls)
        lists: list[Announced | None] = [None] * len(servers)

        async def listed(index: int) -> None:
            lists[index] = await self._list(declarations[index], servers[index], items)

        async with anyio.create_task_group() as group:
            for index in range(len(servers)):
                group.start_soon(listed, index)
        announced = [a for a in lists if a is not None]
        context: list[Item] = []
        by_label = {s.resolved.server.label: s for s in servers}
        for approval in approvals:
            await self._answer(approval, by_label, announced, context)
        prepared = [{**d, _KEY: s} for d, s in zip(declarations, servers, strict=True)]
        return Prelude(prepared, announced, context)

    async def _list(
        self, declared: Tool, server: _Server, items: Sequence[Item]
    ) -> Announced | None:
        label = server.resolved.server.label
        cached = _cached_list(items, label)
        error = None
        if cached is not None:
            listed = cached
        else:
            try:
                listed = await self._client.list_tools(
                    server.resolved.server, self._config.list_timeout
                )
            except McpFailure as failure:
                listed, error = [], str(failure)
        offered = offered_tools(declared, server.resolved, listed)
        for tool in offered:
            server.tools[_function_name(label, tool.name, server.tools)] = tool
        if cached is not None:
            return None
        item: Item = {
            "id": new_id("mcpl"),
            "type": "mcp_list_tools",
            "server_label": label,
            "tools": [_public(tool) for tool in offered],  # what this caller may call
        }
        if error is not None:
            item["error"] = error
        end = "failed" if error is not None else "completed"
        opening = ("response.mcp_list_tools.in_progress",)
        added = {**item, "tools": []}
        added.pop("error", None)
        return Announced(added, opening, item, (f"response.mcp_list_tools.{end}",))

    async def _answer(
        self,
        approval: Approval,
        servers: dict[str, _Server],
        announced: list[Announced],
        context: list[Item],
    ) -> None:
        request = approval.request
        server = servers[str(request["server_label"])]
        name = _function_name(server.resolved.server.label, str(request["name"]), {})
        call_id = new_call_id()
        context.append(
            {
                "type": "function_call",
                "call_id": call_id,
                "name": name,
                "arguments": request["arguments"],
            }
        )
        if not approval.approve:
            why = f" ({approval.reason})" if approval.reason else ""
            output = f"The user declined this call{why}; it was not run."
        else:
            self._approvals.honour(approval)
            item = self._call_item(server, str(request["name"]), str(request["arguments"]))
            item["approval_request_id"] = request["id"]
            outcome = await self._run_item(server, item)
            closing = outcome.closing or self.closing
            announced.append(Announced(item, _opening(item), outcome.item, closing))
            output = outcome.output
        context.append({"type": "function_call_output", "call_id": call_id, "output": output})

    # --- the model's calls ----------------------------------------------------------

    def functions(self, declared: Tool) -> list[Tool]:
        server: _Server | None = declared.get(_KEY)
        if server is None:
            return []
        about = server.resolved.description
        return [
            {
                "type": "function",
                "name": name,
                "description": " ".join(
                    part
                    for part in (
                        tool.description or f"The tool {tool.name}",
                        f"(MCP server {server.resolved.server.label}: {about})" if about else "",
                    )
                    if part
                ),
                "parameters": _schema(tool.input_schema),
                "strict": False,
            }
            for name, tool in server.tools.items()
        ]

    def chooses(self, choice: dict[str, Any], declared: Tool, function: Tool) -> bool:
        """Whether `tool_choice` `{"type": "mcp", "server_label", "name"?}` forces `function`."""
        server: _Server | None = declared.get(_KEY)
        if server is None or choice.get("server_label") != declared.get("server_label"):
            return False
        tool = server.tools.get(str(function["name"]))
        return tool is not None and choice.get("name") in (None, tool.name)

    def begin(self, call: HostedCall) -> None:
        server: _Server = call.declared[_KEY]
        tool = server.tools[call.name]
        arguments = json.dumps(call.arguments if call.arguments is not None else {})
        label = server.resolved.server.label
        if needs_approval(server.resolved.approval, tool):
            approval_id = self._approvals.new_id(
                server.owner, server.resolved.server.url, label, tool.name, arguments
            )
            call.item.clear()
            call.item.update(
                id=approval_id,
                type="mcp_approval_request",
                server_label=label,
                name=tool.name,
                arguments=arguments,
            )
            call.opening = ()
            return
        call.item.update(self._call_item(server, tool.name, arguments, call.item["id"]))
        call.opening = _opening(call.item)

    async def run(self, call: HostedCall) -> CallOutcome:
        if call.item["type"] == "mcp_approval_request":
            return CallOutcome(dict(call.item), "", closing=(), pauses=True)
        return await self._run_item(call.declared[_KEY], dict(call.item))

    async def _run_item(self, server: _Server, item: Item) -> CallOutcome:
        name = str(item["name"])
        if server.resolved.permitted is not None and name not in server.resolved.permitted:
            failure = McpFailure(
                {
                    "type": "mcp_protocol_error",
                    "code": -32601,
                    "message": f"You may not call the tool '{name}'.",
                }
            )
            return _failed(item, failure)
        try:
            arguments = json.loads(str(item["arguments"]))
        except ValueError:
            arguments = None
        if not isinstance(arguments, dict):
            failure = McpFailure(
                {
                    "type": "mcp_protocol_error",
                    "code": -32602,
                    "message": "The arguments are not a JSON object.",
                }
            )
            return _failed(item, failure)
        try:
            output = await self._client.call_tool(
                server.resolved.server, name, arguments, self._config.call_timeout
            )
        except McpFailure as failure:
            return _failed(item, failure)
        done = {**item, "status": "completed", "output": output, "error": None}
        return CallOutcome(done, output)

    def _call_item(
        self, server: _Server, name: str, arguments: str, item_id: str | None = None
    ) -> Item:
        return {
            "id": item_id or new_id(self.id_prefix),
            "type": "mcp_call",
            "server_label": server.resolved.server.label,
            "name": name,
            "arguments": arguments,
            "output": None,
            "error": None,
            "approval_request_id": None,
            "status": "in_progress",
        }

    # --- history, as the model reads it -------------------------------------------------

    def view(self, items: Sequence[Item]) -> list[Item]:
        """Earlier `mcp_call`s as the call and output the model made and read; the other
        MCP items (lists, approvals) are the client's business, not the model's."""
        seen: list[Item] = []
        for item in items:
            kind = item.get("type")
            if kind == "mcp_call":
                call_id = "call_" + str(item.get("id") or new_call_id())[-24:]
                name = _function_name(str(item["server_label"]), str(item["name"]), {})
                seen.append(
                    {
                        "type": "function_call",
                        "call_id": call_id,
                        "name": name,
                        "arguments": item.get("arguments") or "{}",
                    }
                )
                output = item.get("output")
                if output is None:
                    output = f"The call failed: {json.dumps(item.get('error'))}"
                seen.append({"type": "function_call_output", "call_id": call_id, "output": output})
            elif kind not in ("mcp_list_tools", "mcp_approval_request", "mcp_approval_response"):
                seen.append(item)
        return seen

    async def aclose(self) -> None:
        return None


def _opening(item: Item) -> tuple[Any, ...]:
    arguments = str(item["arguments"])
    return (
        f"{_CALLED}.in_progress",
        (f"{_CALLED}_arguments.delta", {"delta": arguments}),
        (f"{_CALLED}_arguments.done", {"arguments": arguments}),
    )


def _failed(item: Item, failure: McpFailure) -> CallOutcome:
    done = {**item, "status": "failed", "output": None, "error": failure.error}
    return CallOutcome(done, f"The MCP tool failed: {failure}", closing=(f"{_CALLED}.failed",))


def _cached_list(items: Sequence[Item], label: str) -> list[ListedTool] | None:
    """The last successful `mcp_list_tools` of `label` in the chain, if any."""
    for item in reversed(items):
        if (
            item.get("type") == "mcp_list_tools"
            and item.get("server_label") == label
            and not item.get("error")
        ):
            return [
                ListedTool(
                    str(tool["name"]),
                    tool.get("description"),
                    tool.get("input_schema") if isinstance(tool.get("input_schema"), dict) else {},
                    tool.get("annotations") if isinstance(tool.get("annotations"), dict) else None,
                )
                for tool in item.get("tools") or []
            ]
    return None


def _public(tool: ListedTool) -> dict[str, Any]:
    return {
        "name": tool.name,
        "description": tool.description,
        "input_schema": tool.input_schema,
        "annotations": tool.annotations,
    }


def _function_name(label: str, tool: str, taken: dict[str, Any]) -> str:
    base = f"mcp__{_NAME.sub('_', label)}__{_NAME.sub('_', tool)}"[:64]
    name, number = base, 1
    while name in taken:
        number += 1
        name = f"{base[: 64 - len(str(number)) - 1]}_{number}"
    return name


def _schema(schema: dict[str, Any]) -> dict[str, Any]:
    """The tool's input schema as a function's parameters (an object at the root)."""
    cleaned = {k: v for k, v in schema.items() if k not in ("$schema", "title")}
    if cleaned.get("type") != "object":
        return {"type": "object", "properties": {}}
    return cleaned
