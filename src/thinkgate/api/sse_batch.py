"""SSE frames that are ready together leave together: one write, not one per frame.

An upstream often hands over many events in one read (a fast engine, or a whole stream
from a cache); framed one by one, each became its own ASGI message, trip through the
middleware and socket write, and each woke the client up. Here the frames are produced by
a task into a small bounded queue, and the sender joins whatever has queued up since its
last write. Frames never wait for company: a lone frame goes out at once. The bound keeps
backpressure: a slow client still slows the reading of the upstream. A batch that ends
the stream says so, so that it leaves with the body's end in one write.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncGenerator, AsyncIterator

import anyio

_QUEUE_FRAMES = 64


class _End:
    """The producer finished (cleanly or with `error`)."""

    def __init__(self, error: BaseException | None = None) -> None:
        self.error = error


async def coalesced(frames: AsyncIterator[bytes]) -> AsyncGenerator[tuple[bytes, bool], None]:
    """(frames joined, whether they are the last); close it (`aclose()`) before touching
    what `frames` reads: that stops the producer."""
    queue: asyncio.Queue[bytes | _End] = asyncio.Queue(_QUEUE_FRAMES)

    async def produce() -> None:
        try:
            async for frame in frames:
                if queue.full():  # backpressure: wait for the sender
                    await queue.put(frame)
                else:
                    queue.put_nowait(frame)
        except asyncio.CancelledError:
            raise  # the sender is gone (client disconnected): nobody reads the queue
        except BaseException as error:  # handed to the sender, which raises it as before
            await queue.put(_End(error))
            return
        await queue.put(_End())

    producer = asyncio.create_task(produce())
    try:
        while True:
            item = await queue.get()
            batch: list[bytes] = []
            while not isinstance(item, _End):
                batch.append(item)
                if queue.empty():
                    break
                item = queue.get_nowait()
            last = isinstance(item, _End) and item.error is None
            if batch or last:
                yield b"".join(batch), last
            if isinstance(item, _End):
                if item.error is not None:
                    raise item.error
                return
    finally:
        if not producer.done():  # else it ended by itself (its error, if any, was raised)
            with anyio.CancelScope(shield=True):  # the producer has stopped on return
                producer.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await producer
