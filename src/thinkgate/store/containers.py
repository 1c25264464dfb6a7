"""Stored containers and their files (rows only: the bytes are files on disk).

Every read takes the caller's owner id: another owner's container reads exactly as a
missing one (None), so the API answers 404 for both. A container idle longer than its
`idle_seconds` reads as `expired` (and is marked so) the moment anyone looks.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Generic, Literal, TypeVar

from sqlalchemy import BigInteger, ForeignKey, Integer, String, delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from thinkgate.store.database import Database
from thinkgate.store.tables import Base

Order = Literal["asc", "desc"]
T = TypeVar("T")


class ContainerRow(Base):
    __tablename__ = "containers"

    pk: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    id: Mapped[str] = mapped_column(String(80), unique=True)
    owner: Mapped[str] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(256))
    status: Mapped[str] = mapped_column(String(16))  # running | expired
    created_at: Mapped[int] = mapped_column(Integer)
    last_active_at: Mapped[int] = mapped_column(Integer)
    idle_seconds: Mapped[int] = mapped_column(Integer)
    expires_minutes: Mapped[int | None] = mapped_column(Integer, nullable=True)
    memory_limit: Mapped[str] = mapped_column(String(8))


class ContainerFileRow(Base):
    __tablename__ = "container_files"

    pk: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    id: Mapped[str] = mapped_column(String(80), unique=True)
    container_id: Mapped[str] = mapped_column(
        String(80), ForeignKey("containers.id", ondelete="CASCADE")
    )
    path: Mapped[str] = mapped_column(String(1024))  # /mnt/data/…
    bytes: Mapped[int] = mapped_column(BigInteger)
    source: Mapped[str] = mapped_column(String(16))  # user | assistant
    created_at: Mapped[int] = mapped_column(Integer)


@dataclass(slots=True, frozen=True)
class Page(Generic[T]):
    rows: list[T]
    has_more: bool


class ContainerRepository:
    def __init__(self, database: Database) -> None:
        self._db = database

    async def create(self, row: ContainerRow) -> ContainerRow:
        async with self._db.session() as session, session.begin():
            session.add(row)
        return row

    async def get(self, container_id: str, *, owner: str | None) -> ContainerRow | None:
        """The container if `owner` owns it (None: any owner), its expiry applied."""
        async with self._db.session() as session, session.begin():
            row = await session.scalar(select(ContainerRow).where(ContainerRow.id == container_id))
            if row is None or (owner is not None and row.owner != owner):
                return None
            _expire(row)
            return row

    async def page(
        self, owner: str, *, after: str | None, limit: int, order: Order, name: str | None
    ) -> Page[ContainerRow]:
        async with self._db.session() as session, session.begin():
            query = select(ContainerRow).where(ContainerRow.owner == owner)
            if name is not None:
                query = query.where(ContainerRow.name == name)
            if after is not None:
                anchor = await _pk(session, ContainerRow, after)
                if anchor is None:
                    return Page([], False)
                query = query.where(
                    ContainerRow.pk > anchor if order == "asc" else ContainerRow.pk < anchor
                )
            ordering = ContainerRow.pk.asc() if order == "asc" else ContainerRow.pk.desc()
            rows = list((await session.scalars(query.order_by(ordering).limit(limit + 1))).all())
            for row in rows:
                _expire(row)
        return Page(rows[:limit], len(rows) > limit)

    async def delete(self, container_id: str) -> None:
        async with self._db.session() as session, session.begin():
            await session.execute(
                delete(ContainerFileRow).where(ContainerFileRow.container_id == container_id)
            )
            await session.execute(delete(ContainerRow).where(ContainerRow.id == container_id))

    async def touch(self, container_id: str) -> None:
        async with self._db.session() as session, session.begin():
            await session.execute(
                update(ContainerRow)
                .where(ContainerRow.id == container_id, ContainerRow.status == "running")
                .values(last_active_at=int(time.time()))
            )

    async def expired_ids(self) -> list[str]:
        """Containers past their idle time, now marked `expired` (their files to remove)."""
        now = int(time.time())
        async with self._db.session() as session, session.begin():
            rows = (
                await session.scalars(select(ContainerRow).where(ContainerRow.status == "running"))
            ).all()
            gone = [row for row in rows if now - row.last_active_at > row.idle_seconds]
            for row in gone:
                row.status = "expired"
            ids = [row.id for row in gone]
            if ids:
                await session.execute(
                    delete(ContainerFileRow).where(ContainerFileRow.container_id.in_(ids))
                )
            return ids

    # --- files ------------------------------------------------------------------------

    async def add_file(self, row: ContainerFileRow) -> ContainerFileRow:
        async with self._db.session() as session, session.begin():
            session.add(row)
        return row

    async def files(self, container_id: str) -> list[ContainerFileRow]:
        async with self._db.session() as session:
            query = select(ContainerFileRow).where(ContainerFileRow.container_id == container_id)
            return list((await session.scalars(query.order_by(ContainerFileRow.pk))).all())

    async def list_files(
        self, container_id: str, *, after: str | None, limit: int, order: Order
    ) -> Page[ContainerFileRow]:
        async with self._db.session() as session:
            query = select(ContainerFileRow).where(ContainerFileRow.container_id == container_id)
            if after is not None:
                anchor = await _pk(session, ContainerFileRow, after)
                if anchor is None:
                    return Page([], False)
                pk = ContainerFileRow.pk
                query = query.where(pk > anchor if order == "asc" else pk < anchor)
            ordering = ContainerFileRow.pk.asc() if order == "asc" else ContainerFileRow.pk.desc()
            rows = list((await session.scalars(query.order_by(ordering).limit(limit + 1))).all())
        return Page(rows[:limit], len(rows) > limit)

    async def get_file(self, container_id: str, file_id: str) -> ContainerFileRow | None:
        async with self._db.session() as session:
            return await session.scalar(
                select(ContainerFileRow).where(
                    ContainerFileRow.container_id == container_id, ContainerFileRow.id == file_id
                )
            )

    async def update_file(self, file_id: str, size: int) -> None:
        async with self._db.session() as session, session.begin():
            await session.execute(
                update(ContainerFileRow).where(ContainerFileRow.id == file_id).values(bytes=size)
            )

    async def forget_files(self, container_id: str) -> None:
        async with self._db.session() as session, session.begin():
            await session.execute(
                delete(ContainerFileRow).where(ContainerFileRow.container_id == container_id)
            )

    async def delete_files(self, file_ids: list[str]) -> None:
        if not file_ids:
            return
        async with self._db.session() as session, session.begin():
            await session.execute(delete(ContainerFileRow).where(ContainerFileRow.id.in_(file_ids)))


def _expire(row: ContainerRow) -> None:
    if row.status == "running" and time.time() - row.last_active_at > row.idle_seconds:
        row.status = "expired"


async def _pk(
    session: AsyncSession, table: type[ContainerRow] | type[ContainerFileRow], row_id: str
) -> int | None:
    return await session.scalar(select(table.pk).where(table.id == row_id))
