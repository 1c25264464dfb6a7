"""Server-sent events framing, and nothing else: `event:` + `data:` lines per event
(Responses), or `data:` lines closed by `data: [DONE]` (Chat Completions)."""

from __future__ import annotations

from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable
from contextlib import aclosing
from typing import Any

import anyio
import orjson
from starlette.responses import StreamingResponse
from starlette.types import Receive, Scope, Send

from thinkgate.api.sse_batch import coalesced

SSE_HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
DONE_FRAME = b"data: [DONE]\n\n"


def frame(event: dict[str, Any], *, named: bool = True) -> bytes:
    data = orjson.dumps(event)
    if named:
        name = str(event["type"]).encode()
        if b"\n" in name or b"\r" in name:  # would start a second SSE field: never framed
            raise ValueError(f"an SSE event name is one line: {name!r}")
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


class _SettlingStreamingResponse(StreamingResponse):
    """Frames ready together are written together (`sse_batch`), and `on_close` runs however
    the response ends, even when the client left before the body was first read: an
    unstarted generator's `finally` never runs, so the run it would have settled (usage,
    bill, store) must be closed from here, after the frame producer has stopped."""

    def __init__(
        self, body: AsyncIterator[bytes], on_close: Callable[[], Awaitable[None]] | None
    ) -> None:
        self._frames = coalesced(body)
        super().__init__(
            self._frames, media_type="text/event-stream; charset=utf-8", headers=SSE_HEADERS
        )
        self._on_close = on_close

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await super().__call__(scope, receive, send)
        finally:
            with anyio.CancelScope(shield=True):
                await self._frames.aclose()
                if self._on_close is not None:
                    await self._on_close()


def sse_response(
    body: AsyncIterator[bytes], on_close: Callable[[], Awaitable[None]] | None = None
) -> StreamingResponse:
    return _SettlingStreamingResponse(body, on_close)
