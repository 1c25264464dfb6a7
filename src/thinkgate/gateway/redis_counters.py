"""Counters in Redis, so that replicas share one budget and one rate limit, and revocations
reach every replica (pub/sub, `revocations`) before the revocation returns.

Each check-and-add is one Lua script: Redis runs it atomically, so concurrent requests on
any replica cannot overshoot. Budget counters are seeded from the ledger the first time a
replica meets them (the script answers "unknown" and the caller retries with the seed).

Redis may come back empty (restarted without persistence). An *epoch* key tells: each
budget script checks it and answers "epoch changed" when it is not the one this replica
attached to, so a replica re-attaches (`attach`) before it touches a budget again. In a new
epoch, what is not in the ledger yet (reservations still open) waits in a *carry* key per
counter, added when the counter is seeded; seeding waits `RESEED_DELAY_S` after the epoch
began, so every replica has re-attached and flushed its ledger first (`counter_outage`).
"""

from __future__ import annotations

import asyncio
import secrets
import time
from collections.abc import Sequence
from dataclasses import replace
from typing import Any

from redis.asyncio import Redis

from thinkgate.gateway.counters import WINDOW_S, Loader, RateState, RateWindow, decide
from thinkgate.gateway.revocations import announce

_PREFIX = "thinkgate:"

# KEYS: the epoch, then budget counters, then their carries. ARGV: the epoch expected,
# amount, then one limit per counter, then one seed per counter ("" when not known yet).
# Returns 1 reserved, 0 refused, -1 a counter needs its seed, -2 the epoch changed.
_RESERVE = """
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return -2 end
local n = (#KEYS - 1) / 2
local amount = tonumber(ARGV[2])
for i = 1, n do
  if redis.call('EXISTS', KEYS[1 + i]) == 0 then
    local seed = ARGV[2 + n + i]
    if seed == '' then return -1 end
    local carry = tonumber(redis.call('GET', KEYS[1 + n + i]) or '0')
    redis.call('SET', KEYS[1 + i], tonumber(seed) + carry, 'NX')
    redis.call('DEL', KEYS[1 + n + i])
  end
end
for i = 1, n do
  if tonumber(redis.call('GET', KEYS[1 + i])) + amount > tonumber(ARGV[2 + i]) then return 0 end
end
for i = 1, n do redis.call('INCRBY', KEYS[1 + i], amount) end
return 1
"""

# KEYS: the epoch, then budget counters, then their carries. ARGV: the epoch expected, the
# change to a counter, the change to its carry where the counter is not seeded yet (what
# the ledger will not show: an open reservation). Returns 1, or -2 the epoch changed.
_ADD = """
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return -2 end
local n = (#KEYS - 1) / 2
for i = 1, n do
  if redis.call('EXISTS', KEYS[1 + i]) == 1 then
    redis.call('INCRBY', KEYS[1 + i], ARGV[2])
  elseif tonumber(ARGV[3]) ~= 0 then
    redis.call('INCRBY', KEYS[1 + n + i], ARGV[3])
    redis.call('EXPIRE', KEYS[1 + n + i], 86400)
  end
end
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


RESEED_DELAY_S = 3.0  # a new epoch's counters are seeded no sooner: every replica re-attached
_EPOCH = _PREFIX + "epoch"


class EpochChanged(Exception):
    """Redis is not the one this replica attached to (it came back empty): `attach` again."""


class RedisCounters:
    """The shared counters. Raises what redis-py raises when Redis is unreachable;
    `counter_outage.GuardedCounters` decides what a request gets then."""

    def __init__(self, redis: Redis) -> None:
        self._redis = redis
        self._reserve = redis.register_script(_RESERVE)
        self._add = redis.register_script(_ADD)
        self._hit = redis.register_script(_HIT)
        self.epoch = ""
        self._seed_after = 0.0  # time.time() before which a new epoch's counters wait

    async def attach(self) -> bool:
        """Join the current epoch (making one if Redis has none); True if it is a new one
        to this replica, i.e. what this replica knew of the counters is gone."""
        token = f"{secrets.token_hex(8)}:{time.time():.3f}"
        await self._redis.set(_EPOCH, token, nx=True)
        epoch = str(await self._redis.get(_EPOCH))
        changed = epoch != self.epoch
        self.epoch = epoch
        began = float(epoch.rpartition(":")[2] or 0)
        self._seed_after = began + RESEED_DELAY_S
        return changed

    @property
    def client(self) -> Redis:
        return self._redis

    async def ping(self) -> None:
        await self._redis.ping()

    async def reserve(self, counters: Sequence[tuple[str, int]], amount: int, load: Loader) -> bool:
        names = [name for name, _ in counters]
        keys = self._keys(names)
        limits = [str(limit) for _, limit in counters]
        seeds = [""] * len(counters)
        result = int(await self._reserve(keys=keys, args=[self.epoch, amount, *limits, *seeds]))
        if result == -1:
            wait = self._seed_after - time.time()
            if wait > 0:  # a new epoch: the other replicas re-attach and flush first
                await asyncio.sleep(wait)
            seeds = [str(await load(name)) for name in names]
            result = int(await self._reserve(keys=keys, args=[self.epoch, amount, *limits, *seeds]))
        if result == -2:
            raise EpochChanged
        return result == 1

    def settle_now(
        self, counters: Sequence[str], delta: int, windows: Sequence[str], refund: int
    ) -> bool:
        return False  # shared counters are a round trip away

    async def add(self, counters: Sequence[str], delta: int, carry: int) -> None:
        """`delta` on each seeded counter; `carry` kept for one not seeded yet."""
        if int(await self._add(keys=self._keys(counters), args=[self.epoch, delta, carry])) == -2:
            raise EpochChanged

    async def adjust(self, counters: Sequence[str], delta: int, reserved: int = 0) -> None:
        await self.add(counters, delta, -reserved)

    def _keys(self, names: Sequence[str]) -> list[str]:
        counters = [_PREFIX + "budget:" + name for name in names]
        return [_EPOCH, *counters, *(key + ":carry" for key in counters)]

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
        await self._redis.aclose()


def _limit(value: int | None) -> int:
    return -1 if value is None else value
