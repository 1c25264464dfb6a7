"""Users: who owns keys, and whether they may administer the gateway."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select, update

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

    async def by_login(self, login: str) -> tuple[UserRecord, str | None] | None:
        """A user and their password hash, by id or by a name no other user has."""
        async with self._db.session() as session:
            row = await session.get(UserRow, login)
            if row is None:
                rows = list(await session.scalars(select(UserRow).where(UserRow.name == login)))
                row = rows[0] if len(rows) == 1 else None
            return None if row is None else (_record(row), row.password_hash)

    async def set_password_hash(self, user_id: str, password_hash: str) -> bool:
        async with self._db.session() as session, session.begin():
            result = await session.execute(
                update(UserRow).where(UserRow.id == user_id).values(password_hash=password_hash)
            )
            return bool(getattr(result, "rowcount", 0))


def _record(row: UserRow) -> UserRecord:
    return UserRecord(id=row.id, name=row.name, role=row.role, created_at=row.created_at)
