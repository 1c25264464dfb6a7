"""What the hosted tool loop does before the model's first round, for tools that need it
(remote MCP): resolve and list each declared server, check this turn's approval answers
and run the approved calls. Bad input (a server URL not allowed, an unknown or replayed
approval) raises here, before anything is sent: the client gets a 400.

The items this produces are held and sent after round 0's prompt is accepted (the
pipeline's admission reads the prompt first), before the model's own output.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from thinkgate.core.deltas import HostedItemDelta
from thinkgate.core.request import CanonicalRequest, Item
from thinkgate.errors import InvalidRequestError
from thinkgate.hosted import HostedTool
from thinkgate.hosted.mcp import Prelude

Offered = tuple[dict[str, Any], HostedTool]


class _Preparing(Protocol):
    async def prelude(
        self,
        declarations: Sequence[dict[str, Any]],
        items: Sequence[Item],
        this_turn: Sequence[Item],
        owner: str | None,
        key_id: str | None,
    ) -> Prelude: ...


@dataclass(slots=True)
class Prepared:
    offered: list[Offered]
    held: list[HostedItemDelta] = field(default_factory=list)
    context: list[Item] = field(default_factory=list)


async def prepare(offered: Sequence[Offered], request: CanonicalRequest) -> Prepared:
    prepared = Prepared(list(offered))
    tools: list[HostedTool] = []
    for _, tool in offered:
        if hasattr(tool, "prelude") and not any(tool is seen for seen in tools):
            tools.append(tool)
    for tool in tools:
        preparing: _Preparing = tool  # type: ignore[assignment]
        indexes = [i for i, (_, serving) in enumerate(offered) if serving is tool]
        prelude = await preparing.prelude(
            [offered[i][0] for i in indexes],
            request.all_items,
            request.input_items,
            request.context.owner,
            request.context.key_id,
        )
        for index, declared in zip(indexes, prelude.declarations, strict=True):
            prepared.offered[index] = (declared, tool)
        for item in prelude.announced:
            prepared.held.append(HostedItemDelta("added", item.added, item.opening))
            prepared.held.append(HostedItemDelta("done", item.done, item.closing))
        prepared.context += prelude.context
    return prepared


def model_view(tools: Sequence[HostedTool], items: list[Item]) -> list[Item]:
    """`items` as the model reads them: a tool with a `view` (MCP) rewrites its own items."""
    for tool in tools:
        view = getattr(tool, "view", None)
        if view is not None:
            items = view(items)
    return items


def refuse_stray_approvals(request: CanonicalRequest) -> None:
    """A turn that answers an MCP approval request without declaring any `mcp` tool: 400
    (an answer a stateless client replays after its call ran is history, not a request)."""
    this_turn = request.input_items
    ran = {
        str(item["approval_request_id"])
        for item in this_turn
        if item.get("type") == "mcp_call" and item.get("approval_request_id")
    }
    for item in this_turn:
        if item.get("type") != "mcp_approval_response":
            continue
        if str(item["approval_request_id"]) not in ran:
            raise InvalidRequestError(
                f"The MCP approval response for '{item['approval_request_id']}' needs its "
                "server declared in 'tools' (an 'mcp' tool with the same 'server_label').",
                param="input",
                code="invalid_mcp_approval",
            )


def client_text(request: CanonicalRequest) -> str:
    """The text of the client's own messages (not tool outputs, not pages read)."""
    parts: list[str] = [request.instructions or ""]
    for item in request.all_items:
        if item.get("type", "message") != "message" or item.get("role") == "assistant":
            continue
        content = item.get("content")
        if isinstance(content, str):
            parts.append(content)
        elif isinstance(content, list):
            parts += [str(p.get("text", "")) for p in content if isinstance(p, dict)]
    return "\n".join(parts)


def call_arguments(raw: str) -> dict[str, Any] | None:
    """A hosted call's arguments as the model wrote them (None: not a JSON object)."""
    try:
        value = json.loads(raw)
    except ValueError:
        return None
    return value if isinstance(value, dict) else None
