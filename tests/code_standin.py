"""A scripted model for the hosted code interpreter tests, on chat and Responses channels.

With a `code_interpreter` function offered and no tool output after the user's message, it
calls `code_interpreter` with the code after "run:" in the user's text ("run twice:" calls
it twice at once); once the output is back, it answers with the output's first line and
names the files written (so the answer can cite them).

  POST /v1/chat/completions, POST /v1/responses   streamed
  GET  /stats                                     the model requests seen

Run: `python -m tests.code_standin PORT`.
"""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Iterator
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

SEEN: dict[str, list[Any]] = {"model": []}
USAGE = {"input": 100, "output": 10}


def _plan(user: str, outputs: list[str], offered: bool) -> tuple[list[str], str]:
    """(code to run now, or the answer's text)."""
    match = re.search(r"run( twice)?:\s*(.*)", user, re.S)
    if offered and not outputs and match:
        code = match.group(2)
        return ([code, code] if match.group(1) else [code]), ""
    last = outputs[-1] if outputs else ""
    first = last.strip().splitlines()[0] if last.strip() else "nothing"
    files = re.findall(r"/mnt/data/(\S+) \(", last)
    answer = f"Result: {first}."
    return [], answer + (f" See {files[0]} for the file." if files else "")


def _chunk(delta: dict[str, Any], finish: str | None = None) -> str:
    choice = {"index": 0, "delta": delta, "finish_reason": finish}
    body = {"id": "chatcmpl-code", "object": "chat.completion.chunk", "created": 0}
    return f"data: {json.dumps({**body, 'model': 'code-standin', 'choices': [choice]})}\n\n"


def _chat_stream(body: dict[str, Any]) -> Iterator[str]:
    messages = body.get("messages") or []
    last_user = max((i for i, m in enumerate(messages) if m.get("role") == "user"), default=-1)
    user = str(messages[last_user].get("content")) if last_user >= 0 else ""
    outputs = [str(m.get("content")) for m in messages[last_user + 1 :] if m.get("role") == "tool"]
    names = {str((t.get("function") or {}).get("name")) for t in body.get("tools") or []}
    codes, text = _plan(user, outputs, "code_interpreter" in names)
    yield _chunk({"role": "assistant", "content": ""})
    if codes:
        calls = [
            {
                "index": i,
                "id": f"call_{i}",
                "type": "function",
                "function": {"name": "code_interpreter", "arguments": json.dumps({"code": c})},
            }
            for i, c in enumerate(codes)
        ]
        yield _chunk({"tool_calls": calls})
        yield _chunk({}, "tool_calls")
    else:
        yield _chunk({"content": text})
        yield _chunk({}, "stop")
    usage = {"prompt_tokens": USAGE["input"], "completion_tokens": USAGE["output"]}
    usage["total_tokens"] = USAGE["input"] + USAGE["output"]
    yield f"data: {json.dumps({'id': 'chatcmpl-code', 'choices': [], 'usage': usage})}\n\n"
    yield "data: [DONE]\n\n"


def _event(kind: str, **fields: Any) -> str:
    return f"event: {kind}\ndata: {json.dumps({'type': kind, **fields})}\n\n"


def _text(item: dict[str, Any]) -> str:
    content = item.get("content")
    if isinstance(content, str):
        return content
    return "".join(str(part.get("text", "")) for part in content or [])


def _responses_stream(body: dict[str, Any]) -> Iterator[str]:
    items = body.get("input") or []
    if isinstance(items, str):
        items = [{"role": "user", "content": items}]
    last_user = max((i for i, it in enumerate(items) if it.get("role") == "user"), default=-1)
    user = _text(items[last_user]) if last_user >= 0 else ""
    outputs = [
        str(it.get("output"))
        for it in items[last_user + 1 :]
        if it.get("type") == "function_call_output"
    ]
    names = {str(t.get("name")) for t in body.get("tools") or []}
    codes, text = _plan(user, outputs, "code_interpreter" in names)
    response = {"id": f"resp_code_{len(SEEN['model'])}", "object": "response"}
    response |= {"status": "in_progress", "model": body.get("model"), "output": []}
    yield _event("response.created", response=response)
    output: list[dict[str, Any]] = []
    for index, code in enumerate(codes):
        item = {"type": "function_call", "id": f"fc_{index}", "call_id": f"call_{index}"}
        item |= {"name": "code_interpreter", "status": "completed"}
        yield _event(
            "response.output_item.added", output_index=index, item={**item, "arguments": ""}
        )
        done = {**item, "arguments": json.dumps({"code": code})}
        yield _event("response.output_item.done", output_index=index, item=done)
        output.append(done)
    if not codes:
        message = {"type": "message", "id": "msg_1", "role": "assistant", "status": "completed"}
        part = {"type": "output_text", "text": text, "annotations": []}
        yield _event("response.output_item.added", output_index=0, item={**message, "content": []})
        yield _event("response.output_text.delta", output_index=0, content_index=0, delta=text)
        whole = {**message, "content": [part]}
        yield _event("response.output_item.done", output_index=0, item=whole)
        output.append(whole)
    usage = {"input_tokens": USAGE["input"], "output_tokens": USAGE["output"]}
    usage |= {"total_tokens": USAGE["input"] + USAGE["output"]}
    usage |= {"input_tokens_details": {"cached_tokens": 0}}
    usage |= {"output_tokens_details": {"reasoning_tokens": 0}}
    done = {**response, "status": "completed", "output": output, "usage": usage}
    yield _event("response.completed", response=done)


async def chat_completions(request: Request) -> Response:
    body = await request.json()
    SEEN["model"].append({"path": request.url.path, "body": body})
    return StreamingResponse(_chat_stream(body), media_type="text/event-stream")


async def responses(request: Request) -> Response:
    body = await request.json()
    SEEN["model"].append({"path": request.url.path, "body": body})
    return StreamingResponse(_responses_stream(body), media_type="text/event-stream")


async def models(_request: Request) -> Response:
    return JSONResponse({"object": "list", "data": [{"id": "code-standin", "object": "model"}]})


async def stats(_request: Request) -> Response:
    return JSONResponse(SEEN)


app = Starlette(
    routes=[
        Route("/v1/chat/completions", chat_completions, methods=["POST"]),
        Route("/v1/responses", responses, methods=["POST"]),
        Route("/v1/models", models),
        Route("/stats", stats),
    ]
)

if __name__ == "__main__":
    uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[1]), log_level="warning")
