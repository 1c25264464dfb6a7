"""API keys: generated with `secrets`, shown once, stored as SHA-256, compared in constant time.

SHA-256 (not a slow password hash) is right here: keys are 256 random bits, so
there is nothing to brute-force, and every request must verify one quickly.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

from thinkgate.store.keys import KeyRepository

KEY_PREFIX = "sk-tg-"
_INDEX_CHARS = 16


def generate_key() -> str:
    return KEY_PREFIX + secrets.token_urlsafe(32)


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


def display_prefix(key: str) -> str:
    return key[:10]


def mask_key(key: str) -> str:
    """What an error message may show of a presented key: never the whole of it."""
    if len(key) <= 8:
        return "*" * len(key)
    return f"{key[:3]}***{key[-4:]}"


class KeyRing:
    """Active key hashes held in memory, so authenticating costs no database round trip."""

    def __init__(self, repository: KeyRepository) -> None:
        self._repository = repository
        self._by_slice: dict[str, tuple[str, str]] = {}

    async def refresh(self) -> None:
        hashes = await self._repository.active_hashes()
        self._by_slice = {h[:_INDEX_CHARS]: (h, key_id) for h, key_id in hashes.items()}

    async def create(self, name: str, *, is_admin: bool = False, key: str | None = None) -> str:
        """Store a new key (or a given one) and return it: the only time it is seen."""
        secret = key or generate_key()
        key_hash = hash_key(secret)
        if key_hash[:_INDEX_CHARS] not in self._by_slice:
            key_id = "key_" + secrets.token_hex(12)
            await self._repository.add(
                key_id=key_id,
                name=name,
                key_hash=key_hash,
                prefix=display_prefix(secret),
                is_admin=is_admin,
            )
            self._by_slice[key_hash[:_INDEX_CHARS]] = (key_hash, key_id)
        return secret

    def authenticate(self, presented: str) -> str | None:
        """The key id for a presented key, or None.

        The in-memory index is keyed by a short slice of the hash (not a secret); the
        full hash is then compared with `hmac.compare_digest`.
        """
        presented_hash = hash_key(presented)
        candidate = self._by_slice.get(presented_hash[:_INDEX_CHARS])
        if candidate is None:
            return None
        stored_hash, key_id = candidate
        return key_id if hmac.compare_digest(stored_hash, presented_hash) else None

    async def has_admin(self) -> bool:
        return await self._repository.has_admin()
