"""SSE frames that are ready together leave together: one write, not one per frame.

An upstream often hands over many events in one read (a fast engine, or a whole stream
from a cache); framed one by one, each became its own ASGI message, trip through the
middleware and socket write, and each woke the client up.

The sender pulls the items itself, with no task and no queue between (a task per stream
cost a twentieth of a streamed request on the proxy path, bench/overhead). Each next item
is stepped once by hand: one that is ready joins the batch at once; a source that has to
wait first lets the batch go, then waits in the sender's task just as `await` would have
(`_Rest`). Frames never wait for company, and backpressure is the socket's: while a batch
is written, the source is not read. A batch that ends the stream says so, so that it
leaves with the body's end in one write.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncGenerator, AsyncIterator, Callable, Generator
from typing import Any, TypeVar

Item = TypeVar("Item")


async def coalesced(
    items: AsyncIterator[Item], render: Callable[[Item], bytes], end: Callable[[], bytes]
) -> AsyncGenerator[tuple[bytes, bool], None]:
    """(frames joined, whether they are the last): `render` per item, `end()` after the
    last one. Closing this (`aclose()`) mid-stream cancels the source where it waits and
    closes it, as cancelling a task that read it would."""
    batch: list[bytes] = []
    waiting: _Rest | None = None  # the source's next item, stopped on a wait
    try:
        while True:
            step = items.__anext__().__await__()
            try:
                waits_on = step.send(None)
            except StopIteration as ready:
                batch.append(render(ready.value))
                continue
            except StopAsyncIteration:
                batch.append(end())
                yield b"".join(batch), True
                return
            except BaseException:
                if batch:  # what was ready before the failure still goes out
                    yield b"".join(batch), False
                raise
            rest = _Rest(step, waits_on)
            if batch:
                waiting = rest
                yield b"".join(batch), False
                waiting, batch = None, []
            try:
                item = await rest  # whatever is thrown in here reaches the source
            except StopAsyncIteration:
                yield end(), True
                return
            batch.append(render(item))
    finally:
        if waiting is not None:  # closed while the source waits: cancel it there
            waiting.throw_first(asyncio.CancelledError())
            with contextlib.suppress(asyncio.CancelledError, StopAsyncIteration):
                await waiting
        aclose = getattr(items, "aclose", None)
        if aclose is not None:
            await aclose()


class _Rest:
    """The rest of an `await` that was stepped by hand and stopped on a wait: awaited, it
    hands each wait up to the task and the task's answer back down, as `yield from` does
    (PEP 380), so the source runs exactly as if it had been awaited all along."""

    __slots__ = ("_error", "_step", "_waits_on")

    def __init__(self, step: Generator[Any, Any, Any], waits_on: Any) -> None:
        self._step = step
        self._waits_on = waits_on
        self._error: BaseException | None = None

    def throw_first(self, error: BaseException) -> None:
        """Raise `error` where the source waits, before any further wait of its own."""
        self._error = error

    def __await__(self) -> Generator[Any, Any, Any]:
        step, waits_on, error = self._step, self._waits_on, self._error
        while True:
            answer = None
            if error is None:
                try:
                    answer = yield waits_on
                except GeneratorExit:
                    step.close()
                    raise
                except BaseException as thrown:  # a cancellation, mostly
                    error = thrown
            try:
                if error is None:
                    waits_on = step.send(answer)
                else:
                    waits_on, error = step.throw(error), None
            except StopIteration as done:
                return done.value
