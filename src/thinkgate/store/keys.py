"""API keys at rest: peppered hashes, a short display prefix, the owner and the key's limits."""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from sqlalchemy import Table, bindparam, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from thinkgate.store.database import Database
from thinkgate.store.tables import ApiKeyRow, UserRow

_API_KEYS: Table = ApiKeyRow.__table__  # type: ignore[assignment]  # declared as a Table
_TOUCH = (
    update(_API_KEYS)
    .where(_API_KEYS.c.id == bindparam("key"))
    .values(last_used_at=bindparam("when"))
)


async def touch_keys(session: AsyncSession, last_used: Mapping[str, int]) -> None:
    """Keys' last use, in the caller's transaction: one executemany, compiled once."""
    if last_used:
        params = [{"key": key_id, "when": when} for key_id, when in last_used.items()]
        await session.execute(_TOUCH, params)


@dataclass(slots=True, frozen=True)
class KeyRecord:
    """A key as the gateway checks it on every request (never the key itself)."""

    id: str
    name: str
    key_hash: str
    prefix: str
    user_id: str | None
    role: str  # the owner's role: "admin" | "member"
    created_at: int
    expires_at: int | None = None
    last_used_at: int | None = None
    revoked_at: int | None = None
    models: tuple[str, ...] | None = None
    budget_usd: Decimal | None = None
    budget_monthly_usd: Decimal | None = None
    rpm: int | None = None
    tpm: int | None = None
    ip_allow: tuple[str, ...] | None = None

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"


class KeyRepository:
    def __init__(self, database: Database) -> None:
        self._db = database

    async def add(self, record: KeyRecord) -> None:
        async with self._db.session() as session, session.begin():
            session.add(
                ApiKeyRow(
                    id=record.id,
                    name=record.name,
                    key_hash=record.key_hash,
                    prefix=record.prefix,
                    is_admin=record.is_admin,
                    created_at=record.created_at,
                    user_id=record.user_id,
                    expires_at=record.expires_at,
                    models=list(record.models) if record.models is not None else None,
                    budget_usd=_text(record.budget_usd),
                    budget_monthly_usd=_text(record.budget_monthly_usd),
                    rpm=record.rpm,
                    tpm=record.tpm,
                    ip_allow=list(record.ip_allow) if record.ip_allow is not None else None,
                )
            )

    async def active(self) -> list[KeyRecord]:
        """Every key not revoked, with its owner's role."""
        return await self._select(ApiKeyRow.revoked_at.is_(None))

    async def by_hash(self, key_hash: str) -> KeyRecord | None:
        found = await self._select(ApiKeyRow.key_hash == key_hash)
        return found[0] if found else None

    async def get(self, key_id: str) -> KeyRecord | None:
        found = await self._select(ApiKeyRow.id == key_id)
        return found[0] if found else None

    async def listing(self, user_id: str | None = None) -> list[KeyRecord]:
        return await self._select(None if user_id is None else ApiKeyRow.user_id == user_id)

    async def revoke(self, key_id: str) -> bool:
        async with self._db.session() as session, session.begin():
            result = await session.execute(
                update(ApiKeyRow)
                .where(ApiKeyRow.id == key_id, ApiKeyRow.revoked_at.is_(None))
                .values(revoked_at=int(time.time()))
            )
            return bool(getattr(result, "rowcount", 0))

    async def has_admin(self) -> bool:
        async with self._db.session() as session:
            found = await session.scalar(
                select(func.count())
                .select_from(ApiKeyRow)
                .join(UserRow, UserRow.id == ApiKeyRow.user_id)
                .where(UserRow.role == "admin", ApiKeyRow.revoked_at.is_(None))
            )
            return bool(found)

    async def _select(self, where: Any) -> list[KeyRecord]:
        query = select(ApiKeyRow, UserRow.role).outerjoin(UserRow, UserRow.id == ApiKeyRow.user_id)
        if where is not None:
            query = query.where(where)
        async with self._db.session() as session:
            rows = (await session.execute(query.order_by(ApiKeyRow.created_at))).all()
        return [_record(row, role) for row, role in rows]


def _record(row: ApiKeyRow, role: str | None) -> KeyRecord:
    return KeyRecord(
        id=row.id,
        name=row.name,
        key_hash=row.key_hash,
        prefix=row.prefix,
        user_id=row.user_id,
        role=role or ("admin" if row.is_admin else "member"),
        created_at=row.created_at,
        expires_at=row.expires_at,
        last_used_at=row.last_used_at,
        revoked_at=row.revoked_at,
        models=tuple(row.models) if row.models is not None else None,
        budget_usd=Decimal(row.budget_usd) if row.budget_usd is not None else None,
        budget_monthly_usd=(
            Decimal(row.budget_monthly_usd) if row.budget_monthly_usd is not None else None
        ),
        rpm=row.rpm,
        tpm=row.tpm,
        ip_allow=tuple(row.ip_allow) if row.ip_allow is not None else None,
    )


def _text(value: Decimal | None) -> str | None:
    return None if value is None else str(value)
