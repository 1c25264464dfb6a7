"""Server-sent events framing, and nothing else: `event:` + `data:` lines per event
(Responses), or `data:` lines closed by `data: [DONE]` (Chat Completions)."""

from __future__ import annotations

from collections.abc import AsyncGenerator, AsyncIterator
from contextlib import aclosing
from typing import Any

import orjson
from starlette.responses import StreamingResponse

SSE_HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
DONE_FRAME = b"data: [DONE]\n\n"


def frame(event: dict[str, Any], *, named: bool = True) -> bytes:
    data = orjson.dumps(event)
    if named:
        name = str(event["type"]).encode()
        return b"event: " + name + b"\ndata: " + data + b"\n\n"
    return b"data: " + data + b"\n\n"


async def framed(
    events: AsyncIterator[dict[str, Any]], *, named: bool = True
) -> AsyncIterator[bytes]:
    async for event in events:
        yield frame(event, named=named)


async def framed_chat(chunks: AsyncGenerator[dict[str, Any], None]) -> AsyncIterator[bytes]:
    """Chat chunks as `data:` lines, then `[DONE]`; an error chunk is the stream's last word.

    Closing this body (client gone) closes `chunks` at once, which cancels generation.
    """
    async with aclosing(chunks):
        async for chunk in chunks:
            yield frame(chunk, named=False)
            if "error" in chunk:
                return
    yield DONE_FRAME


def sse_response(body: AsyncIterator[bytes]) -> StreamingResponse:
    return StreamingResponse(
        body, media_type="text/event-stream; charset=utf-8", headers=SSE_HEADERS
    )
