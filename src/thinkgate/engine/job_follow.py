"""Following a background job that runs on another replica: its stored events, then each
batch as the owner stores it, by sequence number (no gap, no duplicate), until the end.

The owner announces every stored batch (`Wakeups`: Redis pub/sub, or PostgreSQL
LISTEN/NOTIFY without Redis); a follower also reads the store every half second, so a
lost announcement only delays it.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, Callable
from contextlib import AbstractContextManager, aclosing, suppress
from typing import Any, Protocol

Event = dict[str, Any]

TERMINAL_EVENTS = frozenset({"response.completed", "response.incomplete", "response.failed"})
UNFINISHED = ("queued", "in_progress")
_POLL_SECONDS = 0.5
# A finished run's terminal event is stored just after its status: wait that long for it.
_SETTLE_POLLS = 10


class Wakeups(Protocol):
    """`replicas.wakeups`: "the job's stored state moved on", to every replica."""

    async def publish(self, response_id: str) -> None: ...

    def watch(self, response_id: str) -> AbstractContextManager[asyncio.Event]: ...


class StoredEvents(Protocol):
    async def after(self, response_id: str, sequence_number: int) -> list[Event]: ...


class StoredResponses(Protocol):
    async def get(self, response_id: str, *, owner: str | None = None) -> dict[str, Any] | None: ...


async def follow_stored(
    response_id: str,
    starting_after: int,
    events: StoredEvents,
    responses: StoredResponses,
    wakeups: Wakeups,
) -> AsyncGenerator[Event]:
    last = starting_after
    settling = 0
    with wakeups.watch(response_id) as woken:
        while True:
            woken.clear()  # before reading: an announcement after the read wakes us
            batch = await events.after(response_id, last)
            for event in batch:
                yield event
                last = event["sequence_number"]
                if event["type"] in TERMINAL_EVENTS:
                    return
            if not batch:
                stored = await responses.get(response_id)
                status = None if stored is None else stored["status"]
                if status not in UNFINISHED:
                    # a cancelled job's events are stored before its status; a finished
                    # one's terminal event just after it, so wait a little for that one
                    if status in (None, "cancelled") or settling >= _SETTLE_POLLS:
                        for event in await events.after(response_id, last):
                            yield event
                        return
                    settling += 1
            with suppress(TimeoutError):
                await asyncio.wait_for(woken.wait(), _POLL_SECONDS if not settling else 0.1)


async def follow_anywhere(
    stored: AsyncGenerator[Event], local: Callable[[int], AsyncGenerator[Event] | None]
) -> AsyncGenerator[Event]:
    """The stored events until the job turns out to run here (`local(after)`: its live
    events after that sequence number), then those, at once rather than per batch."""
    live = None
    async with aclosing(stored) as events:
        async for event in events:
            yield event
            live = local(event["sequence_number"])
            if live is not None:
                break
    if live is not None:
        async with aclosing(live) as events:
            async for event in events:
                yield event
