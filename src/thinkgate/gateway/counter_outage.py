"""Shared counters that survive Redis going away: refuse (fail closed) or count per replica,
never silently, and put everything right when Redis is back.

    shared ──(a Redis call fails, or the revocation listener loses Redis)──▶ outage
    outage: budgets and rate limits answer 503 `shared_counters_unavailable` (fail_closed)
            or are counted here, each replica allowed 1/N of what was left (per_replica)
    outage ──(reconnect with backoff: ping, then `attach`)──▶ shared
        same epoch (Redis kept its data): the changes made meanwhile are replayed, in order
        new epoch (Redis came back empty): this replica's open reservations go to the new
        counters' carries and its ledger is flushed; counters are seeded from the ledger

Nothing here ever drops a ledger row: settling never raises (a change Redis cannot take
waits in `_pending`). Every reservation still open is in exactly one place: the current
epoch's counter (or its carry), or `_pending` until Redis is back.

A call cut off after it was sent (the connection closed or timed out mid-reply) may or may
not have been applied. Such a change is resolved to the side that cannot overshoot a
budget: a reservation as not made (the request is refused or counted here), a refund as
made; counted in `uncertain`. redis-py's own retries are off: a script retried after a lost
reply would be applied twice.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import dataclasses
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, TypeVar

from redis.asyncio import Redis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import RedisError

from thinkgate.errors import ServiceUnavailableError
from thinkgate.gateway.counters import Loader, MemoryCounters, RateState, RateWindow
from thinkgate.gateway.outage_stats import OutageMode, OutageStats, part, uncertain
from thinkgate.gateway.redis_counters import EpochChanged, RedisCounters
from thinkgate.gateway.revocations import (
    CONFIRM_TIMEOUT_S,
    KeyCache,
    RevocationListener,
    announce,
)

log = logging.getLogger(__name__)
T = TypeVar("T")

UNREACHABLE: tuple[type[BaseException], ...] = (RedisError, OSError, TimeoutError)
_NOT_YET: tuple[type[BaseException], ...] = (*UNREACHABLE, EpochChanged)
_BACKOFF_S = (0.2, 0.5, 1.0, 2.0)  # then every 2 s
_REMIND_S = 60.0  # a long outage is logged again this often
_CALL_TIMEOUT_S = 3.0  # a Redis that hangs (SIGSTOP, a partition) counts as down after this


class GuardedCounters:
    """`Counters` over Redis with an outage policy (`redis_outage` in the settings)."""

    def __init__(
        self, url: str, mode: OutageMode, replicas: int, flush_ledger: Callable[[], Awaitable[None]]
    ) -> None:
        self._url = url
        client = Redis.from_url(
            url,
            decode_responses=True,
            socket_connect_timeout=_CALL_TIMEOUT_S,
            socket_timeout=_CALL_TIMEOUT_S,
            retry=Retry(NoBackoff(), 0),
        )
        self._shared = RedisCounters(client)
        self._listen_client: Redis = Redis.from_url(url, decode_responses=True)  # no timeout
        self._listener: RevocationListener | None = None
        self._flush_ledger = flush_ledger
        self.stats = OutageStats(mode=mode, replicas=replicas)
        self._open: collections.Counter[tuple[tuple[str, ...], int]] = collections.Counter()
        self._pending: list[tuple[tuple[str, ...], int, int]] = []  # (counters, delta, carry)
        self._local: dict[str, int] = {}  # counter → spend seen here during the outage
        self._allowance: dict[str, int] = {}  # counter → what this replica may reach
        self._windows = MemoryCounters()
        self._back = asyncio.Event()
        self._reconnector: asyncio.Task[None] | None = None
        self._attach_lock = asyncio.Lock()

    async def start(self, keys: KeyCache) -> None:
        """Attach to Redis, or begin in an outage (Redis unreachable at start-up)."""
        try:
            async with asyncio.timeout(_CALL_TIMEOUT_S):
                await self._shared.ping()
                await self._shared.attach()
        except UNREACHABLE as exc:
            self._down(exc)
            keys.distrust()
            self._listener = RevocationListener(self._listen_client, _Watch(keys, self))
            self._listener.begin()
            return
        watched = _Watch(keys, self)
        self._listener = await RevocationListener.start(self._listen_client, watched)

    # -- budgets ---------------------------------------------------------------------------

    async def reserve(self, counters: Sequence[tuple[str, int]], amount: int, load: Loader) -> bool:
        names = tuple(name for name, _ in counters)
        for _ in range(3):  # (an epoch change: re-attach, then try again)
            if self.stats.down_since is not None:
                break
            try:
                # (unbounded here: a new epoch's first seed waits; each round trip is
                # bounded by the client's socket timeouts)
                reserved = await self._shared_call(
                    self._shared.reserve(counters, amount, load), within=None
                )
            except EpochChanged:
                await self._reattach_or_down()
                continue
            except UNREACHABLE as exc:
                self._down(exc)
                if uncertain(exc):  # perhaps reserved there too: over-counted, never under
                    self._note_uncertain("a reservation", amount)
                break
            if reserved:
                self._open[(names, amount)] += 1
            return reserved
        return await self._reserve_alone(counters, amount, load, names)

    async def _reserve_alone(
        self,
        counters: Sequence[tuple[str, int]],
        amount: int,
        load: Loader,
        names: tuple[str, ...],
    ) -> bool:
        self._refuse_if_closed()
        self.stats.per_replica += 1
        for name, limit in counters:
            if name not in self._local:
                spent = await load(name)  # the ledger, all replicas' flushed rows
                own = sum(n * amt for (ns, amt), n in self._open.items() if name in ns)
                self._local[name] = spent + own
                self._allowance[name] = spent + max(0, limit - spent) // self.stats.replicas
        if any(self._local[name] + amount > self._allowance[name] for name in names):
            return False
        for name in names:
            self._local[name] += amount
        self._open[(names, amount)] += 1
        self._pending.append((names, amount, amount))
        return True

    async def adjust(self, counters: Sequence[str], delta: int, reserved: int = 0) -> None:
        """Settle or withdraw a reservation; never raises (the ledger row comes after)."""
        names = tuple(counters)
        opened = (names, reserved)
        if reserved and self._open[opened] > 0:
            self._open[opened] -= 1
            if not self._open[opened]:
                del self._open[opened]
        if self.stats.down_since is None:
            try:
                await self._shared_call(self._shared.adjust(names, delta, reserved))
                return
            except EpochChanged:
                # Redis came back empty: re-attaching re-adds this replica's open
                # reservations, not this one (closed above). What is left to count is its
                # cost: added here to a counter seeded already, else seeded from its
                # ledger row (carry 0)
                delta, reserved = delta + reserved, 0
                if await self._reattach_or_down():
                    try:
                        await self._shared_call(self._shared.add(names, delta, 0))
                        return
                    except _NOT_YET as exc:
                        self._down(exc)
            except UNREACHABLE as exc:
                self._down(exc)
                if uncertain(exc) and delta < 0:  # perhaps applied: a refund, not twice
                    self._note_uncertain("a refund", -delta)
                    return
        for name in names:
            if name in self._local:
                self._local[name] += delta
        self._pending.append((names, delta, -reserved))

    # -- rate limits -----------------------------------------------------------------------

    async def hit(self, key_id: str, rpm: int | None, tpm: int | None, tokens: int) -> RateState:
        return (await self.hit_all((RateWindow(key_id, rpm, tpm),), tokens))[0]

    async def hit_all(self, windows: Sequence[RateWindow], tokens: int) -> list[RateState]:
        if self.stats.down_since is None:
            try:
                return await self._shared_call(self._shared.hit_all(windows, tokens))
            except UNREACHABLE as exc:
                self._down(exc)
        self._refuse_if_closed()
        self.stats.per_replica += 1
        share = self.stats.replicas
        return await self._windows.hit_all(
            [RateWindow(w.id, part(w.rpm, share), part(w.tpm, share)) for w in windows], tokens
        )

    async def refund_tokens(self, key_id: str, tokens: int) -> None:
        if self.stats.down_since is None:
            with contextlib.suppress(*UNREACHABLE):  # lost: the window over-counts a minute
                await self._shared_call(self._shared.refund_tokens(key_id, tokens))
                return
        await self._windows.refund_tokens(key_id, tokens)

    def settle_now(
        self, counters: Sequence[str], delta: int, windows: Sequence[str], refund: int
    ) -> bool:
        return False

    async def publish_revoked(self, key_id: str) -> None:
        await self._shared_call(announce(self._listen_client, key_id), CONFIRM_TIMEOUT_S + 2)

    # -- outage and return -----------------------------------------------------------------

    def note_lost(self) -> None:
        """The revocation listener lost Redis: an outage, even with no request to notice."""
        if self.stats.down_since is None:
            self._down(None)

    async def note_back(self) -> None:
        """The revocation listener is subscribed again: re-attach at once."""
        if self.stats.down_since is not None:
            self._back.set()

    async def probe(self) -> OutageStats:
        """For /readyz: a ping, so an idle replica's state is current too."""
        if self.stats.down_since is None:
            try:
                await self._shared_call(self._shared.ping())
            except UNREACHABLE as exc:
                self._down(exc)
        return self.stats

    def snapshot(self) -> dict[str, Any]:
        """For /metrics (read at scrape time; no network)."""
        stats = dataclasses.asdict(self.stats)
        return {**stats, "state": self.stats.state, "pending": len(self._pending)}

    def _note_uncertain(self, what: str, amount: int) -> None:
        self.stats.uncertain += 1
        log.warning(
            "Redis went mid-call: %s of %d picodollars may or may not have been applied; "
            "taken as the side that cannot overshoot (budget over-counted by it at most)",
            what,
            amount,
        )

    def _refuse_if_closed(self) -> None:
        if self.stats.mode == "fail_closed":
            self.stats.refused += 1
            raise ServiceUnavailableError(
                "Budgets and rate limits are shared through Redis, which this server cannot "
                "reach at the moment; the request was refused rather than counted on one "
                "replica alone. Please retry shortly.",
                code="shared_counters_unavailable",
            )

    def _down(self, exc: BaseException | None) -> None:
        if self.stats.down_since is not None:
            return
        self.stats.down_since = time.time()
        self.stats.outages += 1
        how = (
            "refusing budgeted and rate-limited requests (503) until it is back"
            if self.stats.mode == "fail_closed"
            else f"counting budgets and rate limits on this replica alone, 1/{self.stats.replicas} "
            "of each (redis_outage = per_replica) until it is back"
        )
        reason = f"{type(exc).__name__}: {exc}" if exc is not None else "connection lost"
        log.warning("REDIS UNREACHABLE (%s): shared counters are down; %s", reason, how)
        if self._reconnector is None or self._reconnector.done():
            self._reconnector = asyncio.create_task(self._reconnect(), name="redis reconnect")

    async def _reconnect(self) -> None:
        attempt = 0
        reminded = time.monotonic()
        while self.stats.down_since is not None:
            if time.monotonic() - reminded >= _REMIND_S:
                reminded = time.monotonic()
                log.warning(
                    "REDIS STILL UNREACHABLE after %.0f s: budgets and rate limits %s",
                    time.time() - self.stats.down_since,
                    "refused" if self.stats.mode == "fail_closed" else "counted per replica",
                )
            delay = _BACKOFF_S[min(attempt, len(_BACKOFF_S) - 1)]
            attempt += 1
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._back.wait(), delay)
            self._back.clear()
            try:
                async with self._attach_lock:
                    await self._shared_call(self._shared.ping())
                    await self._return()
            except _NOT_YET as exc:
                log.debug("redis still unreachable: %s", exc)
            except Exception:  # the ledger's flush (PostgreSQL down too): try again
                log.exception("could not bring the shared counters up to date; retrying")

    async def _return(self) -> None:
        """Redis answers again: bring its counters up to date, then use them."""
        new = await self._shared_call(self._shared.attach())
        if new:
            await self._new_epoch()
        while self._pending:  # in order, as if never cut off (new ones may join meanwhile)
            names, delta, carry = self._pending[0]
            await self._shared_call(self._shared.add(names, delta, carry))
            del self._pending[0]
        self._local.clear()
        self._allowance.clear()
        down = time.time() - (self.stats.down_since or time.time())
        self.stats.down_since = None
        log.warning(
            "Redis is back after %.1f s: shared counters in use again (%s)",
            down,
            "it came back empty: counters re-seeded from the ledger" if new else "changes replayed",
        )

    async def _reattach_or_down(self) -> bool:
        """Redis came back empty while this replica was not looking: re-attach (True), or
        it is gone again (an outage begins; False)."""
        try:
            async with self._attach_lock:
                if await self._shared_call(self._shared.attach()):
                    await self._new_epoch()
        except UNREACHABLE as exc:
            self._down(exc)
            return False
        return True

    async def _new_epoch(self) -> None:
        """Redis lost the counters. What this replica changed there is gone with them:
        settled reservations are in the ledger (flushed now; the new counters are seeded
        from it, `RESEED_DELAY_S` on), open ones go to the carries. What changes from here
        on (in `_pending`) is replayed on top."""
        self.stats.new_epochs += 1
        opened, self._pending = list(self._open.items()), []
        try:
            await self._flush_ledger()
            for (names, amount), count in opened:
                await self._shared_call(self._shared.add(names, amount * count, amount * count))
        except BaseException:
            # cut off half-way: the next attach must find the epoch new again and re-add
            # them all (those added already then count twice: over, never under)
            self._shared.epoch = ""
            raise

    async def _shared_call(self, call: Awaitable[T], within: float | None = _CALL_TIMEOUT_S) -> T:
        """One call to Redis, bounded: a Redis that hangs is as down as one that is gone."""
        async with asyncio.timeout(within):
            return await call

    async def aclose(self) -> None:
        if self._reconnector is not None:
            self._reconnector.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._reconnector
        if self._listener is not None:
            await self._listener.aclose()
        await self._shared.aclose()
        await self._listen_client.aclose()


class _Watch:
    """The key cache as the revocation listener sees it, telling the counters too: the
    listener is the first to notice Redis leave and come back."""

    def __init__(self, keys: KeyCache, counters: GuardedCounters) -> None:
        self._keys = keys
        self._counters = counters

    def forget(self, key_id: str) -> None:
        self._keys.forget(key_id)

    def distrust(self) -> None:
        self._keys.distrust()
        self._counters.note_lost()

    async def resync(self) -> None:
        await self._keys.resync()
        await self._counters.note_back()
