"""Counters in Redis, so that replicas share one budget and one rate limit, and revocations
reach every replica (pub/sub) within milliseconds.

Each check-and-add is one Lua script: Redis runs it atomically, so concurrent requests on
any replica cannot overshoot. Budget counters are seeded from the ledger the first time a
replica meets them (the script answers "unknown" and the caller retries with the seed).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import Any

from redis.asyncio import Redis

from thinkgate.gateway.counters import WINDOW_S, Loader, RateState, decide

log = logging.getLogger(__name__)

REVOKED_CHANNEL = "thinkgate:revoked"
_PREFIX = "thinkgate:"

# KEYS: budget counters. ARGV: amount, then one limit per key, then one seed per key
# ("" when not known yet). Returns 1 reserved, 0 refused, -1 a counter needs its seed.
_RESERVE = """
local n = #KEYS
local amount = tonumber(ARGV[1])
for i = 1, n do
  if redis.call('EXISTS', KEYS[i]) == 0 then
    local seed = ARGV[1 + n + i]
    if seed == '' then return -1 end
    redis.call('SET', KEYS[i], seed, 'NX')
  end
end
for i = 1, n do
  if tonumber(redis.call('GET', KEYS[i])) + amount > tonumber(ARGV[1 + i]) then return 0 end
end
for i = 1, n do redis.call('INCRBY', KEYS[i], amount) end
return 1
"""

# KEYS: requests now, requests before, tokens now, tokens before.
# ARGV: rpm (-1 none), tpm (-1 none), tokens, fraction of the window elapsed, ttl.
_HIT = """
local rpm, tpm = tonumber(ARGV[1]), tonumber(ARGV[2])
local tokens, into, ttl = tonumber(ARGV[3]), tonumber(ARGV[4]), tonumber(ARGV[5])
local r_now = tonumber(redis.call('GET', KEYS[1]) or '0')
local r_before = tonumber(redis.call('GET', KEYS[2]) or '0')
local t_now = tonumber(redis.call('GET', KEYS[3]) or '0')
local t_before = tonumber(redis.call('GET', KEYS[4]) or '0')
local used_r = r_before * (1 - into) + r_now
local used_t = t_before * (1 - into) + t_now
local ok = 1
if rpm >= 0 and used_r + 1 > rpm then ok = 0 end
if tpm >= 0 and used_t + tokens > tpm then ok = 0 end
if ok == 1 then
  redis.call('INCRBY', KEYS[1], 1)
  redis.call('EXPIRE', KEYS[1], ttl)
  redis.call('INCRBY', KEYS[3], tokens)
  redis.call('EXPIRE', KEYS[3], ttl)
end
return {ok, tostring(used_r), tostring(used_t), r_before, t_before}
"""


class RedisCounters:
    def __init__(self, redis: Redis, on_revoked: Callable[[str], None]) -> None:
        self._redis = redis
        self._on_revoked = on_revoked
        self._reserve = redis.register_script(_RESERVE)
        self._hit = redis.register_script(_HIT)
        self._listener: asyncio.Task[None] | None = None

    @classmethod
    async def connect(cls, url: str, *, on_revoked: Callable[[str], None]) -> RedisCounters:
        counters = cls(Redis.from_url(url, decode_responses=True), on_revoked)
        await counters._redis.ping()
        ready = asyncio.Event()
        counters._listener = asyncio.create_task(counters._listen(ready), name="revocations")
        await asyncio.wait_for(ready.wait(), 5)
        return counters

    async def reserve(self, counters: Sequence[tuple[str, int]], amount: int, load: Loader) -> bool:
        keys = [_PREFIX + "budget:" + name for name, _ in counters]
        limits = [str(limit) for _, limit in counters]
        seeds = [""] * len(counters)
        result = int(await self._reserve(keys=keys, args=[amount, *limits, *seeds]))
        if result == -1:
            seeds = [str(await load(name)) for name, _ in counters]
            result = int(await self._reserve(keys=keys, args=[amount, *limits, *seeds]))
        return result == 1

    def settle_now(self, counters: Sequence[str], delta: int, key_id: str, refund: int) -> bool:
        return False  # shared counters are a round trip away

    async def adjust(self, counters: Sequence[str], delta: int) -> None:
        async with self._redis.pipeline(transaction=True) as pipe:
            for name in counters:
                pipe.incrby(_PREFIX + "budget:" + name, delta)
            await pipe.execute()

    async def hit(self, key_id: str, rpm: int | None, tpm: int | None, tokens: int) -> RateState:
        window, into = divmod(time.time(), WINDOW_S)
        now, before = int(window), int(window) - 1
        keys = [
            f"{_PREFIX}rl:{key_id}:r:{now}",
            f"{_PREFIX}rl:{key_id}:r:{before}",
            f"{_PREFIX}rl:{key_id}:t:{now}",
            f"{_PREFIX}rl:{key_id}:t:{before}",
        ]
        args = [_limit(rpm), _limit(tpm), tokens, into / WINDOW_S, 2 * WINDOW_S + 5]
        reply: list[Any] = await self._hit(keys=keys, args=args)
        state = decide(
            rpm, tpm, float(reply[1]), float(reply[2]), tokens, into, (int(reply[3]), int(reply[4]))
        )
        allowed = bool(int(reply[0]))
        if allowed != state.allowed:  # rounding at the boundary: the script's verdict counts
            state = replace(state, allowed=allowed, retry_after_s=0 if allowed else 1)
        return state

    async def refund_tokens(self, key_id: str, tokens: int) -> None:
        window = int(time.time() // WINDOW_S)
        key = f"{_PREFIX}rl:{key_id}:t:{window}"
        if await self._redis.exists(key):
            await self._redis.decrby(key, tokens)

    async def publish_revoked(self, key_id: str) -> None:
        await self._redis.publish(REVOKED_CHANNEL, key_id)

    async def aclose(self) -> None:
        if self._listener is not None:
            self._listener.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._listener
        await self._redis.aclose()

    async def _listen(self, ready: asyncio.Event) -> None:
        while True:
            try:
                async with self._redis.pubsub() as pubsub:
                    await pubsub.subscribe(REVOKED_CHANNEL)
                    ready.set()
                    async for message in pubsub.listen():
                        if message.get("type") == "message":
                            self._on_revoked(str(message["data"]))
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("revocation listener lost Redis; reconnecting")
                await asyncio.sleep(1)


def _limit(value: int | None) -> int:
    return -1 if value is None else value
