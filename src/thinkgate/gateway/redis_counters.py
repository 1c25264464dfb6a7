"""Counters in Redis, so that replicas share one budget and one rate limit, and revocations
reach every replica (pub/sub, `revocations`) before the revocation returns.

Each check-and-add is one Lua script: Redis runs it atomically, so concurrent requests on
any replica cannot overshoot. Budget counters are seeded from the ledger the first time a
replica meets them (the script answers "unknown" and the caller retries with the seed).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import replace
from typing import Any

from redis.asyncio import Redis

from thinkgate.gateway.counters import WINDOW_S, Loader, RateState, RateWindow, decide
from thinkgate.gateway.revocations import KeyCache, RevocationListener, announce

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

# KEYS: per window, requests now, requests before, tokens now, tokens before.
# ARGV: tokens, fraction of the window elapsed, ttl, then per window rpm and tpm (-1 none).
# Counts the request in every window, or (one of them full) in none. Returns the overall
# verdict, then per window: its own verdict, used requests, used tokens, the previous
# minute's requests and tokens.
_HIT = """
local tokens, into, ttl = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local reply = {1}
for w = 0, #KEYS / 4 - 1 do
  local k = 4 * w
  local rpm, tpm = tonumber(ARGV[4 + 2 * w]), tonumber(ARGV[5 + 2 * w])
  local r_now = tonumber(redis.call('GET', KEYS[k + 1]) or '0')
  local r_before = tonumber(redis.call('GET', KEYS[k + 2]) or '0')
  local t_now = tonumber(redis.call('GET', KEYS[k + 3]) or '0')
  local t_before = tonumber(redis.call('GET', KEYS[k + 4]) or '0')
  local used_r = r_before * (1 - into) + r_now
  local used_t = t_before * (1 - into) + t_now
  local fits = 1
  if rpm >= 0 and used_r + 1 > rpm then fits = 0 end
  if tpm >= 0 and used_t + tokens > tpm then fits = 0 end
  if fits == 0 then reply[1] = 0 end
  for _, value in ipairs({fits, tostring(used_r), tostring(used_t), r_before, t_before}) do
    table.insert(reply, value)
  end
end
if reply[1] == 1 then
  for w = 0, #KEYS / 4 - 1 do
    local k = 4 * w
    redis.call('INCRBY', KEYS[k + 1], 1)
    redis.call('EXPIRE', KEYS[k + 1], ttl)
    redis.call('INCRBY', KEYS[k + 3], tokens)
    redis.call('EXPIRE', KEYS[k + 3], ttl)
  end
end
return reply
"""


class RedisCounters:
    def __init__(self, redis: Redis) -> None:
        self._redis = redis
        self._reserve = redis.register_script(_RESERVE)
        self._hit = redis.register_script(_HIT)
        self._listener: RevocationListener | None = None

    @classmethod
    async def connect(cls, url: str, *, keys: KeyCache) -> RedisCounters:
        """Counters, and `keys` kept in step with every replica's revocations."""
        counters = cls(Redis.from_url(url, decode_responses=True))
        await counters._redis.ping()
        counters._listener = await RevocationListener.start(counters._redis, keys)
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

    def settle_now(
        self, counters: Sequence[str], delta: int, windows: Sequence[str], refund: int
    ) -> bool:
        return False  # shared counters are a round trip away

    async def adjust(self, counters: Sequence[str], delta: int) -> None:
        async with self._redis.pipeline(transaction=True) as pipe:
            for name in counters:
                pipe.incrby(_PREFIX + "budget:" + name, delta)
            await pipe.execute()

    async def hit(self, key_id: str, rpm: int | None, tpm: int | None, tokens: int) -> RateState:
        return (await self.hit_all((RateWindow(key_id, rpm, tpm),), tokens))[0]

    async def hit_all(self, windows: Sequence[RateWindow], tokens: int) -> list[RateState]:
        window, into = divmod(time.time(), WINDOW_S)
        now, before = int(window), int(window) - 1
        keys: list[str] = []
        args: list[Any] = [tokens, into / WINDOW_S, 2 * WINDOW_S + 5]
        for name, rpm, tpm in windows:
            keys += [
                f"{_PREFIX}rl:{name}:{kind}:{minute}" for kind in "rt" for minute in (now, before)
            ]
            args += [_limit(rpm), _limit(tpm)]
        reply: list[Any] = await self._hit(keys=keys, args=args)
        states: list[RateState] = []
        for index, (_, rpm, tpm) in enumerate(windows):
            fits, used_r, used_t, r_before, t_before = reply[1 + 5 * index : 6 + 5 * index]
            previous = (int(r_before), int(t_before))
            state = decide(rpm, tpm, float(used_r), float(used_t), tokens, into, previous)
            allowed = bool(int(fits))
            if allowed != state.allowed:  # rounding at the boundary: the script's verdict counts
                state = replace(state, allowed=allowed, retry_after_s=0 if allowed else 1)
            states.append(state)
        return states

    async def refund_tokens(self, key_id: str, tokens: int) -> None:
        window = int(time.time() // WINDOW_S)
        key = f"{_PREFIX}rl:{key_id}:t:{window}"
        if await self._redis.exists(key):
            await self._redis.decrby(key, tokens)

    async def publish_revoked(self, key_id: str) -> None:
        await announce(self._redis, key_id)

    async def aclose(self) -> None:
        if self._listener is not None:
            await self._listener.aclose()
        await self._redis.aclose()


def _limit(value: int | None) -> int:
    return -1 if value is None else value
