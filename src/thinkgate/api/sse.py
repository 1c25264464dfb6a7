"""Server-sent events framing, and nothing else: `event:` + `data:` lines per event."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import orjson
from starlette.responses import StreamingResponse

SSE_HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}


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


def sse_response(body: AsyncIterator[bytes]) -> StreamingResponse:
    return StreamingResponse(
        body, media_type="text/event-stream; charset=utf-8", headers=SSE_HEADERS
    )
