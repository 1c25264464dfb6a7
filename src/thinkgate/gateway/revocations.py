"""Revocations across replicas: announced through Redis after the database commit, and
confirmed by every replica listening before the revocation returns.

    revoking replica (or the CLI)               each listening replica
    DB commit; forget here
    PUBLISH thinkgate:revoked "key nonce"  ──▶  ring.forget(key)
    BLPOP ack:nonce, once per listener     ◀──  RPUSH ack:nonce
    return: refused everywhere

PUBLISH answers how many replicas were listening; the announcer waits for as many
confirmations (at most CONFIRM_TIMEOUT_S). A replica that is not listening (its Redis
connection lost) could miss an announcement, so until it has subscribed again and reloaded
its key cache it trusts no cached key: each is read from the database, where every
announced revocation already is. A replica that listens but does not confirm in time is
logged, and drops the key at its next periodic refresh (`keys.REFRESH_INTERVAL_S`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
import time
from typing import Protocol

from redis.asyncio import Redis

log = logging.getLogger(__name__)

REVOKED_CHANNEL = "thinkgate:revoked"
CONFIRM_TIMEOUT_S = 5.0
_ACKS = "thinkgate:revoked-ack:"
_ACK_TTL_S = 60
_RECONNECT_S = 1.0


async def announce(redis: Redis, key_id: str, timeout_s: float = CONFIRM_TIMEOUT_S) -> None:
    """Tell every replica a committed revocation; return once each has forgotten the key."""
    nonce = secrets.token_hex(8)
    acks = _ACKS + nonce
    listening = int(await redis.publish(REVOKED_CHANNEL, f"{key_id} {nonce}"))
    deadline = time.monotonic() + timeout_s
    confirmed = 0
    try:
        while confirmed < listening:
            left = deadline - time.monotonic()
            if left < 0.01 or await redis.blpop([acks], timeout=left) is None:
                break  # (a BLPOP timeout of 0 would wait for ever)
            confirmed += 1
    finally:
        await redis.delete(acks)
    if confirmed < listening:
        log.warning(
            "revocation of %s: %d of %d replicas confirmed within %.0f s; the others drop "
            "the key at their next key refresh",
            key_id,
            confirmed,
            listening,
            timeout_s,
        )


async def announce_via(url: str, key_id: str) -> None:
    """`announce` for a process without a Redis connection of its own (the CLI)."""
    redis = Redis.from_url(url, decode_responses=True)
    try:
        await announce(redis, key_id)
    finally:
        await redis.aclose()


class KeyCache(Protocol):
    """What the listener keeps right: a replica's cache of keys (`keys.KeyRing`)."""

    def forget(self, key_id: str) -> None:
        """A revocation was announced (and is committed): drop the key."""
        ...

    def distrust(self) -> None:
        """Announcements may be missed from now on: read every key from the database."""
        ...

    async def resync(self) -> None:
        """Listening again: reload the cache from the database, then trust it."""
        ...


class RevocationListener:
    """Applies every announced revocation to this replica's key cache, and confirms it."""

    def __init__(self, redis: Redis, keys: KeyCache) -> None:
        self._redis = redis
        self._keys = keys
        self._task: asyncio.Task[None] | None = None

    @classmethod
    async def start(cls, redis: Redis, keys: KeyCache) -> RevocationListener:
        """Listening once this returns: no announcement made after it is missed."""
        listener = cls(redis, keys)
        await asyncio.wait_for(listener.begin().wait(), 5)
        return listener

    def begin(self) -> asyncio.Event:
        """Start listening without waiting (Redis may be down: it retries); the event is
        set once subscribed."""
        ready = asyncio.Event()
        self._task = asyncio.create_task(self._listen(ready), name="revocations")
        return ready

    async def aclose(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _listen(self, ready: asyncio.Event) -> None:
        lost = False
        while True:
            try:
                async with self._redis.pubsub() as pubsub:
                    await pubsub.subscribe(REVOKED_CHANNEL)
                    # what was announced before this point is in the database: reload
                    # (at boot too, closing the gap since the first load)
                    await self._keys.resync()
                    ready.set()
                    lost = False
                    async for message in pubsub.listen():
                        if message.get("type") == "message":
                            await self._apply(str(message["data"]))
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                self._keys.distrust()
                if not lost:  # once per outage, not once a second while it lasts
                    log.warning("revocation listener lost Redis (%r); reconnecting", exc)
                lost = True
                await asyncio.sleep(_RECONNECT_S)

    async def _apply(self, message: str) -> None:
        key_id, _, nonce = message.partition(" ")
        self._keys.forget(key_id)
        if nonce:  # (an announcement without one asks for no confirmation)
            async with self._redis.pipeline(transaction=False) as pipe:
                pipe.rpush(_ACKS + nonce, "1")
                pipe.expire(_ACKS + nonce, _ACK_TTL_S)
                await pipe.execute()
