"""API keys: generated with `secrets`, shown once, stored as peppered SHA-256, compared in
constant time, cached in memory.

SHA-256 (not a slow password hash) is right here: keys are 256 random bits, so there is
nothing to brute-force, and every request must verify one quickly. The pepper (HMAC key)
lives outside the database, so a leaked table alone cannot even confirm a guessed key.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import os
import secrets
import time
from dataclasses import replace
from pathlib import Path

from thinkgate.store.keys import KeyRecord, KeyRepository

KEY_PREFIX = "sk-tg-"
_INDEX_CHARS = 16
PEPPER_FILE = "key_pepper"


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

    A key unknown here is looked up once in the database (another replica may have made
    it); `forget` drops a revoked key at once (the revoking replica tells the others).
    """

    def __init__(self, repository: KeyRepository, pepper: bytes) -> None:
        self._repository = repository
        self._pepper = pepper
        self._by_slice: dict[str, KeyRecord] = {}

    async def refresh(self) -> None:
        records = await self._repository.active()
        self._by_slice = {r.key_hash[:_INDEX_CHARS]: r for r in records}

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
        await self._repository.add(record)
        self._by_slice[key_hash[:_INDEX_CHARS]] = record
        return secret, record

    async def authenticate(self, presented: str) -> KeyRecord | None:
        """The key's record for a presented key (revoked ones: None).

        The in-memory index is keyed by a short slice of the hash (not a secret); the
        full hash is then compared with `hmac.compare_digest`.
        """
        presented_hash = hash_key(presented, self._pepper)
        candidate = self._by_slice.get(presented_hash[:_INDEX_CHARS])
        if candidate is None and presented.startswith(KEY_PREFIX):
            candidate = await self._repository.by_hash(presented_hash)
            if candidate is None or candidate.revoked_at is not None:
                return None
            self._by_slice[presented_hash[:_INDEX_CHARS]] = candidate
        if candidate is None or not hmac.compare_digest(candidate.key_hash, presented_hash):
            return None
        return candidate

    def forget(self, key_id: str) -> None:
        for index, record in list(self._by_slice.items()):
            if record.id == key_id:
                del self._by_slice[index]

    async def revoke(self, key_id: str) -> bool:
        self.forget(key_id)
        return await self._repository.revoke(key_id)

    async def has_admin(self) -> bool:
        return await self._repository.has_admin()


def new_key_id() -> str:
    return "key_" + secrets.token_hex(12)


def now() -> int:
    return int(time.time())
