"""The RAM tier: LRU under a byte budget, with idle eviction (`in_memory` retention)."""

from __future__ import annotations

import logging
from collections import OrderedDict

from thinkgate.cache.index import Entry, PrefixIndex
from thinkgate.cache.stats import CacheStats

log = logging.getLogger(__name__)


class RamTier:
    """Not thread-safe: `PromptCache` holds its lock around every call."""

    def __init__(self, budget: int, idle_seconds: float, stats: CacheStats) -> None:
        self._budget = budget
        self._idle = idle_seconds
        self._stats = stats
        self._entries: OrderedDict[str, Entry] = OrderedDict()
        self._index = PrefixIndex()
        self._bytes = 0
        stats.ram_budget_bytes = budget

    def find(self, digests: list[bytes], now: float) -> tuple[int, Entry] | None:
        found = self._index.deepest(digests)
        if found is None:
            return None
        depth, ids = found
        entry = self._entries[ids[0]]
        entry.last_used = now
        self._entries.move_to_end(entry.id)
        return depth, entry

    def get(self, entry_id: str) -> Entry | None:
        return self._entries.get(entry_id)

    def touch(self, entry_id: str, now: float) -> bool:
        entry = self._entries.get(entry_id)
        if entry is None:
            return False
        entry.last_used = now
        self._entries.move_to_end(entry_id)
        return True

    def put(self, entry: Entry) -> bool:
        """Insert, evicting least recently used entries; an entry above the budget is refused."""
        assert entry.state is not None
        if entry.size > self._budget:
            return False
        self._drop(entry.id)
        while self._bytes + entry.size > self._budget and self._entries:
            oldest = next(iter(self._entries.values()))
            self._drop(oldest.id)
            self._stats.evictions_ram_budget += 1
            log.debug(
                "prompt cache: RAM budget evicted %s (%d tokens)",
                oldest.id[:12],
                len(oldest.tokens),
            )
        self._entries[entry.id] = entry
        self._index.add(entry)
        self._bytes += entry.size
        self._update_stats()
        return True

    def sweep(self, now: float) -> None:
        """Drop entries idle longer than the idle time (LRU order: stop at the first fresh one)."""
        while self._entries:
            oldest = next(iter(self._entries.values()))
            if now - oldest.last_used < self._idle:
                break
            self._drop(oldest.id)
            self._stats.evictions_ram_idle += 1
            log.debug("prompt cache: RAM idle evicted %s", oldest.id[:12])

    def _drop(self, entry_id: str) -> None:
        entry = self._entries.pop(entry_id, None)
        if entry is not None:
            self._index.remove(entry)
            self._bytes -= entry.size
            self._update_stats()

    def _update_stats(self) -> None:
        self._stats.ram_entries = len(self._entries)
        self._stats.ram_bytes = self._bytes
        self._stats.ram_bytes_peak = max(self._stats.ram_bytes_peak, self._bytes)
