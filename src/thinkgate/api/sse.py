"""Server-sent events framing, and nothing else: `event:` + `data:` lines per event
(Responses), or `data:` lines closed by `data: [DONE]` (Chat Completions)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, Awaitable, Callable, Sequence
from typing import Any

import anyio
import orjson
from starlette.responses import Response
from starlette.types import Message, Receive, Scope, Send

from thinkgate.api.http_protocol import DISCONNECT_EXTENSION, DisconnectSignal

SSE_HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
DONE_FRAME = b"data: [DONE]\n\n"
# Events after which a Responses stream has nothing more to say.
_TERMINAL_EVENTS = frozenset(
    {"response.completed", "response.failed", "response.incomplete", "response.cancelled"}
)


def frame(event: dict[str, Any], *, named: bool = True) -> bytes:
    data = orjson.dumps(event)
    if named:
        name = str(event["type"]).encode()
        if b"\n" in name or b"\r" in name:  # would start a second SSE field: never framed
            raise ValueError(f"an SSE event name is one line: {name!r}")
        return b"event: " + name + b"\ndata: " + data + b"\n\n"
    return b"data: " + data + b"\n\n"


class Framing:
    """How a stream's items become SSE bytes: `frame` each, then `end` once the items run
    out. This one passes ready-made frames through."""

    def frame(self, item: Any) -> bytes:
        return bytes(item)

    def end(self) -> bytes:
        return b""

    def ends_with(self, item: Any) -> bool:
        """Whether nothing can follow `item` (it is the stream's last word): its batch then
        leaves with the body's end in one write."""
        return False


class EventFraming(Framing):
    """Responses events: `event:` + `data:` lines each."""

    def frame(self, item: Any) -> bytes:
        return frame(item)

    def ends_with(self, item: Any) -> bool:
        return item.get("type") in _TERMINAL_EVENTS


class ChatFraming(Framing):
    """Chat chunks as `data:` lines, then `[DONE]`; an error chunk is the stream's last
    word (nothing after it is sent, and no `[DONE]`). One per stream: it remembers."""

    def __init__(self) -> None:
        self._failed = False

    def frame(self, item: Any) -> bytes:
        if self._failed:
            return b""
        if isinstance(item, bytes):  # a chunk already JSON (engine.chat_render)
            return b"data: " + item + b"\n\n"
        self._failed = "error" in item
        return frame(item, named=False)

    def ends_with(self, item: Any) -> bool:
        return isinstance(item, dict) and "error" in item

    def end(self) -> bytes:
        return b"" if self._failed else DONE_FRAME


class _SettlingStreamingResponse(Response):
    """Each batch of items is written in one body message (a batch is what the backend
    read at once), and `on_close` runs however the response ends, even when the client left
    before the body was first read: an unstarted generator's `finally` never runs, so the
    run it would have settled (usage, bill, store) must be closed from here, after its
    items are.

    A client that disconnects stops the stream, as with Starlette's own streaming response,
    but told by the server protocol's callback (`api.http_protocol`), or watched by one
    plain task under another server, instead of a task group of two (a sixth of a streamed
    request's cost on the proxy path, bench/overhead)."""

    def __init__(
        self,
        batches: AsyncGenerator[Sequence[Any], None],
        framing: Framing,
        on_close: Callable[[], Awaitable[None]] | None,
        with_first_batch: bool,
    ) -> None:
        self._batches = batches
        self._framing = framing
        self._on_close = on_close
        self._with_first_batch = with_first_batch
        self.status_code = 200
        self.background = None
        self.media_type = "text/event-stream; charset=utf-8"
        self.init_headers(SSE_HEADERS)  # no body: no content-length (chunked)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        streaming = asyncio.current_task()
        assert streaming is not None
        gone = False

        def on_disconnect() -> None:
            nonlocal gone
            if sending:
                gone = True
                streaming.cancel()  # wherever it waits: on the frames or on the socket

        def on_watcher_done(watcher: asyncio.Task[None]) -> None:
            if not watcher.cancelled() and watcher.exception() is None:
                on_disconnect()

        sending = True
        watcher: asyncio.Task[None] | None = None
        signal = scope.get("extensions", {}).get(DISCONNECT_EXTENSION)
        if isinstance(signal, DisconnectSignal):  # our uvicorn protocol calls back
            signal.add(on_disconnect)
        else:  # any ASGI server: a task waits for `http.disconnect`
            watcher = asyncio.ensure_future(_disconnect(receive))
            watcher.add_done_callback(on_watcher_done)
        ended = False
        try:
            started = not self._with_first_batch
            if started:
                await send(self._start())
            framing, last = self._framing, False
            async for batch in self._batches:
                if not batch or last:  # nothing follows a last word (its stream just ends)
                    continue
                body = b"".join([framing.frame(item) for item in batch])
                last = framing.ends_with(batch[-1])
                if last:
                    body += framing.end()
                if not started:  # the headers leave with the first batch (api.http_protocol)
                    started = True
                    await send(self._start())
                sending = not last  # a disconnect once the end is out is no news
                await send({"type": "http.response.body", "body": body, "more_body": not last})
            ended = True
            if not last:  # the items ran out without a last word: the body's end alone
                sending = False
                if not started:
                    started = True
                    await send(self._start())
                await send(
                    {"type": "http.response.body", "body": framing.end(), "more_body": False}
                )
        except asyncio.CancelledError:
            if not gone:
                raise
            streaming.uncancel()  # the client left: the response ends here, not in an error
        finally:
            sending = False
            if watcher is not None:
                watcher.cancel()
            if ended:  # the frames ran out: nothing is left to close, on_close shields itself
                if self._on_close is not None:
                    await self._on_close()
            else:
                with anyio.CancelScope(shield=True):
                    try:
                        await self._batches.aclose()
                    finally:  # the run is settled even if its source failed to close
                        if self._on_close is not None:
                            await self._on_close()

    def _start(self) -> Message:
        return {
            "type": "http.response.start",
            "status": self.status_code,
            "headers": self.raw_headers,
        }


async def _disconnect(receive: Receive) -> None:
    """Returns when the client has gone (the request body was read before streaming)."""
    while (await receive())["type"] != "http.disconnect":
        pass


def sse_response(
    batches: AsyncGenerator[Sequence[Any], None],
    on_close: Callable[[], Awaitable[None]] | None = None,
    *,
    framing: Framing | None = None,
    with_first_batch: bool = False,
) -> Response:
    """`batches` of items framed by `framing` (default: they are frames already), a batch
    per write. Closing the body (client gone) closes `batches`, which cancels a generation
    behind them.

    `with_first_batch`: the headers wait for the first frames and leave with them (one
    write) — for a live generation, whose first frames exist at once; a stream that may
    wait long for its first event (following a background job) sends its headers first."""
    return _SettlingStreamingResponse(batches, framing or Framing(), on_close, with_first_batch)
