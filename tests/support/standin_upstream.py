"""A stand-in OpenAI-protocol upstream that misbehaves on purpose, chosen by model name.

`BEHAVIOUR:tag` (the tag only separates counters): `ok` answers a chat stream (reasoning,
text, usage with cached and reasoning tokens), `tool` streams a tool call, `hang` never
answers, `fail500` / `fail400` / `fail401` / `fail400quoting` answer errors (the last two
quote a key), `limit429` answers 429 with Retry-After,
`cut` stops mid-stream, `garbled` sends a non-JSON event first, `garbled_late` after text,
`slow` ticks for a minute, `ticksN` N times 0.1 s. `think` reasons in `reasoning_content`
(one token a chunk) for 200 chunks, `think_short` for 5, then answers; asked to continue a
final assistant message (`continue_final_message`), it answers at once without reasoning.
`filesearch` calls `file_search` and then answers from the excerpt it is given.
`/v1/embeddings` answers small fixed vectors (`fail500`: a 500).
Run: `python -m tests.support.standin_upstream PORT`. `GET /stats` counts requests per model.
"""

from __future__ import annotations

import asyncio
import json
import re
from collections import Counter
from collections.abc import AsyncIterator
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from tests.support.sse import DONE, ChatFrames, serve

HITS: Counter[str] = Counter()
CLOSED_EARLY: Counter[str] = Counter()  # streams the client (thinkgate) closed before the end
BODIES: list[dict[str, Any]] = []
TEXT = ["Hello", " from", " the", " stand", "-in", "."]


CHAT = ChatFrames("chatcmpl-standin", "standin")
_chunk = CHAT.chunk


def _usage() -> str:
    cached = {"prompt_tokens_details": {"cached_tokens": 32}}
    return CHAT.usage(42, 9, **cached, completion_tokens_details={"reasoning_tokens": 3})


async def _ok() -> AsyncIterator[str]:
    yield _chunk({"role": "assistant", "content": ""})
    for piece in ("Let me", " think", "."):
        yield _chunk({"reasoning_content": piece})
    for piece in TEXT:
        yield _chunk({"content": piece})
    yield _chunk({}, "stop")
    yield _usage()
    yield DONE


THOUGHT_CHUNKS = {"think": 200, "think_short": 5}


def _continues(body: dict[str, Any]) -> bool:
    messages = body.get("messages") or []
    last = messages[-1] if messages else {}
    return bool(body.get("continue_final_message")) and last.get("role") == "assistant"


async def _think(model: str, chunks: int, body: dict[str, Any]) -> AsyncIterator[str]:
    """Reasoning then an answer; usage counts one token per chunk, as engines stream."""
    reasoning = 0 if _continues(body) else chunks
    try:
        yield _chunk({"role": "assistant", "content": ""})
        for step in range(reasoning):
            yield _chunk({"reasoning_content": f" step{step}"})
            await asyncio.sleep(0.002)
        for piece in TEXT:
            yield _chunk({"content": piece})
        yield _chunk({}, "stop")
        details = {"reasoning_tokens": reasoning}
        yield CHAT.usage(42, reasoning + len(TEXT), completion_tokens_details=details)
        yield DONE
    except BaseException:
        CLOSED_EARLY[model] += 1
        raise


async def _tool() -> AsyncIterator[str]:
    yield _chunk({"role": "assistant"})
    call = {"index": 0, "id": "call_1", "type": "function"}
    yield _chunk({"tool_calls": [{**call, "function": {"name": "get_weather", "arguments": ""}}]})
    for piece in ('{"city"', ': "Paris"', "}"):
        yield _chunk({"tool_calls": [{"index": 0, "function": {"arguments": piece}}]})
    yield _chunk({}, "tool_calls")
    yield _usage()
    yield DONE


async def _file_search(body: dict[str, Any]) -> AsyncIterator[str]:
    """Calls `file_search` with the user's question; told the excerpts, answers with the
    first one's first sentence and names its file."""
    messages = body.get("messages") or []
    yield _chunk({"role": "assistant"})
    if messages and messages[-1].get("role") == "tool":
        excerpt = str(messages[-1].get("content") or "")
        match = re.search(r"File: (\S+)\n([^.]*\.)", excerpt)
        answer = f"{match.group(2)} (from {match.group(1)})" if match else "Nothing found."
        yield _chunk({"content": answer})
        yield _chunk({}, "stop")
    else:
        question = next(
            (str(m.get("content")) for m in reversed(messages) if m.get("role") == "user"), ""
        )
        call = {"index": 0, "id": "call_fs", "type": "function"}
        arguments = json.dumps({"query": question})
        yield _chunk(
            {"tool_calls": [{**call, "function": {"name": "file_search", "arguments": arguments}}]}
        )
        yield _chunk({}, "tool_calls")
    yield _usage()
    yield DONE


async def _cut() -> AsyncIterator[str]:
    yield _chunk({"role": "assistant"})
    for piece in TEXT[:3]:
        yield _chunk({"content": piece})
        await asyncio.sleep(0.01)
    raise ConnectionAbortedError("cut on purpose")  # uvicorn drops the connection


async def _slow(model: str, ticks: int = 600) -> AsyncIterator[str]:
    try:
        yield _chunk({"role": "assistant"})
        for _ in range(ticks):
            yield _chunk({"content": " tick"})
            await asyncio.sleep(0.1)
        yield _chunk({}, "stop")
    except BaseException:
        CLOSED_EARLY[model] += 1
        raise


async def _garbled(late: bool) -> AsyncIterator[str]:
    if late:
        yield _chunk({"content": "Half"})
    yield "data: {this is not json\n\n"


async def chat_completions(request: Request) -> Response:
    body = await request.json()
    BODIES.append(body)
    model = str(body.get("model", ""))
    HITS[model] += 1
    behaviour = model.split(":")[0]
    sse = "text/event-stream"
    if behaviour == "hang":
        await asyncio.sleep(3600)
    if behaviour == "fail500":
        error = {"message": "the stand-in broke", "type": "server_error", "code": None}
        return JSONResponse({"error": error}, status_code=500)
    if behaviour == "fail401":  # as OpenAI words it: the operator's key, masked
        error = {"message": "Incorrect API key provided: sk-proj-ab12**********wxyz.", "code": None}
        return JSONResponse({"error": error | {"type": "invalid_request_error"}}, status_code=401)
    if behaviour == "fail400quoting":  # a 400 that quotes a key back
        error = {
            "message": "Bad request for key sk-live-abcd1234efgh",
            "type": "invalid_request_error",
        }
        return JSONResponse({"error": error}, status_code=400)
    if behaviour == "fail400":
        error = {"message": "Bad thing in messages", "type": "invalid_request_error"}
        error |= {"param": "messages", "code": "invalid_value"}
        return JSONResponse({"error": error}, status_code=400)
    if behaviour == "limit429":
        error = {"message": "slow down", "type": "rate_limit_exceeded", "code": "rate_limit"}
        return JSONResponse({"error": error}, status_code=429, headers={"Retry-After": "30"})
    if behaviour == "cut":
        return StreamingResponse(_cut(), media_type=sse)
    if behaviour in ("garbled", "garbled_late"):
        return StreamingResponse(_garbled(behaviour == "garbled_late"), media_type=sse)
    if behaviour == "slow":
        return StreamingResponse(_slow(model), media_type=sse)
    if behaviour.startswith("ticks"):
        return StreamingResponse(_slow(model, int(behaviour[5:])), media_type=sse)
    if behaviour == "tool":
        return StreamingResponse(_tool(), media_type=sse)
    if behaviour == "filesearch":
        return StreamingResponse(_file_search(body), media_type=sse)
    if behaviour in THOUGHT_CHUNKS:
        return StreamingResponse(_think(model, THOUGHT_CHUNKS[behaviour], body), media_type=sse)
    return StreamingResponse(_ok(), media_type=sse)


async def embeddings(request: Request) -> Response:
    """`/v1/embeddings`: a 3-number vector per input (its length, 1, its index); model
    `fail500` answers 500. Usage: one token per word."""
    body = await request.json()
    HITS[str(body.get("model"))] += 1
    BODIES.append(body)
    if body.get("model") == "fail500":
        return JSONResponse({"error": {"message": "boom", "type": "server_error"}}, 500)
    inputs = body["input"] if isinstance(body["input"], list) else [body["input"]]
    data = [
        {"object": "embedding", "index": i, "embedding": [float(len(str(x))), 1.0, float(i)]}
        for i, x in enumerate(inputs)
    ]
    words = sum(len(str(x).split()) for x in inputs)
    usage = {"prompt_tokens": words, "total_tokens": words}
    return JSONResponse({"object": "list", "data": data, "model": body["model"], "usage": usage})


async def models(_request: Request) -> Response:
    return JSONResponse({"object": "list", "data": [{"id": "ok", "object": "model"}]})


async def stats(_request: Request) -> Response:
    last = BODIES[-1] if BODIES else None
    counts = {"hits": dict(HITS), "closed_early": dict(CLOSED_EARLY)}
    return JSONResponse({**counts, "last_body": last, "recent_bodies": BODIES[-2:]})


app = Starlette(
    routes=[
        Route("/v1/chat/completions", chat_completions, methods=["POST"]),
        Route("/v1/embeddings", embeddings, methods=["POST"]),
        Route("/v1/models", models),
        Route("/stats", stats),
    ]
)

if __name__ == "__main__":
    serve(app, timeout_graceful_shutdown=1)  # a `hang` request never ends: do not wait for it
