"""The SSE coalescer pulls a stream's items in the sender's own task: items ready together
leave as one batch, a source that waits lets what it has go first, and whatever the task
meets while the source waits (a close, a cancellation, an anyio deadline, a failure) reaches
the source exactly where it waits, as it would under a plain `await`.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import anyio
import pytest

from thinkgate.api.sse_batch import coalesced

pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def _render(item: str) -> bytes:
    return f"<{item}>".encode()


def _end() -> bytes:
    return b"<end>"


async def _ready(*items: str) -> AsyncIterator[str]:
    for item in items:
        yield item


async def test_items_ready_together_leave_with_the_end_in_one_batch() -> None:
    batches = [b async for b in coalesced(_ready("a", "b", "c"), _render, _end)]
    assert batches == [(b"<a><b><c><end>", True)]


async def test_an_empty_stream_is_its_end() -> None:
    assert [b async for b in coalesced(_ready(), _render, _end)] == [(b"<end>", True)]


async def test_a_waiting_source_lets_its_ready_items_go_first() -> None:
    release = asyncio.Event()

    async def source() -> AsyncIterator[str]:
        yield "a"
        yield "b"
        await release.wait()  # only set once "a" and "b" have been received
        yield "c"
        await asyncio.sleep(0)  # a bare yield to the loop is passed through too
        yield "d"

    batches = coalesced(source(), _render, _end)
    assert await asyncio.wait_for(anext(batches), 5) == (b"<a><b>", False)
    release.set()
    assert [b async for b in batches] == [(b"<c>", False), (b"<d><end>", True)]


async def test_a_source_that_ends_after_a_wait_ends_the_stream_alone() -> None:
    async def source() -> AsyncIterator[str]:
        yield "a"
        await asyncio.sleep(0.01)

    assert [b async for b in coalesced(source(), _render, _end)] == [
        (b"<a>", False),
        (b"<end>", True),
    ]


async def test_closing_mid_wait_cancels_the_source_where_it_waits() -> None:
    seen: list[str] = []

    async def source() -> AsyncIterator[str]:
        try:
            yield "a"
            await asyncio.sleep(3600)
            yield "never"
        except asyncio.CancelledError:
            seen.append("cancelled")
            raise
        finally:
            await asyncio.sleep(0)  # a source may still wait while it cleans up
            seen.append("closed")

    batches = coalesced(source(), _render, _end)
    assert await anext(batches) == (b"<a>", False)
    await asyncio.wait_for(batches.aclose(), 5)
    assert seen == ["cancelled", "closed"]


async def test_cancelling_the_sender_cancels_the_source_in_its_wait() -> None:
    seen: list[str] = []
    received: list[tuple[bytes, bool]] = []

    async def source() -> AsyncIterator[str]:
        yield "a"
        try:
            await asyncio.sleep(3600)
        except asyncio.CancelledError:
            seen.append("cancelled")
            raise
        yield "never"

    async def send() -> None:
        async for batch in coalesced(source(), _render, _end):
            received.append(batch)

    sender = asyncio.create_task(send())
    while not received:  # noqa: ASYNC110  # the first batch is out: the source now waits
        await asyncio.sleep(0.001)
    sender.cancel()
    with pytest.raises(asyncio.CancelledError):
        await asyncio.wait_for(sender, 5)
    assert seen == ["cancelled"]
    assert received == [(b"<a>", False)]


async def test_an_anyio_deadline_inside_the_source_still_fires() -> None:
    async def source() -> AsyncIterator[str]:
        yield "a"
        with anyio.move_on_after(0.01) as scope:
            await anyio.sleep(3600)
        yield "timed out" if scope.cancelled_caught else "slept"

    async with asyncio.timeout(5):
        batches = [b async for b in coalesced(source(), _render, _end)]
    assert batches == [(b"<a>", False), (b"<timed out><end>", True)]


async def test_a_failing_source_sends_what_was_ready_then_raises() -> None:
    async def source() -> AsyncIterator[str]:
        yield "a"
        raise RuntimeError("boom")

    batches = coalesced(source(), _render, _end)
    assert await anext(batches) == (b"<a>", False)
    with pytest.raises(RuntimeError, match="boom"):
        await anext(batches)


async def test_a_failure_after_a_wait_reaches_the_sender() -> None:
    async def source() -> AsyncIterator[str]:
        await asyncio.sleep(0.001)
        raise RuntimeError("late")
        yield "never"

    with pytest.raises(RuntimeError, match="late"):
        async for _ in coalesced(source(), _render, _end):
            pass
