"""The wire models of remote MCP: the `mcp` tool and the items of its calls, as input.

    {"type": "mcp", "server_label", "server_url"?, "headers"?, "authorization"?,
     "allowed_tools"?: [names] | {"tool_names", "read_only"},
     "require_approval"?: "always" | "never" | {"always": {…}, "never": {…}}}

`headers` and `authorization` are credentials: used for the calls of one request, never
echoed, stored or logged (`public_tools`).
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from thinkgate.protocol.common import StrictModel

CREDENTIALS = ("headers", "authorization")
MCP_ITEMS = ("mcp_list_tools", "mcp_call", "mcp_approval_request", "mcp_approval_response")


class McpToolFilter(StrictModel):
    tool_names: list[str] | None = None
    read_only: bool | None = None


class McpApprovalFilter(StrictModel):
    always: McpToolFilter | None = None
    never: McpToolFilter | None = None


class McpTool(StrictModel):
    type: Literal["mcp"]
    server_label: str = Field(pattern=r"^[a-zA-Z0-9_-]{1,40}$")
    server_url: str | None = Field(default=None, max_length=2048)
    server_description: str | None = Field(default=None, max_length=2000)
    headers: dict[str, str] | None = None
    authorization: str | None = Field(default=None, max_length=8192)
    allowed_tools: list[str] | McpToolFilter | None = None
    require_approval: Literal["always", "never"] | McpApprovalFilter | None = None
    connector_id: str | None = None
    allowed_callers: list[Literal["direct", "programmatic"]] | None = None
    defer_loading: bool | None = None


class McpListedTool(StrictModel):
    name: str
    input_schema: Any = None
    description: str | None = None
    annotations: Any = None


class McpListToolsItem(StrictModel):
    type: Literal["mcp_list_tools"]
    id: str | None = None
    server_label: str
    tools: list[McpListedTool]
    error: str | None = None


class McpCallItem(StrictModel):
    type: Literal["mcp_call"]
    id: str | None = None
    server_label: str
    name: str
    arguments: str
    output: str | None = None
    error: Any = None
    approval_request_id: str | None = None
    status: Literal["in_progress", "completed", "incomplete", "calling", "failed"] | None = None


class McpApprovalRequestItem(StrictModel):
    type: Literal["mcp_approval_request"]
    id: str = Field(min_length=1, max_length=200)
    server_label: str
    name: str
    arguments: str


class McpApprovalResponseItem(StrictModel):
    type: Literal["mcp_approval_response"]
    approval_request_id: str = Field(min_length=1, max_length=200)
    approve: bool
    id: str | None = None
    reason: str | None = None


MCP_ITEM_MODELS: dict[str, type[StrictModel]] = {
    "mcp_list_tools": McpListToolsItem,
    "mcp_call": McpCallItem,
    "mcp_approval_request": McpApprovalRequestItem,
    "mcp_approval_response": McpApprovalResponseItem,
}


def public_tools(tools: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The declared tools as echoed and stored: an `mcp` tool's credentials left out."""
    if not any(tool.get("type") == "mcp" for tool in tools):
        return tools
    return [
        {k: v for k, v in tool.items() if k not in CREDENTIALS}
        if tool.get("type") == "mcp"
        else tool
        for tool in tools
    ]
