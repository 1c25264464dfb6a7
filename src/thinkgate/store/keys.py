"""API keys at rest: only SHA-256 hashes and a short display prefix are stored."""

from __future__ import annotations

import time

from sqlalchemy import select

from thinkgate.store.database import Database
from thinkgate.store.tables import ApiKeyRow


class KeyRepository:
    def __init__(self, database: Database) -> None:
        self._db = database

    async def add(
        self, *, key_id: str, name: str, key_hash: str, prefix: str, is_admin: bool
    ) -> None:
        async with self._db.session() as session, session.begin():
            session.add(
                ApiKeyRow(
                    id=key_id,
                    name=name,
                    key_hash=key_hash,
                    prefix=prefix,
                    is_admin=is_admin,
                    created_at=int(time.time()),
                )
            )

    async def active_hashes(self) -> dict[str, str]:
        """hash → key id, for every key not revoked."""
        async with self._db.session() as session:
            rows = await session.execute(
                select(ApiKeyRow.key_hash, ApiKeyRow.id).where(ApiKeyRow.revoked_at.is_(None))
            )
            return {key_hash: key_id for key_hash, key_id in rows.all()}

    async def has_admin(self) -> bool:
        async with self._db.session() as session:
            found = await session.scalar(
                select(ApiKeyRow.id).where(ApiKeyRow.is_admin.is_(True)).limit(1)
            )
            return found is not None
