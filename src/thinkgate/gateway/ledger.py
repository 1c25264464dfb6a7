"""Ledger writes off the request path: buffered, flushed in batches, drained on shutdown.

A settled request only appends to a list; one task writes the batch (ledger rows, daily
roll-up, keys' last use) every `interval` seconds or sooner when the batch is large. The
observer (/metrics' token and cost counters) is told of new rows at each flush, or sooner
by `observe_pending()` (a scrape): not on the request path either.
`aclose()` writes whatever is left, so a clean stop loses nothing.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable

from thinkgate.store.ledger import LedgerEntry, LedgerRepository

log = logging.getLogger(__name__)


class LedgerWriter:
    def __init__(
        self,
        repository: LedgerRepository,
        *,
        interval: float = 0.25,
        batch: int = 500,
    ) -> None:
        self._repository = repository
        self._interval = interval
        self._batch = batch
        self._entries: list[LedgerEntry] = []
        self._unobserved: list[LedgerEntry] = []
        self._last_used: dict[str, int] = {}
        self._wake = asyncio.Event()
        self._lock = asyncio.Lock()
        self._task: asyncio.Task[None] | None = None
        self._closing = False
        self.observer: Callable[[LedgerEntry], None] | None = None  # /metrics counts here

    @property
    def pending(self) -> int:
        """Rows settled but not yet written (the ledger's queue depth)."""
        return len(self._entries)

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="ledger-writer")

    def add(self, entry: LedgerEntry) -> None:
        self._entries.append(entry)
        self._unobserved.append(entry)
        if len(self._entries) >= self._batch:
            self._wake.set()

    def observe_pending(self) -> None:
        """Tell the observer of every row added since the last call. A failing observer
        costs its counts, never the write that follows."""
        entries, self._unobserved = self._unobserved, []
        if self.observer is None:
            return
        try:
            for entry in entries:
                self.observer(entry)
        except Exception:
            log.exception("the ledger's observer failed; %d rows not counted", len(entries))

    def touch(self, key_id: str, when: int) -> None:
        self._last_used[key_id] = when

    async def flush(self) -> None:
        """Write everything buffered so far (also called before reading the ledger)."""
        self.observe_pending()
        async with self._lock:
            entries, self._entries = self._entries, []
            last_used, self._last_used = self._last_used, {}
            # Shielded: a caller cancelled mid-write (client gone, shutdown) must not drop
            # the batch it took out of the buffer.
            await asyncio.shield(self._write(entries, last_used))

    async def _write(self, entries: list[LedgerEntry], last_used: dict[str, int]) -> None:
        try:
            await self._repository.write(entries, last_used)
        except Exception:
            log.exception("ledger write failed; keeping %d rows for the next try", len(entries))
            self._entries[:0] = entries
            for key_id, when in last_used.items():
                self._last_used.setdefault(key_id, when)
            raise

    async def aclose(self) -> None:
        """Stop the writer without cancelling it (a cancel in the middle of a batch write
        would drop that batch), then write what is left."""
        if self._task is not None:
            self._closing = True
            self._wake.set()
            await self._task
        await self.flush()

    async def _run(self) -> None:
        while not self._closing:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self._interval)
            self._wake.clear()
            if self._entries or self._last_used:
                with contextlib.suppress(Exception):
                    await self.flush()
