"""Counters for the cache: read by `/v1/internal/cache` and by `/metrics` at scrape time."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any


@dataclass(slots=True)
class CacheStats:
    hits_ram: int = 0
    hits_disk: int = 0
    misses: int = 0
    cached_tokens: int = 0  # tokens restored instead of evaluated, all requests together
    stores: int = 0
    ram_entries: int = 0
    ram_bytes: int = 0
    ram_bytes_peak: int = 0  # the most the RAM tier ever held: never above its budget
    ram_budget_bytes: int = 0
    evictions_ram_budget: int = 0
    evictions_ram_idle: int = 0
    disk_entries: int = 0
    disk_bytes: int = 0
    disk_budget_bytes: int = 0
    disk_writes: int = 0
    evictions_disk_budget: int = 0
    evictions_disk_expired: int = 0
    disk_corrupt: int = 0  # unreadable, truncated or tampered files, removed
    disk_write_errors: int = 0  # writes that failed (disk full, I/O error): entry stays RAM-only

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)
