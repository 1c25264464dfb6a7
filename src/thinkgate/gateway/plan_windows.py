"""The counters of plan windows: in-process, or in Redis so replicas share them.

A window starts at the first request that finds none running and refills whole when its
period has passed (`start + seconds`): the "5-hour window" resellers sell. Taking a request
checks every window of the plan and adds to all of them in one step, or to none (one Lua
script in Redis). Settling corrects tokens and money to the actual figures, in the window
the request was taken from only (one that has refilled since is left alone).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple, Protocol

from redis.asyncio import Redis

_PREFIX = "thinkgate:plan:"


class Limits(NamedTuple):
    """One window's limits (None: not limited); money in picodollars."""

    period: str
    seconds: int
    requests: int | None
    tokens: int | None
    money: int | None


@dataclass(slots=True, frozen=True)
class Used:
    """A window's state: `start` None when no window is running (the next request starts one)."""

    period: str
    start: int | None
    requests: int
    tokens: int
    money: int


class WindowStore(Protocol):
    async def take(
        self, subject: str, windows: Sequence[Limits], tokens: int, money: int, now: int
    ) -> tuple[bool, list[Used]]:
        """Count a request in every window, or (one would overflow) in none."""
        ...

    async def correct(
        self, subject: str, held: Sequence[tuple[str, int]], requests: int, tokens: int, money: int
    ) -> None:
        """Add these deltas to each (period, start) window still running from that start."""
        ...

    async def used(self, subject: str, windows: Sequence[Limits], now: int) -> list[Used]: ...


def _fits(limits: Limits, used: Used, tokens: int, money: int) -> bool:
    return (
        (limits.requests is None or used.requests + 1 <= limits.requests)
        and (limits.tokens is None or used.tokens + tokens <= limits.tokens)
        and (limits.money is None or used.money + money <= limits.money)
    )


class MemoryWindows:
    """One replica alone: a dict, atomic because nothing awaits between check and add."""

    def __init__(self) -> None:
        self._state: dict[tuple[str, str], list[int]] = {}

    async def take(
        self, subject: str, windows: Sequence[Limits], tokens: int, money: int, now: int
    ) -> tuple[bool, list[Used]]:
        used = self._used(subject, windows, now)
        if not all(_fits(w, u, tokens, money) for w, u in zip(windows, used, strict=True)):
            return False, used
        for limits, current in zip(windows, used, strict=True):
            start = current.start if current.start is not None else now
            self._state[(subject, limits.period)] = [
                start,
                current.requests + 1,
                current.tokens + tokens,
                current.money + money,
            ]
        return True, self._used(subject, windows, now)

    async def correct(
        self, subject: str, held: Sequence[tuple[str, int]], requests: int, tokens: int, money: int
    ) -> None:
        for period, start in held:
            state = self._state.get((subject, period))
            if state is not None and state[0] == start:
                state[1] = max(0, state[1] + requests)
                state[2] = max(0, state[2] + tokens)
                state[3] = max(0, state[3] + money)

    async def used(self, subject: str, windows: Sequence[Limits], now: int) -> list[Used]:
        return self._used(subject, windows, now)

    def _used(self, subject: str, windows: Sequence[Limits], now: int) -> list[Used]:
        out: list[Used] = []
        for limits in windows:
            state = self._state.get((subject, limits.period))
            if state is None or now >= state[0] + limits.seconds:
                out.append(Used(limits.period, None, 0, 0, 0))
            else:
                out.append(Used(limits.period, state[0], state[1], state[2], state[3]))
        return out


# KEYS: one hash per window (s: start, r, t, m). ARGV: now, tokens, money, then per window
# seconds, request limit, token limit, money limit (-1: none). Returns ok, then per window
# start (-1: none running), requests, tokens, money, as they are after this call.
_TAKE = """
local now, tokens, money = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local ok, state = 1, {}
for i = 1, #KEYS do
  local b = 3 + (i - 1) * 4
  local secs = tonumber(ARGV[b + 1])
  local lr, lt, lm = tonumber(ARGV[b + 2]), tonumber(ARGV[b + 3]), tonumber(ARGV[b + 4])
  local h = redis.call('HMGET', KEYS[i], 's', 'r', 't', 'm')
  local s = tonumber(h[1])
  local r, t, m = tonumber(h[2] or '0'), tonumber(h[3] or '0'), tonumber(h[4] or '0')
  if s == nil or now >= s + secs then s, r, t, m = -1, 0, 0, 0 end
  if (lr >= 0 and r + 1 > lr) or (lt >= 0 and t + tokens > lt) or (lm >= 0 and m + money > lm) then
    ok = 0
  end
  state[i] = {s, r, t, m, secs}
end
local reply = {ok}
for i = 1, #KEYS do
  local s, r, t, m, secs = unpack(state[i])
  if ok == 1 then
    if s < 0 then
      s, r, t, m = now, 0, 0, 0
      redis.call('DEL', KEYS[i])
      redis.call('HSET', KEYS[i], 's', ARGV[1])
    end
    r = redis.call('HINCRBY', KEYS[i], 'r', 1)
    t = redis.call('HINCRBY', KEYS[i], 't', ARGV[2])
    m = redis.call('HINCRBY', KEYS[i], 'm', ARGV[3])
    redis.call('EXPIRE', KEYS[i], secs + 86400)
  end
  for _, v in ipairs({s, r, t, m}) do table.insert(reply, tostring(v)) end
end
return reply
"""

# KEYS: window hashes. ARGV: requests, tokens, money deltas, then per window its start.
_CORRECT = """
for i = 1, #KEYS do
  if redis.call('HGET', KEYS[i], 's') == ARGV[3 + i] then
    for j, f in ipairs({'r', 't', 'm'}) do
      local v = redis.call('HINCRBY', KEYS[i], f, ARGV[j])
      if v < 0 then redis.call('HSET', KEYS[i], f, 0) end
    end
  end
end
return 1
"""


class RedisWindows:
    def __init__(self, redis: Redis) -> None:
        self._redis = redis
        self._take = redis.register_script(_TAKE)
        self._correct = redis.register_script(_CORRECT)

    async def take(
        self, subject: str, windows: Sequence[Limits], tokens: int, money: int, now: int
    ) -> tuple[bool, list[Used]]:
        keys = [_key(subject, w.period) for w in windows]
        args: list[Any] = [now, tokens, money]
        for w in windows:
            args += [w.seconds, _limit(w.requests), _limit(w.tokens), _limit(w.money)]
        reply: list[Any] = await self._take(keys=keys, args=args)
        used = []
        for index, limits in enumerate(windows):
            start, requests, tokens_, money_ = (
                int(v) for v in reply[1 + 4 * index : 5 + 4 * index]
            )
            used.append(
                Used(limits.period, None if start < 0 else start, requests, tokens_, money_)
            )
        return bool(int(reply[0])), used

    async def correct(
        self, subject: str, held: Sequence[tuple[str, int]], requests: int, tokens: int, money: int
    ) -> None:
        if held:
            keys = [_key(subject, period) for period, _ in held]
            args: list[Any] = [requests, tokens, money, *(str(start) for _, start in held)]
            await self._correct(keys=keys, args=args)

    async def used(self, subject: str, windows: Sequence[Limits], now: int) -> list[Used]:
        out = []
        for limits in windows:
            raw = await self._redis.hmget(_key(subject, limits.period), ["s", "r", "t", "m"])
            start = int(raw[0]) if raw[0] is not None else None
            if start is None or now >= start + limits.seconds:
                out.append(Used(limits.period, None, 0, 0, 0))
            else:
                r, t, m = (int(v or 0) for v in raw[1:])
                out.append(Used(limits.period, start, r, t, m))
        return out

    async def aclose(self) -> None:
        await self._redis.aclose()


def _key(subject: str, period: str) -> str:
    return f"{_PREFIX}{subject}:{period}"


def _limit(value: int | None) -> int:
    return -1 if value is None else value
