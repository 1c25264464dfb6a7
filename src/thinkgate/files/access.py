"""Who may see what: a vector store or a file, read only through its owner.

What other packages (search, the `file_search` tool) use to check the stores and files a
caller names: None means "not found" to the caller, whether it is missing or another
user's, so an id of someone else's reveals nothing.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import TypeVar

from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession

from thinkgate.files.rows import FileRow, VectorStoreRow
from thinkgate.store.database import Database

DAY = 86_400


def storable(identifier: str) -> bool:
    """PostgreSQL text cannot hold NUL: an id with one names nothing (not a 500)."""
    return "\x00" not in identifier


@dataclass(frozen=True, slots=True)
class VectorStoreRecord:
    id: str
    owner: str
    name: str
    description: str | None
    created_at: int
    last_active_at: int
    metadata: dict[str, str] | None
    expires_after_days: int | None

    @property
    def expires_at(self) -> int | None:
        if self.expires_after_days is None:
            return None
        return self.last_active_at + self.expires_after_days * DAY

    def expired(self, now: float | None = None) -> bool:
        expires_at = self.expires_at
        return expires_at is not None and expires_at <= (time.time() if now is None else now)


@dataclass(frozen=True, slots=True)
class FileRecord:
    id: str
    owner: str
    filename: str
    purpose: str
    bytes: int
    created_at: int
    expires_at: int | None


def store_record(row: VectorStoreRow) -> VectorStoreRecord:
    return VectorStoreRecord(
        id=row.id,
        owner=row.owner,
        name=row.name,
        description=row.description,
        created_at=row.created_at,
        last_active_at=row.last_active_at,
        metadata=dict(row.metadata_) if row.metadata_ is not None else None,
        expires_after_days=row.expires_after_days,
    )


def file_from_row(row: FileRow) -> FileRecord:
    return FileRecord(
        id=row.id,
        owner=row.owner,
        filename=row.filename,
        purpose=row.purpose,
        bytes=row.bytes,
        created_at=row.created_at,
        expires_at=row.expires_at,
    )


async def owned_vector_store(
    session_or_store: AsyncSession | Database, owner: str, vector_store_id: str
) -> VectorStoreRecord | None:
    """The store if it exists and is `owner`'s; None otherwise (either way: a 404)."""
    row = await _owned(session_or_store, VectorStoreRow, owner, vector_store_id)
    return None if row is None else store_record(row)


async def file_record(
    session_or_store: AsyncSession | Database, owner: str, file_id: str
) -> FileRecord | None:
    """The file if it exists, is `owner`'s and has not expired; None otherwise."""
    row = await _owned(session_or_store, FileRow, owner, file_id)
    if row is None or (row.expires_at is not None and row.expires_at <= time.time()):
        return None
    return file_from_row(row)


_Owned = TypeVar("_Owned", VectorStoreRow, FileRow)


async def _owned(
    session_or_store: AsyncSession | Database, kind: type[_Owned], owner: str, row_id: str
) -> _Owned | None:
    """The row of that id if `owner`'s, in the caller's session or a new one."""
    if not storable(row_id):
        return None
    if isinstance(session_or_store, Database):
        async with session_or_store.session() as session:
            return await _owned(session, kind, owner, row_id)
    row = await session_or_store.get(kind, row_id)
    return row if row is not None and row.owner == owner else None


async def touch_vector_store(database: Database, vector_store_id: str) -> None:
    """A search used the store: `last_active_at` moves on (its expiry is counted from it)."""
    async with database.session() as session, session.begin():
        await session.execute(
            update(VectorStoreRow)
            .where(VectorStoreRow.id == vector_store_id)
            .values(last_active_at=int(time.time()))
        )
