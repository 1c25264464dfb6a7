"""A client that leaves an SSE reply stops it: the frame producer is closed (which is what
cancels generation upstream) and `on_close` settles the run, under our uvicorn protocol
(its disconnect callback, `api.http_protocol`) and under uvicorn's plain one (a task that
waits for `http.disconnect`). Also: a reply's headers and a body sent at once leave in one
write under our protocol.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator
from typing import Any

import pytest
import uvicorn

from thinkgate.api.http_protocol import HeadersWithBodyProtocol
from thinkgate.api.sse import sse_response

pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


class _Stream:
    """An SSE app whose stream sends one frame and then waits for ever."""

    def __init__(self) -> None:
        self.producer_closed = asyncio.Event()
        self.settled = asyncio.Event()

    async def frames(self) -> AsyncGenerator[list[bytes], None]:
        try:
            yield [b"data: first\n\n"]  # a batch: the frames of one read
            await asyncio.sleep(3600)
            yield [b"data: never\n\n"]
        finally:
            self.producer_closed.set()

    async def settle(self) -> None:
        self.settled.set()

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            while (await receive())["type"] != "lifespan.shutdown":
                await send({"type": "lifespan.startup.complete"})
            await send({"type": "lifespan.shutdown.complete"})
            return
        response = sse_response(self.frames(), on_close=self.settle, with_first_batch=True)
        await response(scope, receive, send)


async def _serve(app: Any, http: Any) -> tuple[uvicorn.Server, asyncio.Task[None], int]:
    config = uvicorn.Config(app, host="127.0.0.1", port=0, http=http, log_level="warning")
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    while not server.started:  # noqa: ASYNC110  # uvicorn offers a flag, not an event
        await asyncio.sleep(0.01)
    port = server.servers[0].sockets[0].getsockname()[1]
    return server, task, port


@pytest.mark.parametrize("http", [HeadersWithBodyProtocol, "httptools"], ids=["ours", "plain"])
async def test_a_client_leaving_stops_the_stream_and_settles(http: Any) -> None:
    app = _Stream()
    server, task, port = await _serve(app, http)
    try:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        received = b""
        while b"data: first" not in received:
            received += await asyncio.wait_for(reader.read(65536), 5)
        assert received.startswith(b"HTTP/1.1 200 OK\r\n")
        assert not app.producer_closed.is_set()  # still streaming while the client stays
        writer.close()
        await asyncio.wait_for(app.producer_closed.wait(), 5)
        await asyncio.wait_for(app.settled.wait(), 5)
    finally:
        server.should_exit = True
        await task


async def test_headers_and_a_ready_body_leave_in_one_write() -> None:
    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            while (await receive())["type"] != "lifespan.shutdown":
                await send({"type": "lifespan.startup.complete"})
            await send({"type": "lifespan.shutdown.complete"})
            return
        body = b'{"ok":true}'
        headers = [(b"content-type", b"application/json"), (b"content-length", b"11")]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": body})

    server, task, port = await _serve(app, HeadersWithBodyProtocol)
    writes: list[bytes] = []
    original = asyncio.selector_events._SelectorSocketTransport.write  # type: ignore[attr-defined]

    def counting(self: Any, data: bytes) -> None:
        writes.append(bytes(data))
        original(self, data)

    asyncio.selector_events._SelectorSocketTransport.write = counting  # type: ignore[attr-defined]
    try:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        reply = b""
        while not reply.endswith(b'{"ok":true}'):
            reply += await asyncio.wait_for(reader.read(65536), 5)
        writer.close()
    finally:
        asyncio.selector_events._SelectorSocketTransport.write = original  # type: ignore[attr-defined]
        server.should_exit = True
        await task
    server_writes = [data for data in writes if data.startswith(b"HTTP/1.1 200")]
    assert len(server_writes) == 1 and server_writes[0].endswith(b'{"ok":true}')
