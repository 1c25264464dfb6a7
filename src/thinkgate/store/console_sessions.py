"""Console sign-in sessions at rest: the hash of the cookie's token, the user, the CSRF token.

A new password deletes the user's rows (`UserRepository.set_password_hash`, one transaction).
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import delete, func, select, update

from thinkgate.store.database import Database
from thinkgate.store.tables import ConsoleSessionRow


@dataclass(slots=True, frozen=True)
class SessionRecord:
    id: str  # SHA-256 of the cookie's token: a leaked table cannot be replayed as cookies
    user_id: str
    csrf_token: str
    created_at: int
    expires_at: int
    last_seen_at: int | None = None


class ConsoleSessionRepository:
    def __init__(self, database: Database) -> None:
        self._db = database

    async def add(self, record: SessionRecord) -> None:
        async with self._db.session() as session, session.begin():
            session.add(
                ConsoleSessionRow(
                    id=record.id,
                    user_id=record.user_id,
                    csrf_token=record.csrf_token,
                    created_at=record.created_at,
                    expires_at=record.expires_at,
                    last_seen_at=record.created_at,
                )
            )

    async def get(
        self, session_id: str, now: int, idle_s: int | None = None
    ) -> SessionRecord | None:
        """The session if it exists, has not expired and (`idle_s`) was used that recently."""
        seen = func.coalesce(ConsoleSessionRow.last_seen_at, ConsoleSessionRow.created_at)
        query = select(ConsoleSessionRow).where(
            ConsoleSessionRow.id == session_id, ConsoleSessionRow.expires_at > now
        )
        if idle_s is not None:
            query = query.where(seen > now - idle_s)
        async with self._db.session() as session:
            row = await session.scalar(query)
        if row is None:
            return None
        return SessionRecord(
            row.id, row.user_id, row.csrf_token, row.created_at, row.expires_at, row.last_seen_at
        )

    async def touch(self, session_id: str, now: int) -> None:
        """Note the session's use (its idle clock restarts)."""
        async with self._db.session() as session, session.begin():
            await session.execute(
                update(ConsoleSessionRow)
                .where(ConsoleSessionRow.id == session_id)
                .values(last_seen_at=now)
            )

    async def delete(self, session_id: str) -> None:
        async with self._db.session() as session, session.begin():
            await session.execute(
                delete(ConsoleSessionRow).where(ConsoleSessionRow.id == session_id)
            )

    async def purge_expired(self, now: int) -> None:
        async with self._db.session() as session, session.begin():
            await session.execute(
                delete(ConsoleSessionRow).where(ConsoleSessionRow.expires_at <= now)
            )
