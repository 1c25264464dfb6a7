"""The frames the stand-in upstreams stream, written once: chat chunks and their usage chunk,
Responses events, a scripted turn (tool calls, else an answer) in either protocol, and the
small Starlette app around them. Each stand-in keeps only what makes it differ."""

from __future__ import annotations

import json
import sys
from collections.abc import Awaitable, Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import BaseRoute, Route

DONE = "data: [DONE]\n\n"
Call = tuple[str, dict[str, Any]]  # a planned tool call: (name, arguments)
Stream = Callable[[dict[str, Any]], Iterator[str]]
Endpoint = Callable[[Request], Awaitable[Response]]


def data(body: dict[str, Any]) -> str:
    return f"data: {json.dumps(body)}\n\n"


def event(kind: str, **fields: Any) -> str:
    """One Responses event, typed by its `event:` line and its `type` field alike."""
    return f"event: {kind}\ndata: {json.dumps({'type': kind, **fields})}\n\n"


@dataclass(frozen=True)
class ChatFrames:
    """Chat Completions chunks of one stand-in model."""

    id: str
    model: str

    def chunk(self, delta: dict[str, Any], finish: str | None = None) -> str:
        choice = {"index": 0, "delta": delta, "finish_reason": finish}
        body = {"id": self.id, "object": "chat.completion.chunk", "created": 0}
        return data({**body, "model": self.model, "choices": [choice]})

    def usage(self, prompt: int, completion: int, **details: Any) -> str:
        """The closing usage chunk (no choices), with any `*_tokens_details` given."""
        usage = {"prompt_tokens": prompt, "completion_tokens": completion}
        usage |= {"total_tokens": prompt + completion, **details}
        return data(
            {"id": self.id, "object": "chat.completion.chunk", "choices": [], "usage": usage}
        )

    def scripted(self, calls: list[Call], text: str, usage: tuple[int, int]) -> Iterator[str]:
        """A turn that calls these tools at once, or, with none, answers `text`."""
        yield self.chunk({"role": "assistant", "content": ""})
        if calls:
            yield self.chunk({"tool_calls": chat_calls(calls)})
            yield self.chunk({}, "tool_calls")
        else:
            yield self.chunk({"content": text})
            yield self.chunk({}, "stop")
        yield self.usage(*usage)
        yield DONE


def chat_calls(calls: list[Call]) -> list[dict[str, Any]]:
    return [
        {
            "index": i,
            "id": f"call_{i}",
            "type": "function",
            "function": {"name": name, "arguments": json.dumps(arguments)},
        }
        for i, (name, arguments) in enumerate(calls)
    ]


def chat_turn(body: dict[str, Any]) -> tuple[str, list[str], set[str]]:
    """(the last user message, the tool results after it, the function names offered)."""
    messages = body.get("messages") or []
    last_user = max((i for i, m in enumerate(messages) if m.get("role") == "user"), default=-1)
    user = str(messages[last_user].get("content")) if last_user >= 0 else ""
    results = [str(m.get("content")) for m in messages[last_user + 1 :] if m.get("role") == "tool"]
    names = {str((t.get("function") or {}).get("name")) for t in body.get("tools") or []}
    return user, results, names


def text_of(item: dict[str, Any]) -> str:
    content = item.get("content")
    if isinstance(content, str):
        return content
    return "".join(str(part.get("text", "")) for part in content or [])


def responses_turn(body: dict[str, Any]) -> tuple[str, list[str], set[str]]:
    """`chat_turn` for a Responses body (`function_call_output` items are the results)."""
    items = body.get("input") or []
    if isinstance(items, str):
        items = [{"role": "user", "content": items}]
    last_user = max((i for i, it in enumerate(items) if it.get("role") == "user"), default=-1)
    user = text_of(items[last_user]) if last_user >= 0 else ""
    results = [
        str(it.get("output"))
        for it in items[last_user + 1 :]
        if it.get("type") == "function_call_output"
    ]
    names = {str(t.get("name")) for t in body.get("tools") or []}
    return user, results, names


def response_usage(prompt: int, output: int, *, cached: int = 0) -> dict[str, Any]:
    usage: dict[str, Any] = {"input_tokens": prompt, "output_tokens": output}
    usage |= {"total_tokens": prompt + output}
    usage |= {"input_tokens_details": {"cached_tokens": cached}}
    usage |= {"output_tokens_details": {"reasoning_tokens": 0}}
    return usage


def message(text: str, id: str = "msg_1", annotations: Iterable[Any] = ()) -> dict[str, Any]:
    """A completed assistant message item holding `text`."""
    item = {"type": "message", "id": id, "role": "assistant", "status": "completed"}
    part = {"type": "output_text", "text": text, "annotations": list(annotations)}
    return {**item, "content": [part]}


def message_events(whole: dict[str, Any], index: int) -> Iterator[str]:
    """Added (empty), its text in one delta, done — without annotation events."""
    text = whole["content"][0]["text"]
    yield event("response.output_item.added", output_index=index, item={**whole, "content": []})
    yield event("response.output_text.delta", output_index=index, content_index=0, delta=text)
    yield event("response.output_item.done", output_index=index, item=whole)


def response_start(id: str, model: Any) -> tuple[dict[str, Any], str]:
    """(the in-progress response, its `response.created` event)."""
    response = {"id": id, "object": "response", "status": "in_progress"}
    response |= {"model": model, "output": []}
    return response, event("response.created", response=response)


def scripted_responses(
    response: dict[str, Any], calls: list[Call], text: str, usage: tuple[int, int]
) -> Iterator[str]:
    """`ChatFrames.scripted` as Responses output items, after `response_start`."""
    output: list[dict[str, Any]] = []
    for index, (name, arguments) in enumerate(calls):
        item = {"type": "function_call", "id": f"fc_{index}", "call_id": f"call_{index}"}
        item |= {"name": name, "status": "completed"}
        yield event(
            "response.output_item.added", output_index=index, item={**item, "arguments": ""}
        )
        done = {**item, "arguments": json.dumps(arguments)}
        yield event("response.output_item.done", output_index=index, item=done)
        output.append(done)
    if not calls:
        whole = message(text)
        yield from message_events(whole, 0)
        output.append(whole)
    done = {**response, "status": "completed", "output": output}
    yield event("response.completed", response={**done, "usage": response_usage(*usage)})


def streamed(stream: Stream, seen: list[Any], *, with_path: bool = True) -> Endpoint:
    """A streamed POST endpoint that notes each body (with its path) in `seen`."""

    async def endpoint(request: Request) -> Response:
        body = await request.json()
        seen.append({"path": request.url.path, "body": body} if with_path else body)
        return StreamingResponse(stream(body), media_type="text/event-stream")

    return endpoint


def model_routes(
    model: str,
    stats: Callable[[], Any],
    *,
    chat: Endpoint | None = None,
    responses: Endpoint | None = None,
) -> list[BaseRoute]:
    """The OpenAI-protocol routes of a stand-in: its model list, `/stats`, and the
    generation endpoints it speaks."""

    async def models(_request: Request) -> Response:
        return JSONResponse({"object": "list", "data": [{"id": model, "object": "model"}]})

    async def stats_reply(_request: Request) -> Response:
        return JSONResponse(stats())

    routes: list[BaseRoute] = []
    if chat is not None:
        routes.append(Route("/v1/chat/completions", chat, methods=["POST"]))
    if responses is not None:
        routes.append(Route("/v1/responses", responses, methods=["POST"]))
    return [*routes, Route("/v1/models", models), Route("/stats", stats_reply)]


def serve(app: Starlette, **options: Any) -> None:
    """Runs a stand-in on the loopback port its command line names (`python -m … PORT`)."""
    uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[1]), log_level="warning", **options)
