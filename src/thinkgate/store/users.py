"""Users: who owns keys, and whether they may administer the gateway."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select

from thinkgate.store.database import Database
from thinkgate.store.tables import UserRow


@dataclass(slots=True, frozen=True)
class UserRecord:
    id: str
    name: str
    role: str
    created_at: int


class UserRepository:
    def __init__(self, database: Database) -> None:
        self._db = database

    async def add(self, user: UserRecord, password_hash: str | None = None) -> None:
        async with self._db.session() as session, session.begin():
            session.add(
                UserRow(
                    id=user.id,
                    name=user.name,
                    role=user.role,
                    password_hash=password_hash,
                    created_at=user.created_at,
                )
            )

    async def get(self, user_id: str) -> UserRecord | None:
        async with self._db.session() as session:
            row = await session.get(UserRow, user_id)
            return None if row is None else _record(row)

    async def listing(self) -> list[UserRecord]:
        async with self._db.session() as session:
            rows = await session.scalars(select(UserRow).order_by(UserRow.created_at))
            return [_record(row) for row in rows]


def _record(row: UserRow) -> UserRecord:
    return UserRecord(id=row.id, name=row.name, role=row.role, created_at=row.created_at)
