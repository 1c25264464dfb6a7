"""The OpenAI Agents SDK's `HostedMCPTool`, unmodified, against thinkgate's hosted MCP.

Run by tests/hosted/test_hosted_mcp.py with `THINKGATE_MODEL` (a scripted model that calls the
server's `add`) and `MCP_URL` (the stand-in MCP server, which wants `MCP_TOKEN`). Two paths:
`never` (no approval: the SDK sees the list and the call), and `approval` (the SDK's
`on_approval_request` callback approves; the SDK sends the answer back and the call runs).
"""

from __future__ import annotations

import os
from typing import Any

from agents import (
    Agent,
    HostedMCPTool,
    MCPToolApprovalFunctionResult,
    MCPToolApprovalRequest,
    OpenAIResponsesModel,
    Runner,
    set_tracing_disabled,
)
from harness import API_KEY, BASE_URL, MODEL, check, run_cases
from openai import AsyncOpenAI

set_tracing_disabled(True)
URL = os.environ["MCP_URL"]
TOKEN = os.environ["MCP_TOKEN"]
ASKED: list[str] = []


def approve(request: MCPToolApprovalRequest) -> MCPToolApprovalFunctionResult:
    ASKED.append(request.data.name)
    return {"approve": True}


def agent(require_approval: str) -> Agent[Any]:
    client = AsyncOpenAI(base_url=BASE_URL, api_key=API_KEY, max_retries=0)
    tool = HostedMCPTool(
        tool_config={
            "type": "mcp",
            "server_label": "calc",
            "server_url": URL,
            "authorization": TOKEN,
            "require_approval": require_approval,  # type: ignore[typeddict-item]
        },
        on_approval_request=approve if require_approval == "always" else None,
    )
    model = OpenAIResponsesModel(model=MODEL, openai_client=client)
    return Agent(name="calc", instructions="Use the calculator.", model=model, tools=[tool])


def _kinds(result: Any) -> list[str]:
    return [
        getattr(item.raw_item, "type", type(item.raw_item).__name__) for item in result.new_items
    ]


async def never() -> dict[str, Any]:
    result = await Runner.run(agent("never"), "Add 2 and 3.")
    kinds = _kinds(result)
    check("mcp_list_tools" in kinds and "mcp_call" in kinds, f"items: {kinds}")
    check("The sum is 5." in str(result.final_output), f"answer: {result.final_output}")
    return {"items": kinds, "answer": str(result.final_output)}


async def approval() -> dict[str, Any]:
    result = await Runner.run(agent("always"), "Add 2 and 3.")
    kinds = _kinds(result)
    check(ASKED == ["add"], f"approvals asked: {ASKED}")
    check("mcp_approval_request" in kinds and "mcp_call" in kinds, f"items: {kinds}")
    check("The sum is 5." in str(result.final_output), f"answer: {result.final_output}")
    return {"items": kinds, "answer": str(result.final_output), "asked": ASKED}


if __name__ == "__main__":
    run_cases({"never": never, "approval": approval})
