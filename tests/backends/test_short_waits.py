"""Short waits polled for (`net.short_waits`): the window learned from the waits' lengths,
the loop kept turning only while a wait is pending, and the two places that use it — the
upstream client's replies (`backends.upstream.http1`) and the server's keep-alive
connections (`api.http_protocol`) — each reporting every wait they begin exactly once."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest
import uvicorn

from thinkgate.api.http_protocol import HeadersWithBodyProtocol
from thinkgate.backends.upstream.http1 import Pool
from thinkgate.backends.upstream.transport import TransportOptions
from thinkgate.net.short_waits import GROW_START, WaitPoller

pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def _wait(poller: WaitPoller, clock: Clock, seconds: float) -> None:
    since = poller.waiting(asyncio.get_running_loop())
    clock.now += seconds
    poller.answered(since)


async def test_the_window_grows_on_short_waits_and_shrinks_to_zero_on_long_ones() -> None:
    clock = Clock()
    poller = WaitPoller(500e-6, clock)
    assert poller.window == 0.0
    windows = []
    for _ in range(5):  # replies after 180 µs: worth polling for, up to the first window ≥ it
        _wait(poller, clock, 180e-6)
        windows.append(poller.window)
    assert windows == pytest.approx([GROW_START, 2 * GROW_START, 4 * GROW_START] * 1 + [200e-6] * 2)
    for _ in range(3):  # now they take 10 ms: polling is wasted, and stops
        _wait(poller, clock, 0.010)
    assert poller.window == 0.0
    _wait(poller, clock, 0.010)
    assert poller.window == 0.0
    _wait(poller, clock, 300e-6)  # short again: it learns again
    assert poller.window == pytest.approx(GROW_START)
    for _ in range(10):
        _wait(poller, clock, 450e-6)
    assert poller.window == pytest.approx(500e-6)  # never past the maximum
    assert poller.pending == 0


async def test_a_zero_maximum_never_polls() -> None:
    clock = Clock()
    poller = WaitPoller(0.0, clock)
    for _ in range(5):
        _wait(poller, clock, 1e-6)
    assert poller.window == 0.0
    poller.waiting(asyncio.get_running_loop())
    assert not poller.polling


async def test_the_loop_turns_only_while_a_wait_is_pending_and_in_its_window() -> None:
    poller = WaitPoller(1.0)
    poller.window = 0.5
    since = poller.waiting(asyncio.get_running_loop())
    for _ in range(20):
        await asyncio.sleep(0)
    assert poller.polling and poller.pending == 1
    poller.answered(since)  # answered long before the window is up: polling stops at once
    for _ in range(3):
        await asyncio.sleep(0)
    assert not poller.polling and poller.pending == 0

    poller.window = 0.005
    poller.waiting(asyncio.get_running_loop())
    await asyncio.sleep(0.05)  # never answered: polling stops when the window is up
    assert not poller.polling and poller.pending == 1
    poller.abandoned()
    assert poller.pending == 0


async def test_polling_keeps_the_thread_busy_instead_of_asleep() -> None:
    async def thread_seconds_over(poller: WaitPoller, wall: float) -> float:
        started = time.thread_time()
        poller.waiting(asyncio.get_running_loop())
        await asyncio.sleep(wall)
        poller.abandoned()
        return time.thread_time() - started

    polled = WaitPoller(1.0)
    polled.window = 1.0
    asleep = WaitPoller(1.0)
    busy = await thread_seconds_over(polled, 0.05)
    idle = await thread_seconds_over(asleep, 0.05)
    assert busy > 0.01 and busy > 5 * idle


def _answer_after(delay: float) -> Any:
    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                length = int(head.lower().split(b"content-length:")[1].split(b"\r\n")[0])
                await reader.readexactly(length)
                await asyncio.sleep(delay)
                writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}")
        except (asyncio.IncompleteReadError, ConnectionError):
            writer.close()

    return serve


async def _requests(port: int, poller: WaitPoller, count: int) -> None:
    pool = Pool(TransportOptions(f"http://127.0.0.1:{port}/v1", {}, 5, 5, waits=poller))
    for _ in range(count):
        reply = await pool.request("POST", "chat/completions", b"{}")
        assert await reply.read_all(1024) == b"{}"
        reply.release()
    await pool.aclose()


async def test_the_upstream_client_learns_from_its_replies() -> None:
    fast, slow = WaitPoller(0.05), WaitPoller(0.002)
    for poller, delay in ((fast, 0.0), (slow, 0.02)):
        listener = await asyncio.start_server(_answer_after(delay), "127.0.0.1", 0)
        async with listener:
            await _requests(listener.sockets[0].getsockname()[1], poller, 8)
    assert fast.window >= GROW_START  # replies within 50 ms: polled for
    assert slow.window == 0.0  # replies after 20 ms, maximum 2 ms: never polled for
    await asyncio.sleep(0.01)  # the pools' connections are closed: nothing is left pending
    assert fast.pending == slow.pending == 0


async def test_an_upstream_that_closes_without_answering_ends_the_wait() -> None:
    async def hang_up(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        writer.close()

    poller = WaitPoller(0.05)
    listener = await asyncio.start_server(hang_up, "127.0.0.1", 0)
    async with listener:
        url = f"http://127.0.0.1:{listener.sockets[0].getsockname()[1]}/v1"
        pool = Pool(TransportOptions(url, {}, connect_timeout=5, read_timeout=5, waits=poller))
        with pytest.raises(Exception, match="closed the connection"):
            await pool.request("POST", "chat/completions", b"{}")
        await pool.aclose()
    assert poller.pending == 0 and poller.window == 0.0


async def _app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] == "lifespan":
        while (await receive())["type"] != "lifespan.shutdown":
            await send({"type": "lifespan.startup.complete"})
        await send({"type": "lifespan.shutdown.complete"})
        return
    headers = [(b"content-length", b"2")]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": b"{}"})


async def test_the_server_polls_for_a_keep_alive_connections_next_request() -> None:
    poller = WaitPoller(0.05)
    config = uvicorn.Config(
        _app,
        host="127.0.0.1",
        port=0,
        http=HeadersWithBodyProtocol.polling(poller),
        log_level="warning",
    )
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    while not server.started:  # noqa: ASYNC110  # uvicorn offers a flag, not an event
        await asyncio.sleep(0.01)
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        for _ in range(8):  # back to back on one connection
            writer.write(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
            reply = await asyncio.wait_for(reader.readuntil(b"{}"), 5)
            assert reply.startswith(b"HTTP/1.1 200 OK")
        assert poller.window >= GROW_START and poller.pending == 1  # the ninth is awaited
        writer.close()
        for _ in range(100):
            if poller.pending == 0:
                break
            await asyncio.sleep(0.01)
        assert poller.pending == 0  # a connection closed while idle ends its wait

        window = poller.window
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        assert (await asyncio.wait_for(reader.read(), 5)).endswith(b"{}")
        writer.close()
        assert poller.pending == 0 and poller.window == window  # no next request to wait for
    finally:
        server.should_exit = True
        await task
