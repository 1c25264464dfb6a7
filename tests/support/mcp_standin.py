"""A stand-in MCP server for the hosted MCP tests, built with the `mcp` SDK (MCPServer,
formerly FastMCP), and a scripted model that calls MCP tools through thinkgate's loop.

  /mcp            streamable HTTP: tools `add`, `echo`, `slow` (sleeps past any timeout),
                  `broken` (raises: a tool error); it needs `Authorization: Bearer
                  mcp-secret-token` when started with `--auth`
  /sse            the same server over SSE (`/messages/` for its posts)
  POST /v1/chat/completions   the scripted model: with an `mcp__…` function offered and no
  POST /v1/responses          tool output after the user's message, it calls `…__add` with
                              {"a": 2, "b": 3} (else the first offered: echo "hi"); then
                              it answers with the output it read
  GET /stats      the tool calls and list requests seen, the model requests' bodies

Run: `python -m tests.support.mcp_standin PORT`.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import sys
from collections.abc import AsyncIterator, Iterator
from typing import Any

from mcp.server.mcpserver import MCPServer
from starlette.applications import Starlette
from starlette.responses import JSONResponse
from starlette.routing import Mount
from starlette.types import ASGIApp, Receive, Scope, Send

from tests.support.sse import (
    DONE,
    ChatFrames,
    event,
    message,
    message_events,
    model_routes,
    response_start,
    response_usage,
    serve,
    streamed,
)

TOKEN = "mcp-secret-token"
SEEN: dict[str, list[Any]] = {"calls": [], "auth": [], "model": []}
USAGE = (50, 8)
CHAT = ChatFrames("chatcmpl-mcp", "mcp-standin")

server = MCPServer("standin", instructions="A stand-in MCP server for tests.")


@server.tool(description="Add two integers.")
def add(a: int, b: int) -> str:
    SEEN["calls"].append({"name": "add", "a": a, "b": b})
    return f"The sum is {a + b}."


@server.tool(description="Echo a text back.")
def echo(text: str) -> str:
    SEEN["calls"].append({"name": "echo", "text": text})
    return f"echo: {text}"


@server.tool(description="A tool that takes far too long.")
async def slow(seconds: float = 30.0) -> str:
    SEEN["calls"].append({"name": "slow"})
    await asyncio.sleep(seconds)
    return "finally"


@server.tool(description="A tool that always fails.")
def broken(reason: str = "") -> str:
    SEEN["calls"].append({"name": "broken"})
    raise RuntimeError("the broken tool failed on purpose")


# --- the scripted model ----------------------------------------------------------------


def _add_function(tools: list[dict[str, Any]]) -> str | None:
    """The MCP function to call: `add` where offered, else the first one offered."""
    names = [str(t.get("name") or (t.get("function") or {}).get("name") or "") for t in tools]
    offered = [name for name in names if name.startswith("mcp__")]
    adds = [name for name in offered if name.endswith("__add")]
    return (adds or offered or [None])[0]


def _arguments(function: str) -> str:
    if function.endswith("__add"):
        return json.dumps({"a": 2, "b": 3})
    return json.dumps({"text": "hi"} if function.endswith("__echo") else {})


def _tool_output(messages: list[dict[str, Any]]) -> str | None:
    """The last tool result after the last user message (chat or Responses input)."""
    output = None
    for entry in messages:
        if entry.get("role") == "user":
            output = None
        elif entry.get("role") == "tool":
            output = str(entry.get("content"))
        elif entry.get("type") == "function_call_output":
            output = str(entry.get("output"))
    return output


def _chat_stream(body: dict[str, Any]) -> Iterator[str]:
    function = _add_function(body.get("tools") or [])
    output = _tool_output(body.get("messages") or [])
    yield CHAT.chunk({"role": "assistant", "content": ""})
    if function is not None and output is None:
        call = {"index": 0, "id": "call_add", "type": "function"}
        call["function"] = {"name": function, "arguments": _arguments(function)}
        yield CHAT.chunk({"tool_calls": [call]})
        yield CHAT.chunk({}, "tool_calls")
    else:
        yield CHAT.chunk({"content": f"Result: {output}"})
        yield CHAT.chunk({}, "stop")
    yield CHAT.usage(*USAGE)
    yield DONE


def _responses_stream(body: dict[str, Any]) -> Iterator[str]:
    function = _add_function(body.get("tools") or [])
    items = body.get("input") if isinstance(body.get("input"), list) else []
    output = _tool_output(items)
    response, created = response_start("resp_mcp", body.get("model"))
    yield created
    if function is not None and output is None:
        item = {"type": "function_call", "id": "fc_1", "call_id": "call_add", "name": function}
        item["status"] = "completed"
        yield event("response.output_item.added", output_index=0, item={**item, "arguments": ""})
        item["arguments"] = _arguments(function)
    else:
        item = message(f"Result: {output}")
        *opening, _ = message_events(item, 0)
        yield from opening
    yield event("response.output_item.done", output_index=0, item=item)
    done = {**response, "status": "completed", "output": [item]}
    yield event("response.completed", response={**done, "usage": response_usage(*USAGE)})


class _Auth:
    """Notes the Authorization header each MCP request carries; with `--auth`, refuses
    a request without the token (401). Plain ASGI: the SSE stream passes untouched."""

    def __init__(self, app: ASGIApp, required: bool) -> None:
        self._app = app
        self._required = required

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "")
        if scope["type"] == "http" and path.startswith(("/mcp", "/sse", "/messages")):
            headers = dict(scope["headers"])
            header = headers.get(b"authorization", b"").decode() or None
            SEEN["auth"].append(header)
            if self._required and header != f"Bearer {TOKEN}":
                await JSONResponse({"error": "unauthorized"}, status_code=401)(scope, receive, send)
                return
        await self._app(scope, receive, send)


def app(required_auth: bool = False) -> Starlette:
    http = server.streamable_http_app(streamable_http_path="/", stateless_http=True)
    sse = server.sse_app(sse_path="/sse", message_path="/messages/")

    @contextlib.asynccontextmanager
    async def lifespan(_app: Starlette) -> AsyncIterator[None]:
        async with http.router.lifespan_context(http):
            yield

    routes = [
        *model_routes(
            "mcp-standin",
            lambda: SEEN,
            chat=streamed(_chat_stream, SEEN["model"], with_path=False),
            responses=streamed(_responses_stream, SEEN["model"], with_path=False),
        ),
        Mount("/mcp", app=http),
        *sse.routes,
    ]
    application = Starlette(routes=routes, lifespan=lifespan)
    application.add_middleware(_Auth, required=required_auth)
    return application


if __name__ == "__main__":
    serve(app("--auth" in sys.argv))
