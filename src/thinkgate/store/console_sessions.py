"""Console sign-in sessions at rest: the hash of the cookie's token, the user, the CSRF token.

A new password deletes the user's rows (`UserRepository.set_password_hash`, one transaction).
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import delete, select

from thinkgate.store.database import Database
from thinkgate.store.tables import ConsoleSessionRow


@dataclass(slots=True, frozen=True)
class SessionRecord:
    id: str  # SHA-256 of the cookie's token: a leaked table cannot be replayed as cookies
    user_id: str
    csrf_token: str
    created_at: int
    expires_at: int


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
                )
            )

    async def get(self, session_id: str, now: int) -> SessionRecord | None:
        """The session if it exists and has not expired."""
        async with self._db.session() as session:
            row = await session.scalar(
                select(ConsoleSessionRow).where(
                    ConsoleSessionRow.id == session_id, ConsoleSessionRow.expires_at > now
                )
            )
        if row is None:
            return None
        return SessionRecord(row.id, row.user_id, row.csrf_token, row.created_at, row.expires_at)

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
