"""Uploaded files: their rows, and their bytes as ≤1 MiB parts in the database, written
in one transaction (a file is all there or not at all) and read back part by part."""

from __future__ import annotations

import secrets
import string
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass

from sqlalchemy import delete, func, select

from thinkgate.files.access import FileRecord, file_from_row, storable
from thinkgate.files.paging import paged
from thinkgate.files.rows import FilePartRow, FileRow, VectorStoreFileRow
from thinkgate.store.database import Database

PART_BYTES = 1 << 20
_ALNUM = string.ascii_letters + string.digits


def new_file_id() -> str:
    """`file-` and 22 letters or digits, as OpenAI's."""
    return "file-" + "".join(secrets.choice(_ALNUM) for _ in range(22))


@dataclass(frozen=True, slots=True)
class Holdings:
    files: int
    bytes: int


@dataclass(frozen=True, slots=True)
class FilePage:
    files: list[FileRecord]
    has_more: bool


class FileStore:
    def __init__(self, database: Database) -> None:
        self._db = database

    async def holdings(self, owner: str, key_id: str | None = None) -> Holdings:
        """Files held by an owner (or, given `key_id`, uploaded with that key)."""
        held = FileRow.owner == owner if key_id is None else FileRow.key_id == key_id
        async with self._db.session() as session:
            row = (
                await session.execute(
                    select(func.count(), func.coalesce(func.sum(FileRow.bytes), 0)).where(held)
                )
            ).one()
        return Holdings(int(row[0]), int(row[1]))

    async def create(
        self,
        read: Callable[[int], Awaitable[bytes]],
        *,
        size: int,
        owner: str,
        key_id: str | None,
        filename: str,
        purpose: str,
        expires_after_seconds: int | None,
    ) -> FileRecord:
        """Store the bytes `read` gives (a spooled upload's reads, off the event loop)."""
        now_ns = time.time_ns()
        now = now_ns // 1_000_000_000
        row = FileRow(
            id=new_file_id(),
            owner=owner,
            key_id=key_id,
            filename=filename,
            purpose=purpose,
            bytes=size,
            created_at=now,
            created_ns=now_ns,
            expires_at=None if expires_after_seconds is None else now + expires_after_seconds,
        )
        async with self._db.session() as session, session.begin():
            session.add(row)
            await session.flush()
            part = 0
            while chunk := await read(PART_BYTES):
                session.add(FilePartRow(file_id=row.id, part=part, data=chunk))
                part += 1
                if part % 16 == 0:
                    await session.flush()  # at most 16 MiB held before it is sent
        return file_from_row(row)

    async def page(
        self, owner: str, *, purpose: str | None, after: str | None, limit: int, order: str
    ) -> FilePage:
        now = int(time.time())
        query = select(FileRow).where(
            FileRow.owner == owner, (FileRow.expires_at.is_(None)) | (FileRow.expires_at > now)
        )
        if purpose is not None:
            query = query.where(FileRow.purpose == purpose)
        async with self._db.session() as session:
            cursor = await session.get(FileRow, after) if after and storable(after) else None
            key = (cursor.created_ns, cursor.id) if cursor and cursor.owner == owner else None
            query = paged(
                query, FileRow.created_ns, FileRow.id,
                after=key, before=None, order=order, limit=limit,
            )  # fmt: skip
            rows = (await session.scalars(query)).all()
        return FilePage([file_from_row(row) for row in rows[:limit]], len(rows) > limit)

    async def content(self, file_id: str) -> AsyncIterator[bytes]:
        """The file's bytes, one part per step (one small query each)."""
        part = 0
        while True:
            async with self._db.session() as session:
                data = await session.scalar(
                    select(FilePartRow.data).where(
                        FilePartRow.file_id == file_id, FilePartRow.part == part
                    )
                )
            if data is None:
                return
            yield bytes(data)
            part += 1

    async def read_all(self, file_id: str) -> bytes:
        return b"".join([part async for part in self.content(file_id)])

    async def delete(self, file_id: str) -> list[str]:
        """Delete the file and its place in every vector store; returns those stores."""
        async with self._db.session() as session, session.begin():
            stores = list(
                (
                    await session.scalars(
                        select(VectorStoreFileRow.vector_store_id).where(
                            VectorStoreFileRow.file_id == file_id
                        )
                    )
                ).all()
            )
            await session.execute(
                delete(VectorStoreFileRow).where(VectorStoreFileRow.file_id == file_id)
            )
            await session.execute(delete(FilePartRow).where(FilePartRow.file_id == file_id))
            await session.execute(delete(FileRow).where(FileRow.id == file_id))
        return stores

    async def expired(self, limit: int = 100) -> list[tuple[str, str]]:
        """(file id, owner) of files past their `expires_at`, for the sweep to delete."""
        async with self._db.session() as session:
            rows = await session.execute(
                select(FileRow.id, FileRow.owner)
                .where(FileRow.expires_at.is_not(None), FileRow.expires_at <= int(time.time()))
                .limit(limit)
            )
            return [(row[0], row[1]) for row in rows]
