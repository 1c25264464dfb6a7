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

Run: `python -m tests.mcp_standin PORT`.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import sys
from collections.abc import AsyncIterator, Iterator
from typing import Any

import uvicorn
from mcp.server.mcpserver import MCPServer
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Mount, Route
from starlette.types import ASGIApp, Receive, Scope, Send

TOKEN = "mcp-secret-token"
SEEN: dict[str, list[Any]] = {"calls": [], "auth": [], "model": []}
USAGE = {"input": 50, "output": 8}

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
    for message in messages:
        if message.get("role") == "user":
            output = None
        elif message.get("role") == "tool":
            output = str(message.get("content"))
        elif message.get("type") == "function_call_output":
            output = str(message.get("output"))
    return output


def _chunk(delta: dict[str, Any], finish: str | None = None) -> str:
    choice = {"index": 0, "delta": delta, "finish_reason": finish}
    body = {"id": "chatcmpl-mcp", "object": "chat.completion.chunk", "choices": [choice]}
    return f"data: {json.dumps(body)}\n\n"


def _chat_stream(body: dict[str, Any]) -> Iterator[str]:
    function = _add_function(body.get("tools") or [])
    output = _tool_output(body.get("messages") or [])
    yield _chunk({"role": "assistant", "content": ""})
    if function is not None and output is None:
        call = {"index": 0, "id": "call_add", "type": "function"}
        call["function"] = {"name": function, "arguments": _arguments(function)}
        yield _chunk({"tool_calls": [call]})
        yield _chunk({}, "tool_calls")
    else:
        yield _chunk({"content": f"Result: {output}"})
        yield _chunk({}, "stop")
    usage = {"prompt_tokens": USAGE["input"], "completion_tokens": USAGE["output"]}
    yield f"data: {json.dumps({'id': 'chatcmpl-mcp', 'choices': [], 'usage': usage})}\n\n"
    yield "data: [DONE]\n\n"


def _event(kind: str, **fields: Any) -> str:
    return f"event: {kind}\ndata: {json.dumps({'type': kind, **fields})}\n\n"


def _responses_stream(body: dict[str, Any]) -> Iterator[str]:
    function = _add_function(body.get("tools") or [])
    items = body.get("input") if isinstance(body.get("input"), list) else []
    output = _tool_output(items)
    response: dict[str, Any] = {"id": "resp_mcp", "object": "response", "status": "in_progress"}
    response |= {"model": body.get("model"), "output": []}
    yield _event("response.created", response=response)
    if function is not None and output is None:
        item = {"type": "function_call", "id": "fc_1", "call_id": "call_add", "name": function}
        item["status"] = "completed"
        yield _event("response.output_item.added", output_index=0, item={**item, "arguments": ""})
        item["arguments"] = _arguments(function)
    else:
        text = f"Result: {output}"
        item = {"type": "message", "id": "msg_1", "role": "assistant", "status": "completed"}
        yield _event("response.output_item.added", output_index=0, item={**item, "content": []})
        yield _event("response.output_text.delta", output_index=0, content_index=0, delta=text)
        item["content"] = [{"type": "output_text", "text": text, "annotations": []}]
    yield _event("response.output_item.done", output_index=0, item=item)
    usage = {"input_tokens": USAGE["input"], "output_tokens": USAGE["output"]}
    usage |= {"total_tokens": USAGE["input"] + USAGE["output"]}
    usage |= {"input_tokens_details": {"cached_tokens": 0}}
    usage |= {"output_tokens_details": {"reasoning_tokens": 0}}
    yield _event(
        "response.completed",
        response={**response, "status": "completed", "output": [item], "usage": usage},
    )


async def chat_completions(request: Request) -> Response:
    body = await request.json()
    SEEN["model"].append(body)
    return StreamingResponse(_chat_stream(body), media_type="text/event-stream")


async def responses(request: Request) -> Response:
    body = await request.json()
    SEEN["model"].append(body)
    return StreamingResponse(_responses_stream(body), media_type="text/event-stream")


async def models(_request: Request) -> Response:
    return JSONResponse({"object": "list", "data": [{"id": "mcp-standin", "object": "model"}]})


async def stats(_request: Request) -> Response:
    return JSONResponse(SEEN)


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
        Route("/v1/chat/completions", chat_completions, methods=["POST"]),
        Route("/v1/responses", responses, methods=["POST"]),
        Route("/v1/models", models),
        Route("/stats", stats),
        Mount("/mcp", app=http),
        *sse.routes,
    ]
    application = Starlette(routes=routes, lifespan=lifespan)
    application.add_middleware(_Auth, required=required_auth)
    return application


if __name__ == "__main__":
    port = int(sys.argv[1])
    uvicorn.run(app("--auth" in sys.argv), host="127.0.0.1", port=port, log_level="warning")
