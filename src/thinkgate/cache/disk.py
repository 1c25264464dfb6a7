"""The disk tier (`24h` retention): one file per entry under the data dir.

File layout (little-endian), written to a temporary name then renamed, so a reader
sees a whole file or none:

    magic "TGPC" | version u16 | chunk u16 | model length u16 | namespace 32B
    | token count u32 | created f64 | state length u64 | sha256 32B      (fixed header)
    | model id (utf-8) | tokens (u32 each) | state                         (payload)

The sha256 covers the payload. The index is rebuilt from the headers at start; a
payload is verified when it is read, and a file that fails any check is removed and
counted, never raised into a request.
"""

from __future__ import annotations

import hashlib
import logging
import os
import struct
import time
from pathlib import Path

from thinkgate.cache.index import Entry, PrefixIndex
from thinkgate.cache.prefix import PrefixKey, tokens_from_bytes, tokens_to_bytes
from thinkgate.cache.stats import CacheStats

log = logging.getLogger(__name__)

MAGIC = b"TGPC"
VERSION = 1
HEADER = struct.Struct("<4sHHH32sIdQ32s")
SUFFIX = ".kv"


class CorruptEntry(Exception):
    """A cache file that cannot be trusted."""


class DiskTier:
    """Index and files. Not thread-safe except `write_file`/`read_state`, which only do I/O."""

    def __init__(self, root: Path, budget: int, ttl_seconds: float, stats: CacheStats) -> None:
        self._root = root
        self._budget = budget
        self._ttl = ttl_seconds
        self._stats = stats
        self._entries: dict[str, Entry] = {}
        self._index = PrefixIndex()
        self._bytes = 0
        stats.disk_budget_bytes = budget
        root.mkdir(parents=True, exist_ok=True)
        self._rebuild()

    # --- index (under the cache's lock) ---------------------------------------------

    def find(self, digests: list[bytes]) -> tuple[int, Entry] | None:
        found = self._index.deepest(digests)
        if found is None:
            return None
        depth, ids = found
        return depth, self._entries[ids[0]]

    def has(self, entry_id: str) -> bool:
        return entry_id in self._entries

    def add(self, entry: Entry) -> None:
        self.forget(entry.id, remove_file=False)
        self._entries[entry.id] = entry
        self._index.add(entry)
        self._bytes += entry.size
        self._stats.disk_writes += 1
        self._enforce_budget()
        self._update_stats()

    def touch(self, entry_id: str) -> None:
        entry = self._entries.get(entry_id)
        if entry is None:
            return
        entry.last_used = time.time()
        try:
            os.utime(self._path(entry_id))
        except OSError:
            self.forget(entry_id)

    def forget(self, entry_id: str, *, remove_file: bool = True) -> None:
        entry = self._entries.pop(entry_id, None)
        if entry is not None:
            self._index.remove(entry)
            self._bytes -= entry.size
            self._update_stats()
        if remove_file:
            self._path(entry_id).unlink(missing_ok=True)

    def sweep(self) -> None:
        """Remove entries past their retention (24 h from the last use by default)."""
        cutoff = time.time() - self._ttl
        for entry in [e for e in self._entries.values() if e.last_used < cutoff]:
            self.forget(entry.id)
            self._stats.evictions_disk_expired += 1
            log.debug("prompt cache: disk entry %s expired", entry.id[:12])

    # --- file I/O (no shared state) ---------------------------------------------------

    def write_file(self, entry: Entry, state: bytes) -> int:
        """Write atomically; returns the file size."""
        model = entry.model.encode()
        payload_head = model + tokens_to_bytes(entry.tokens)
        digest = hashlib.sha256(payload_head)
        digest.update(state)
        header = HEADER.pack(
            MAGIC, VERSION, entry.chunk, len(model), entry.namespace, len(entry.tokens),
            time.time(), len(state), digest.digest(),
        )  # fmt: skip
        final = self._path(entry.id)
        temporary = final.with_name(f".{final.name}.{os.getpid()}.tmp")
        try:
            with temporary.open("wb") as handle:
                handle.write(header)
                handle.write(payload_head)
                handle.write(state)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(temporary, final)
        except OSError:  # disk full, I/O error: leave no partial file taking up the space
            temporary.unlink(missing_ok=True)
            raise
        return HEADER.size + len(payload_head) + len(state)

    def read_state(self, entry: Entry) -> bytes:
        """The verified state of `entry`; raises CorruptEntry (or OSError) when it is not."""
        data = self._path(entry.id).read_bytes()
        model, tokens, state_at, state_len, digest = _parse(data)
        if tokens != entry.tokens or model != entry.model:
            raise CorruptEntry("the file no longer holds the indexed prefix")
        if hashlib.sha256(memoryview(data)[HEADER.size :]).digest() != digest:
            raise CorruptEntry("checksum mismatch")
        return data[state_at : state_at + state_len]

    # --- start-up -------------------------------------------------------------------------

    def _rebuild(self) -> None:
        for stray in self._root.glob(".*.tmp"):
            stray.unlink(missing_ok=True)  # a write interrupted by a crash
        for path in sorted(self._root.glob(f"*{SUFFIX}")):
            try:
                entry = self._read_index_entry(path)
            except (OSError, CorruptEntry, struct.error, UnicodeDecodeError) as exc:
                log.warning("prompt cache: removing unreadable %s: %s", path.name, exc)
                self._stats.disk_corrupt += 1
                path.unlink(missing_ok=True)
                continue
            self._entries[entry.id] = entry
            self._index.add(entry)
            self._bytes += entry.size
        self.sweep()
        self._enforce_budget()
        self._update_stats()
        log.debug("prompt cache: %d disk entries (%d bytes)", len(self._entries), self._bytes)

    def _read_index_entry(self, path: Path) -> Entry:
        """Header and tokens only: the payload is checked when it is used."""
        size = path.stat().st_size
        with path.open("rb") as handle:
            fixed = handle.read(HEADER.size)
            magic, version, chunk, model_len, namespace, n_tokens, _, state_len, _ = HEADER.unpack(
                fixed
            )
            if magic != MAGIC or version != VERSION:
                raise CorruptEntry("not a thinkgate cache file of this version")
            if size != HEADER.size + model_len + 4 * n_tokens + state_len:
                raise CorruptEntry("truncated or padded file")
            model = handle.read(model_len).decode()
            tokens = tokens_from_bytes(handle.read(4 * n_tokens))
        if not tokens or len(tokens) % chunk:
            raise CorruptEntry("token count is not a whole number of chunks")
        digests = PrefixKey(model, namespace, chunk).boundary_digests(tokens)
        if digests[-1].hex() + SUFFIX != path.name:
            raise CorruptEntry("file name does not match its prefix")
        return Entry(
            model=model, namespace=namespace, chunk=chunk, tokens=tokens, digests=digests,
            size=size, retention="24h", last_used=path.stat().st_mtime,
        )  # fmt: skip

    def _enforce_budget(self) -> None:
        """Oldest (least recently used) out first."""
        while self._bytes > self._budget and self._entries:
            oldest = min(self._entries.values(), key=lambda e: e.last_used)
            self.forget(oldest.id)
            self._stats.evictions_disk_budget += 1
            log.debug("prompt cache: disk budget evicted %s", oldest.id[:12])

    def _path(self, entry_id: str) -> Path:
        return self._root / f"{entry_id}{SUFFIX}"

    def _update_stats(self) -> None:
        self._stats.disk_entries = len(self._entries)
        self._stats.disk_bytes = self._bytes


def _parse(data: bytes) -> tuple[str, tuple[int, ...], int, int, bytes]:
    if len(data) < HEADER.size:
        raise CorruptEntry("truncated header")
    magic, version, _, model_len, _, n_tokens, _, state_len, digest = HEADER.unpack_from(data)
    if magic != MAGIC or version != VERSION:
        raise CorruptEntry("bad magic or version")
    state_at = HEADER.size + model_len + 4 * n_tokens
    if len(data) != state_at + state_len:
        raise CorruptEntry("truncated or padded file")
    try:
        model = data[HEADER.size : HEADER.size + model_len].decode()
    except UnicodeDecodeError as exc:
        raise CorruptEntry("bad model id") from exc
    tokens = tokens_from_bytes(data[HEADER.size + model_len : state_at])
    return model, tokens, state_at, state_len, digest
