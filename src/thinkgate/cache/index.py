"""Entries and the digest index both tiers use to find the deepest shared prefix."""

from __future__ import annotations

from dataclasses import dataclass, field

from thinkgate.cache.prefix import Retention


@dataclass(slots=True)
class Entry:
    """The state after `tokens` (a whole number of chunks) under one namespace.

    `state` is None for a disk entry until it is read; `digests[k-1]` names the prefix of
    the first k chunks, and the last one names the entry itself.
    """

    model: str
    namespace: bytes
    chunk: int
    tokens: tuple[int, ...]
    digests: list[bytes]
    size: int
    retention: Retention
    last_used: float
    state: bytes | None = field(default=None, repr=False)

    @property
    def id(self) -> str:
        return self.digests[-1].hex()


class PrefixIndex:
    """digest of an aligned prefix → ids of the entries that start with it (newest last)."""

    def __init__(self) -> None:
        self._by_digest: dict[bytes, dict[str, None]] = {}

    def add(self, entry: Entry) -> None:
        for digest in entry.digests:
            holders = self._by_digest.setdefault(digest, {})
            holders.pop(entry.id, None)
            holders[entry.id] = None

    def remove(self, entry: Entry) -> None:
        for digest in entry.digests:
            holders = self._by_digest.get(digest)
            if holders is None:
                continue
            holders.pop(entry.id, None)
            if not holders:
                del self._by_digest[digest]

    def deepest(self, digests: list[bytes]) -> tuple[int, list[str]] | None:
        """(chunks shared, candidate ids newest first) for the longest indexed prefix."""
        for depth in range(len(digests), 0, -1):
            holders = self._by_digest.get(digests[depth - 1])
            if holders:
                return depth, list(reversed(holders))
        return None
