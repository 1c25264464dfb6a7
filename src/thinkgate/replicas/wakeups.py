"""Wake-ups: "the stored state of background job X moved on", sent to every replica so
that a follower there reads the store at once (it also polls, so a lost one only delays).

Redis pub/sub where Redis is configured, PostgreSQL LISTEN/NOTIFY where it is not, and
in-process alone on SQLite. One channel and one subscription per replica; the payload is
the response id.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Iterator
from typing import Any

from pgqueuer.ports.driver import Driver

log = logging.getLogger(__name__)

CHANNEL = "thinkgate_job_events"


class LocalWakeups:
    """The followers on this replica, by response id."""

    def __init__(self) -> None:
        self._watching: dict[str, set[asyncio.Event]] = {}

    @contextlib.contextmanager
    def watch(self, response_id: str) -> Iterator[asyncio.Event]:
        event = asyncio.Event()
        self._watching.setdefault(response_id, set()).add(event)
        try:
            yield event
        finally:
            watchers = self._watching.get(response_id, set())
            watchers.discard(event)
            if not watchers:
                self._watching.pop(response_id, None)

    def deliver(self, response_id: str) -> None:
        for event in self._watching.get(response_id, ()):
            event.set()

    async def publish(self, response_id: str) -> None:
        self.deliver(response_id)

    async def aclose(self) -> None:
        return None


class PostgresWakeups(LocalWakeups):
    """NOTIFY on the job queue's pool; LISTEN on its listener connection."""

    def __init__(self, driver: Driver) -> None:
        super().__init__()
        self._driver = driver

    async def start(self) -> None:
        await self._driver.add_listener(CHANNEL, self._received)

    def _received(self, payload: str | bytes | bytearray) -> None:
        self.deliver(payload.decode() if isinstance(payload, (bytes, bytearray)) else payload)

    async def publish(self, response_id: str) -> None:
        self.deliver(response_id)
        try:
            await self._driver.notify(CHANNEL, response_id)
        except Exception:  # followers elsewhere poll the store
            log.warning("job wake-up for %s not sent", response_id, exc_info=True)


class RedisWakeups(LocalWakeups):
    """PUBLISH / SUBSCRIBE on one channel; the subscriber reconnects with backoff."""

    def __init__(self, url: str) -> None:
        super().__init__()
        import redis.asyncio as redis

        self._redis: Any = redis.from_url(url)
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self._task = asyncio.create_task(self._listen(), name="job wake-ups")

    async def publish(self, response_id: str) -> None:
        self.deliver(response_id)
        try:
            await self._redis.publish(CHANNEL, response_id)
        except Exception:  # followers elsewhere poll the store
            log.warning("job wake-up for %s not sent", response_id, exc_info=True)

    async def aclose(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        await self._redis.aclose()

    async def _listen(self) -> None:
        backoff = 0.5
        while True:
            try:
                async with self._redis.pubsub() as pubsub:
                    await pubsub.subscribe(CHANNEL)
                    backoff = 0.5
                    async for message in pubsub.listen():
                        if message.get("type") == "message":
                            self.deliver(message["data"].decode())
            except asyncio.CancelledError:
                raise
            except Exception:
                log.warning("job wake-ups: Redis lost; retrying in %.1f s", backoff)
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 10.0)


async def open_wakeups(
    redis_url: str | None, driver: Driver | None
) -> tuple[LocalWakeups, Callable[[], Awaitable[None]]]:
    """Redis if configured, else PostgreSQL (`driver`: the shared queue's), else local."""
    wakeups: LocalWakeups
    if redis_url is not None:
        redis_wakeups = RedisWakeups(redis_url)
        await redis_wakeups.start()
        wakeups = redis_wakeups
    elif driver is not None:
        postgres = PostgresWakeups(driver)
        await postgres.start()
        wakeups = postgres
    else:
        wakeups = LocalWakeups()
    return wakeups, wakeups.aclose
