"""`PromptCache`: the two tiers behind one lock, and the disk writer.

A lookup walks the request's aligned-prefix digests in both tiers and takes the deeper
hit (RAM on a tie); a disk hit is read and verified outside the lock, then promoted to
RAM. A store lands in RAM at once; `24h` entries are also written to disk by one
background thread, so a request never waits for the disk.

A prompt shorter than one chunk has no aligned prefix to keep; its whole state is kept
instead as an exact entry (RAM only, found only by an equal prompt), so a repeated short
prompt is served from the cache too.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Literal

from thinkgate.cache.disk import CorruptEntry, DiskTier
from thinkgate.cache.index import Entry
from thinkgate.cache.prefix import PrefixKey, Retention
from thinkgate.cache.ram import RamTier
from thinkgate.cache.stats import CacheStats
from thinkgate.config import PromptCacheConfig

log = logging.getLogger(__name__)

TOKEN_BYTES = 4  # what an entry's token list costs on top of its state


@dataclass(slots=True, frozen=True)
class CachedPrefix:
    """A hit: `state` holds the first `entry_tokens` tokens; restore it and keep `tokens`."""

    tokens: int
    entry_tokens: int
    state: bytes
    tier: Literal["ram", "disk"]
    exact: bool = False  # the state after the whole prompt (`exact_lookup`)


class PromptCache:
    def __init__(
        self,
        config: PromptCacheConfig,
        root: Path,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.config = config
        self.stats = CacheStats()
        self._clock = clock
        self._lock = threading.Lock()
        self._ram = RamTier(config.ram_budget_bytes, config.idle_seconds, self.stats)
        self._disk = DiskTier(root, config.disk_budget_bytes, config.disk_ttl_seconds, self.stats)
        self._writer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="prompt-cache-disk")
        self._pending: set[str] = set()

    def key(self, model: str, fingerprint: str, cache_key: str | None) -> PrefixKey:
        return PrefixKey.of(model, fingerprint, self.config.chunk_tokens, cache_key)

    def lookup(self, key: PrefixKey, tokens: Sequence[int]) -> CachedPrefix | None:
        """The longest cached aligned prefix of `tokens` that leaves at least one token to
        evaluate (the first output token needs fresh logits); for a prompt shorter than
        one chunk, its exact entry (the engine keeps those logits with the state)."""
        exact = self.exact_lookup(key, tokens)
        if exact is not None:
            return exact
        digests = key.boundary_digests(tokens, limit=len(tokens) - 1)
        for _ in range(3):  # a corrupt disk file is dropped and the lookup tried again
            with self._lock:
                self._ram.sweep(self._clock())
                hit = self._find(digests)
            if hit is None:
                break
            depth, entry, tier = hit
            kept = depth * key.chunk
            if entry.tokens[:kept] != tuple(tokens[:kept]):
                log.warning("prompt cache: digest collision on %s; ignored", entry.id[:12])
                break
            state = entry.state if tier == "ram" else self._read_disk(entry)
            if state is None:
                continue
            with self._lock:
                self._count_hit(tier, kept)
            log.debug(
                "prompt cache: %s hit %s, %d of %d tokens", tier, entry.id[:12], kept, len(tokens)
            )
            return CachedPrefix(kept, len(entry.tokens), state, tier)
        with self._lock:
            self.stats.misses += 1
        log.debug("prompt cache: miss (%d tokens)", len(tokens))
        return None

    def exact_lookup(self, key: PrefixKey, tokens: Sequence[int]) -> CachedPrefix | None:
        """The exact entry of a prompt shorter than one chunk (`store_exact`), if any."""
        if not tokens or len(tokens) >= key.chunk:
            return None
        entry_id = key.exact_digest(tokens).hex()
        with self._lock:
            now = self._clock()
            self._ram.sweep(now)
            entry = self._ram.get(entry_id)
            if entry is None or entry.state is None or entry.tokens != tuple(tokens):
                return None
            self._ram.touch(entry_id, now)
            self._count_hit("ram", len(tokens))
        log.debug("prompt cache: exact hit %s, %d tokens", entry_id[:12], len(tokens))
        return CachedPrefix(len(tokens), len(tokens), entry.state, "ram", exact=True)

    def wants_exact(self, key: PrefixKey, tokens: Sequence[int]) -> bool:
        """Whether an exact entry for this short prompt would be new (refreshes one that is not)."""
        if not tokens or len(tokens) >= key.chunk:
            return False
        with self._lock:
            return not self._ram.touch(key.exact_digest(tokens).hex(), self._clock())

    def store_exact(self, key: PrefixKey, tokens: Sequence[int], state: bytes) -> None:
        """Keep the state after exactly `tokens` (shorter than a chunk), in RAM only: a
        short prompt is cheap to evaluate again after a restart."""
        entry = Entry(
            model=key.model,
            namespace=key.namespace,
            chunk=key.chunk,
            tokens=tuple(tokens),
            digests=[key.exact_digest(tokens)],
            size=len(state) + TOKEN_BYTES * len(tokens),
            retention="in_memory",
            last_used=self._clock(),
            state=state,
        )
        with self._lock:
            self._ram.sweep(entry.last_used)
            kept = self._ram.put(entry)
            self.stats.stores += 1
        log.debug("prompt cache: stored exact %s (%d tokens, in RAM: %s)", entry.id[:12],
                  len(tokens), kept)  # fmt: skip

    def wants(self, key: PrefixKey, tokens: Sequence[int], retention: Retention) -> bool:
        """Whether a store of this prefix would add anything; refreshes what exists."""
        if not tokens:
            return False
        entry_id = key.boundary_digests(tokens)[-1].hex()
        with self._lock:
            in_ram = self._ram.touch(entry_id, self._clock())
            if retention == "in_memory":
                return not in_ram
            if self._disk.has(entry_id) or entry_id in self._pending:
                self._disk.touch(entry_id)
                return not in_ram
            ram_entry = self._ram.get(entry_id)
        if ram_entry is not None and ram_entry.state is not None:
            self._write_later(replace(ram_entry, retention="24h"), ram_entry.state)
            return False
        return True

    def store(
        self, key: PrefixKey, tokens: Sequence[int], state: bytes, retention: Retention
    ) -> None:
        """Keep the state after `tokens` (a whole number of chunks)."""
        entry = Entry(
            model=key.model,
            namespace=key.namespace,
            chunk=key.chunk,
            tokens=tuple(tokens),
            digests=key.boundary_digests(tokens),
            size=len(state) + TOKEN_BYTES * len(tokens),
            retention=retention,
            last_used=self._clock(),
            state=state,
        )
        with self._lock:
            self._ram.sweep(entry.last_used)
            kept = self._ram.put(entry)
            self.stats.stores += 1
            pending = retention == "24h" and not self._disk.has(entry.id)
        log.debug(
            "prompt cache: stored %s (%d tokens, %d bytes, %s, in RAM: %s)",
            entry.id[:12], len(tokens), entry.size, retention, kept,
        )  # fmt: skip
        if pending:
            self._write_later(entry, state)

    def snapshot(self) -> dict[str, Any]:
        """Counters after dropping idle entries (what the debug endpoint shows)."""
        with self._lock:
            self._ram.sweep(self._clock())
            self._disk.sweep()
            return {**self.stats.to_dict(), "disk_pending": len(self._pending)}

    def close(self) -> None:
        """Finish pending disk writes (a `24h` entry must survive a clean shutdown)."""
        self._writer.shutdown(wait=True)

    # --- internals --------------------------------------------------------------------

    def _find(self, digests: list[bytes]) -> tuple[int, Entry, Literal["ram", "disk"]] | None:
        in_ram = self._ram.find(digests, self._clock())
        on_disk = self._disk.find(digests)
        if in_ram is not None and (on_disk is None or in_ram[0] >= on_disk[0]):
            return in_ram[0], in_ram[1], "ram"
        if on_disk is not None:
            return on_disk[0], on_disk[1], "disk"
        return None

    def _read_disk(self, entry: Entry) -> bytes | None:
        """Read, verify and promote to RAM; a bad file is removed and counted."""
        try:
            state = self._disk.read_state(entry)
        except (OSError, CorruptEntry) as exc:
            log.warning("prompt cache: dropping bad disk entry %s: %s", entry.id[:12], exc)
            with self._lock:
                self._disk.forget(entry.id)
                self.stats.disk_corrupt += 1
            return None
        now = self._clock()
        with self._lock:
            self._disk.touch(entry.id)
            self._ram.put(
                replace(
                    entry,
                    state=state,
                    last_used=now,
                    size=len(state) + TOKEN_BYTES * len(entry.tokens),
                )
            )
        return state

    def _count_hit(self, tier: str, tokens: int) -> None:
        if tier == "ram":
            self.stats.hits_ram += 1
        else:
            self.stats.hits_disk += 1
        self.stats.cached_tokens += tokens

    def _write_later(self, entry: Entry, state: bytes) -> None:
        with self._lock:
            if entry.id in self._pending:
                return
            self._pending.add(entry.id)
        try:
            self._writer.submit(self._write, entry, state)
        except RuntimeError:  # shutting down: the entry stays RAM-only
            with self._lock:
                self._pending.discard(entry.id)

    def _write(self, entry: Entry, state: bytes) -> None:
        try:
            size = self._disk.write_file(entry, state)
        except OSError as exc:
            log.warning("prompt cache: cannot write %s: %s", entry.id[:12], exc)
            with self._lock:
                self._pending.discard(entry.id)
                self.stats.disk_write_errors += 1
            return
        with self._lock:
            self._pending.discard(entry.id)
            self._disk.add(
                replace(entry, state=None, size=size, last_used=time.time(), retention="24h")
            )
        log.debug("prompt cache: wrote %s to disk (%d bytes)", entry.id[:12], size)
