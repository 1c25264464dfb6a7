"""Shared counters for budgets and rate limits: in-process here, in Redis across replicas.

Budget counters hold `spent + reserved` in picodollars. A reservation checks every counter
of the key (total, this month) and adds to all of them in one step, or to none: with no
await between check and add (here) or inside one Lua script (Redis), many requests at once
cannot overshoot. Settling adds `actual - reserved`.

Rate limits are sliding-window counters (the previous minute weighted by how much of it
still overlaps the window, plus this minute), for requests and tokens together. A request
is counted in several windows at once (its key's and its user's) or in none.
"""

from __future__ import annotations

import math
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import NamedTuple, Protocol

WINDOW_S = 60

Loader = Callable[[str], Awaitable[int]]  # counter name → spend so far (from the ledger)


class RateWindow(NamedTuple):
    """One sliding window a request is counted in: a key's, or a user's across their keys."""

    id: str
    rpm: int | None
    tpm: int | None


@dataclass(slots=True, frozen=True)
class RateState:
    """What the x-ratelimit-* headers say, and whether this request was let through."""

    allowed: bool
    limit_requests: int | None
    remaining_requests: int
    reset_requests_s: float
    limit_tokens: int | None
    remaining_tokens: int
    reset_tokens_s: float
    retry_after_s: int = 0


class Counters(Protocol):
    async def reserve(
        self, counters: Sequence[tuple[str, int]], amount: int, load: Loader
    ) -> bool: ...

    async def adjust(self, counters: Sequence[str], delta: int, reserved: int = 0) -> None:
        """Add `delta` to each counter; `reserved`: the reservation this settles, if any."""
        ...

    async def hit(
        self, key_id: str, rpm: int | None, tpm: int | None, tokens: int
    ) -> RateState: ...

    async def hit_all(self, windows: Sequence[RateWindow], tokens: int) -> list[RateState]:
        """One request in every window if each has room, else in none (one verdict each)."""
        ...

    async def refund_tokens(self, key_id: str, tokens: int) -> None: ...

    def settle_now(
        self, counters: Sequence[str], delta: int, windows: Sequence[str], refund: int
    ) -> bool:
        """`adjust(counters, delta)` and `refund_tokens(w, refund)` for each window at once,
        where this store can without waiting (one replica's memory); False: nothing done,
        await them."""
        ...

    async def publish_revoked(self, key_id: str) -> None:
        """Tell every other replica to drop this (committed) revocation's key from its
        cache; return once each listening replica has."""
        ...

    async def aclose(self) -> None: ...


class MemoryCounters:
    """One replica alone: plain dicts, made atomic by never awaiting between check and add."""

    def __init__(self) -> None:
        self._budget: dict[str, int] = {}
        self._windows: dict[tuple[str, str, int], int] = {}

    async def reserve(self, counters: Sequence[tuple[str, int]], amount: int, load: Loader) -> bool:
        for name, _ in counters:
            if name not in self._budget:
                loaded = await load(name)
                self._budget.setdefault(name, loaded)
        if any(self._budget[name] + amount > limit for name, limit in counters):
            return False
        for name, _ in counters:
            self._budget[name] += amount
        return True

    async def adjust(self, counters: Sequence[str], delta: int, reserved: int = 0) -> None:
        self._adjust(counters, delta)

    async def hit(self, key_id: str, rpm: int | None, tpm: int | None, tokens: int) -> RateState:
        return self._hit_all((RateWindow(key_id, rpm, tpm),), tokens)[0]

    async def hit_all(self, windows: Sequence[RateWindow], tokens: int) -> list[RateState]:
        return self._hit_all(windows, tokens)

    def _hit_all(self, windows: Sequence[RateWindow], tokens: int) -> list[RateState]:
        window, into = divmod(time.time(), WINDOW_S)
        current = int(window)
        self._forget_old(current)
        states = [
            decide(
                rpm,
                tpm,
                self._estimate(name, "r", current, into),
                self._estimate(name, "t", current, into),
                tokens,
                into,
                self._previous(name, current),
            )
            for name, rpm, tpm in windows
        ]
        if all(state.allowed for state in states):
            for name, _, _ in windows:
                self._windows[(name, "r", current)] = self._windows.get((name, "r", current), 0) + 1
                slot = (name, "t", current)
                self._windows[slot] = self._windows.get(slot, 0) + tokens
        return states

    async def refund_tokens(self, key_id: str, tokens: int) -> None:
        self._refund(key_id, tokens)

    def settle_now(
        self, counters: Sequence[str], delta: int, windows: Sequence[str], refund: int
    ) -> bool:
        self._adjust(counters, delta)
        for name in windows:
            self._refund(name, refund)
        return True

    def _adjust(self, counters: Sequence[str], delta: int) -> None:
        for name in counters:
            if name in self._budget:
                self._budget[name] += delta

    def _refund(self, key_id: str, tokens: int) -> None:
        if tokens:
            slot = (key_id, "t", int(time.time() // WINDOW_S))
            if slot in self._windows:
                self._windows[slot] = max(0, self._windows[slot] - tokens)

    async def publish_revoked(self, key_id: str) -> None:
        return None  # one replica alone: the revoking ring has already forgotten the key

    async def aclose(self) -> None:
        return None

    def _estimate(self, key_id: str, kind: str, current: int, into: float) -> float:
        previous = self._windows.get((key_id, kind, current - 1), 0)
        return previous * (1 - into / WINDOW_S) + self._windows.get((key_id, kind, current), 0)

    def _previous(self, key_id: str, current: int) -> tuple[int, int]:
        return (
            self._windows.get((key_id, "r", current - 1), 0),
            self._windows.get((key_id, "t", current - 1), 0),
        )

    def _forget_old(self, current: int) -> None:
        if len(self._windows) > 10_000:
            self._windows = {k: v for k, v in self._windows.items() if k[2] >= current - 1}


def decide(
    rpm: int | None,
    tpm: int | None,
    used_requests: float,
    used_tokens: float,
    tokens: int,
    into: float,
    previous: tuple[int, int],
) -> RateState:
    """The sliding-window verdict, shared by both counter stores."""
    to_roll = WINDOW_S - into
    ok_r = rpm is None or used_requests + 1 <= rpm
    ok_t = tpm is None or used_tokens + tokens <= tpm
    allowed = ok_r and ok_t
    after_r = used_requests + (1 if allowed else 0)
    after_t = used_tokens + (tokens if allowed else 0)
    wait = 0.0
    if not ok_r and rpm is not None:
        wait = max(wait, _wait(used_requests + 1 - rpm, previous[0], to_roll))
    if not ok_t and tpm is not None:
        wait = max(wait, _wait(used_tokens + tokens - tpm, previous[1], to_roll))
    return RateState(
        allowed=allowed,
        limit_requests=rpm,
        remaining_requests=max(0, math.floor(rpm - after_r)) if rpm is not None else 0,
        reset_requests_s=_reset(after_r, rpm, previous[0], to_roll),
        limit_tokens=tpm,
        remaining_tokens=max(0, math.floor(tpm - after_t)) if tpm is not None else 0,
        reset_tokens_s=_reset(after_t, tpm, previous[1], to_roll),
        retry_after_s=max(1, math.ceil(wait)) if not allowed else 0,
    )


def strictest(states: Sequence[RateState]) -> RateState:
    """One verdict for the x-ratelimit-* headers of a request counted in several windows:
    per dimension the window with the least room left; refused if any window refused, with
    the longest of their waits."""
    requests = min(
        (s for s in states if s.limit_requests is not None),
        key=lambda s: s.remaining_requests,
        default=states[0],
    )
    tokens = min(
        (s for s in states if s.limit_tokens is not None),
        key=lambda s: s.remaining_tokens,
        default=states[0],
    )
    return RateState(
        allowed=all(s.allowed for s in states),
        limit_requests=requests.limit_requests,
        remaining_requests=requests.remaining_requests,
        reset_requests_s=requests.reset_requests_s,
        limit_tokens=tokens.limit_tokens,
        remaining_tokens=tokens.remaining_tokens,
        reset_tokens_s=tokens.reset_tokens_s,
        retry_after_s=max(s.retry_after_s for s in states),
    )


def _wait(excess: float, previous: int, to_roll: float) -> float:
    """Seconds until the previous minute's weight has decayed by `excess` (else: next minute)."""
    if previous > 0:
        needed = excess * WINDOW_S / previous
        if needed <= to_roll:
            return needed
    return to_roll + 1


def _reset(used: float, limit: int | None, previous: int, to_roll: float) -> float:
    if limit is None or used <= 0:
        return 0.0
    return to_roll if previous == 0 else min(to_roll + WINDOW_S, WINDOW_S)
