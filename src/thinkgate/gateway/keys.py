"""API keys: generated with `secrets`, shown once, stored as peppered SHA-256, compared in
constant time, cached in memory.

SHA-256 (not a slow password hash) is right here: keys are 256 random bits, so there is
nothing to brute-force, and every request must verify one quickly. The pepper (HMAC key)
lives outside the database, so a leaked table alone cannot even confirm a guessed key.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import hashlib
import hmac
import logging
import os
import secrets
import time
from collections.abc import Awaitable, Callable
from dataclasses import replace
from pathlib import Path

from thinkgate.errors import ServiceUnavailableError
from thinkgate.store.keys import KeyRecord, KeyRepository

log = logging.getLogger(__name__)

KEY_PREFIX = "sk-tg-"
_INDEX_CHARS = 16
PEPPER_FILE = "key_pepper"
# The backstop for a replica that missed a revocation's announcement (Redis lost and not yet
# resubscribed, or a CLI revocation without Redis): the longest it can keep a revoked key.
# Short enough to bound that exposure to half a minute; long enough that re-reading every
# active key (one indexed query per replica) costs nothing measurable.
REFRESH_INTERVAL_S = 30.0

Announce = Callable[[str], Awaitable[None]]  # key id → returns once every replica forgot it


def generate_key() -> str:
    return KEY_PREFIX + secrets.token_urlsafe(32)


def hash_key(key: str, pepper: bytes) -> str:
    """HMAC-SHA256 under the pepper; the keyed state is made once and copied (per request)."""
    mac = _keyed_hmac(pepper).copy()
    mac.update(key.encode("utf-8"))
    return mac.hexdigest()


@functools.lru_cache(maxsize=8)
def _keyed_hmac(pepper: bytes) -> hmac.HMAC:
    return hmac.new(pepper, digestmod=hashlib.sha256)


def load_pepper(configured: str | None, data_dir: Path) -> bytes:
    """THINKGATE_KEY_PEPPER if set (replicas must share it), else a secret file made once."""
    if configured:
        return configured.encode("utf-8")
    path = data_dir / PEPPER_FILE
    if not path.exists():
        data_dir.mkdir(parents=True, exist_ok=True)
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "w") as handle:
            handle.write(secrets.token_hex(32))
    return path.read_text().strip().encode("utf-8")


def display_prefix(key: str) -> str:
    return key[:10]


def mask_key(key: str) -> str:
    """What an error message may show of a presented key: never the whole of it."""
    if len(key) <= 8:
        return "*" * len(key)
    return f"{key[:3]}***{key[-4:]}"


class KeyRing:
    """Active keys held in memory, so authenticating costs no database round trip.

    A key unknown here is looked up in the database (another replica may have made it).
    Revoking writes the database first, then drops the key here (`forget`), then has every
    other replica drop it (`announce`, which returns once they have). Requests in flight
    cannot undo that: `forget` moves the epoch on, and a database read overtaken by an
    epoch change (it may have read the row before the revocation committed) is read again
    instead of cached. While this replica may miss announcements (Redis lost: `distrust`
    until `resync`) every key is read from the database; `refresh` every
    REFRESH_INTERVAL_S is the backstop for an announcement lost without anyone noticing.

        revoke: DB commit ──▶ forget (epoch += 1) ──▶ announce ──▶ other rings forget
        lookup: epoch e ──▶ read row ──▶ epoch still e? cache it : read again
    """

    def __init__(self, repository: KeyRepository, pepper: bytes) -> None:
        self._repository = repository
        self._pepper = pepper
        self._by_slice: dict[str, KeyRecord] = {}
        self._epoch = 0
        self._trusted = True  # False: announcements may be missed, read every key anew
        self._announce: Announce = _nobody
        self._refresher: asyncio.Task[None] | None = None

    def announce_with(self, announce: Announce) -> None:
        """How a revocation reaches the other replicas (Redis); unset, there are none."""
        self._announce = announce

    async def refresh(self) -> None:
        """Cache exactly the keys the database holds active (dropping any revoked)."""
        while True:
            epoch = self._epoch
            records = await self._repository.active()
            if epoch == self._epoch:
                break
        self._by_slice = {r.key_hash[:_INDEX_CHARS]: r for r in records}

    def distrust(self) -> None:
        """Revocations may go unannounced here from now on (Redis lost): until `resync`,
        a cached key is read again from the database on every request."""
        self._trusted = False

    async def resync(self) -> None:
        """Announcements reach this replica again: reload the cache, then trust it."""
        await self.refresh()
        self._trusted = True

    def start_refreshing(self, interval_s: float = REFRESH_INTERVAL_S) -> None:
        self._refresher = asyncio.create_task(self._refresh_every(interval_s), name="key refresh")

    async def create(self, template: KeyRecord, *, key: str | None = None) -> tuple[str, KeyRecord]:
        """Store a new key (or a given one) and return it: the only time it is seen.

        `template` carries everything but the secret's hash and prefix.
        """
        secret = key or generate_key()
        key_hash = hash_key(secret, self._pepper)
        existing = self._by_slice.get(key_hash[:_INDEX_CHARS])
        if existing is not None and existing.key_hash == key_hash:
            return secret, existing
        record = replace(template, key_hash=key_hash, prefix=display_prefix(secret))
        epoch = self._epoch
        await self._repository.add(record)
        if epoch == self._epoch:  # else it may be revoked already: a request will look it up
            self._by_slice[key_hash[:_INDEX_CHARS]] = record
        return secret, record

    async def authenticate(self, presented: str) -> KeyRecord | None:
        """The key's record for a presented key (revoked ones: None).

        The in-memory index is keyed by a short slice of the hash (not a secret); the
        full hash is then compared with `hmac.compare_digest`.
        """
        presented_hash = hash_key(presented, self._pepper)
        candidate = self._by_slice.get(presented_hash[:_INDEX_CHARS])
        if candidate is None:
            if presented.startswith(KEY_PREFIX):
                candidate = await self._load(presented_hash)
        elif not self._trusted:
            candidate = await self._load(presented_hash)
        if candidate is None or not hmac.compare_digest(candidate.key_hash, presented_hash):
            return None
        return candidate

    def forget(self, key_id: str) -> None:
        """Drop a revoked key, and have every database read still in flight read again.

        Called once the revocation is committed (here, or announced by another replica),
        so a read that starts after this sees the key revoked.
        """
        self._epoch += 1
        for index, record in list(self._by_slice.items()):
            if record.id == key_id:
                del self._by_slice[index]

    async def revoke(self, key_id: str) -> bool:
        """Revoke a key everywhere; once this returns no replica accepts it (one that
        did not confirm in time is logged, and drops it at its next refresh).

        Every path (admin API, console, CLI) comes here. A key already revoked is
        forgotten and announced again, which mends a replica that missed it.
        """
        revoked = await self._repository.revoke(key_id)
        self.forget(key_id)
        try:
            await self._announce(key_id)
        except Exception as exc:  # Redis down: revoked here and in the database only
            log.exception("revocation of %s committed but not announced", key_id)
            raise ServiceUnavailableError(
                "The key is revoked in the database and on this replica, but the others "
                f"could not be told; they refuse it within {REFRESH_INTERVAL_S:.0f} s. "
                "Retry to announce it again."
            ) from exc
        return revoked

    async def has_admin(self) -> bool:
        return await self._repository.has_admin()

    async def aclose(self) -> None:
        if self._refresher is not None:
            self._refresher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._refresher

    async def _load(self, key_hash: str) -> KeyRecord | None:
        """An uncached key from the database, cached if active (see the class docstring)."""
        while True:
            epoch = self._epoch
            record = await self._repository.by_hash(key_hash)
            if epoch == self._epoch:
                break
        index = key_hash[:_INDEX_CHARS]
        if record is None or record.revoked_at is not None:
            cached = self._by_slice.get(index)
            if cached is not None and cached.key_hash == key_hash:
                del self._by_slice[index]
            return None
        self._by_slice[index] = record
        return record

    async def _refresh_every(self, interval_s: float) -> None:
        while True:
            await asyncio.sleep(interval_s)
            try:
                await self.refresh()
            except Exception:
                log.warning("key cache refresh failed; next try in %s s", interval_s, exc_info=True)


async def _nobody(key_id: str) -> None:
    return None


def new_key_id() -> str:
    return "key_" + secrets.token_hex(12)


def now() -> int:
    return int(time.time())
