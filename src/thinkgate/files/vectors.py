"""Vector stores, their files and file batches: rows in, OpenAI-shaped values out.

A vector store file's status is the truth ingestion works from:

    add ─► in_progress ─► completed | failed        (ingestion, `files/ingestion.py`)
               └── batch cancel ─► cancelled
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import delete, func, select, update

from thinkgate.files.access import VectorStoreRecord, storable, store_record
from thinkgate.files.paging import paged
from thinkgate.files.rows import FileBatchRow, VectorStoreFileRow, VectorStoreRow
from thinkgate.ids import new_id
from thinkgate.store.database import Database

STATUSES = ("in_progress", "completed", "failed", "cancelled")
UNSET: Any = object()


@dataclass(frozen=True, slots=True)
class NewFile:
    file_id: str
    attributes: dict[str, Any] | None
    chunking: dict[str, Any]


def counts(by_status: dict[str, int]) -> dict[str, int]:
    shown = {status: by_status.get(status, 0) for status in STATUSES}
    return {**shown, "total": sum(shown.values())}


class VectorStores:
    def __init__(self, database: Database, embedding_model: str = "wordllama-l2-256") -> None:
        self._db = database
        self._model = embedding_model  # new stores' (`[files] embedding_model`)

    async def create(
        self,
        owner: str,
        *,
        name: str,
        description: str | None,
        metadata: dict[str, str] | None,
        expires_after_days: int | None,
        files: Sequence[NewFile],
    ) -> VectorStoreRecord:
        now_ns = time.time_ns()
        now = now_ns // 1_000_000_000
        row = VectorStoreRow(
            id=new_id("vs"),
            owner=owner,
            name=name,
            description=description,
            created_at=now,
            created_ns=now_ns,
            last_active_at=now,
            metadata_=metadata,
            expires_after_days=expires_after_days,
            embedding_model=self._model,
        )
        async with self._db.session() as session, session.begin():
            session.add(row)
            await session.flush()
            for n, entry in enumerate(files):
                session.add(_file_row(row.id, entry, None, now_ns + n))
        return store_record(row)

    async def page(
        self, owner: str, *, after: str | None, before: str | None, limit: int, order: str
    ) -> tuple[list[VectorStoreRecord], bool]:
        async with self._db.session() as session:
            keys = [await self._store_key(session, owner, cursor) for cursor in (after, before)]
            query = paged(
                select(VectorStoreRow).where(VectorStoreRow.owner == owner),
                VectorStoreRow.created_ns, VectorStoreRow.id,
                after=keys[0], before=keys[1], order=order, limit=limit,
            )  # fmt: skip
            rows = (await session.scalars(query)).all()
        return [store_record(row) for row in rows[:limit]], len(rows) > limit

    @staticmethod
    async def _store_key(session: Any, owner: str, cursor: str | None) -> tuple[int, str] | None:
        row = await session.get(VectorStoreRow, cursor) if cursor and storable(cursor) else None
        return (row.created_ns, row.id) if row is not None and row.owner == owner else None

    async def update(
        self,
        store_id: str,
        *,
        name: Any = UNSET,
        metadata: Any = UNSET,
        expires_after_days: Any = UNSET,
    ) -> VectorStoreRecord | None:
        async with self._db.session() as session, session.begin():
            row = await session.get(VectorStoreRow, store_id)
            if row is None:
                return None
            if name is not UNSET and name is not None:
                row.name = name
            if metadata is not UNSET:
                row.metadata_ = metadata
            if expires_after_days is not UNSET:
                row.expires_after_days = expires_after_days
            row.last_active_at = int(time.time())
            return store_record(row)

    async def delete(self, store_id: str) -> None:
        async with self._db.session() as session, session.begin():
            for table in (VectorStoreFileRow, FileBatchRow):
                await session.execute(delete(table).where(table.vector_store_id == store_id))
            await session.execute(delete(VectorStoreRow).where(VectorStoreRow.id == store_id))

    async def summary(self, store_ids: Sequence[str]) -> dict[str, tuple[dict[str, int], int]]:
        """Per store: its `file_counts` and `usage_bytes` (completed files)."""
        found: dict[str, dict[str, int]] = {store_id: {} for store_id in store_ids}
        usage = dict.fromkeys(store_ids, 0)
        if not store_ids:
            return {}
        async with self._db.session() as session:
            rows = await session.execute(
                select(
                    VectorStoreFileRow.vector_store_id,
                    VectorStoreFileRow.status,
                    func.count(),
                    func.coalesce(func.sum(VectorStoreFileRow.usage_bytes), 0),
                )
                .where(VectorStoreFileRow.vector_store_id.in_(store_ids))
                .group_by(VectorStoreFileRow.vector_store_id, VectorStoreFileRow.status)
            )
            for store_id, status, count, used in rows:
                found[store_id][status] = int(count)
                if status == "completed":
                    usage[store_id] += int(used)
        return {store_id: (counts(found[store_id]), usage[store_id]) for store_id in store_ids}

    # ---- files of a store ----

    async def add_files(
        self, store_id: str, entries: Sequence[NewFile], *, batch_id: str | None = None
    ) -> None:
        """Attach files (again: a file already there is re-ingested with the new settings)."""
        now_ns = time.time_ns()
        async with self._db.session() as session, session.begin():
            if batch_id is not None:
                created = now_ns // 1_000_000_000
                session.add(FileBatchRow(id=batch_id, vector_store_id=store_id, created_at=created))
            for n, entry in enumerate(entries):
                await session.merge(_file_row(store_id, entry, batch_id, now_ns + n))

    async def file(self, store_id: str, file_id: str) -> VectorStoreFileRow | None:
        if not storable(file_id):
            return None
        async with self._db.session() as session:
            return await session.get(VectorStoreFileRow, (store_id, file_id))

    async def files_page(
        self,
        store_id: str,
        *,
        batch_id: str | None = None,
        status: str | None,
        after: str | None,
        before: str | None,
        limit: int,
        order: str,
    ) -> tuple[list[VectorStoreFileRow], bool]:
        query = select(VectorStoreFileRow).where(VectorStoreFileRow.vector_store_id == store_id)
        if batch_id is not None:
            query = query.where(VectorStoreFileRow.batch_id == batch_id)
        if status is not None:
            query = query.where(VectorStoreFileRow.status == status)
        async with self._db.session() as session:
            keys = []
            for cursor in (after, before):
                row = (
                    await session.get(VectorStoreFileRow, (store_id, cursor))
                    if cursor and storable(cursor)
                    else None
                )
                keys.append((row.created_ns, row.file_id) if row is not None else None)
            query = paged(
                query, VectorStoreFileRow.created_ns, VectorStoreFileRow.file_id,
                after=keys[0], before=keys[1], order=order, limit=limit,
            )  # fmt: skip
            rows = (await session.scalars(query)).all()
        return list(rows[:limit]), len(rows) > limit

    async def set_attributes(
        self, store_id: str, file_id: str, attributes: dict[str, Any] | None
    ) -> VectorStoreFileRow | None:
        async with self._db.session() as session, session.begin():
            row = await session.get(VectorStoreFileRow, (store_id, file_id))
            if row is not None:
                row.attributes = attributes
            return row

    async def remove_file(self, store_id: str, file_id: str) -> bool:
        async with self._db.session() as session, session.begin():
            result = await session.execute(
                delete(VectorStoreFileRow).where(
                    VectorStoreFileRow.vector_store_id == store_id,
                    VectorStoreFileRow.file_id == file_id,
                )
            )
        return bool(getattr(result, "rowcount", 0))

    # ---- batches ----

    async def batch(self, store_id: str, batch_id: str) -> FileBatchRow | None:
        if not storable(batch_id):
            return None
        async with self._db.session() as session:
            row = await session.get(FileBatchRow, batch_id)
        return row if row is not None and row.vector_store_id == store_id else None

    async def batch_counts(self, batch_id: str) -> dict[str, int]:
        async with self._db.session() as session:
            rows = await session.execute(
                select(VectorStoreFileRow.status, func.count())
                .where(VectorStoreFileRow.batch_id == batch_id)
                .group_by(VectorStoreFileRow.status)
            )
            return counts({status: int(count) for status, count in rows})

    async def cancel_batch(self, batch_id: str) -> None:
        """The batch's files not yet done are cancelled (an ingestion under way drops
        what it indexed when it finds its row no longer in progress)."""
        async with self._db.session() as session, session.begin():
            await session.execute(
                update(FileBatchRow).where(FileBatchRow.id == batch_id).values(cancelled=True)
            )
            await session.execute(
                update(VectorStoreFileRow)
                .where(
                    VectorStoreFileRow.batch_id == batch_id,
                    VectorStoreFileRow.status == "in_progress",
                )
                .values(status="cancelled", lease_owner=None, lease_until=None)
            )


def _file_row(
    store_id: str, entry: NewFile, batch_id: str | None, now_ns: int
) -> VectorStoreFileRow:
    return VectorStoreFileRow(
        vector_store_id=store_id,
        file_id=entry.file_id,
        created_at=now_ns // 1_000_000_000,
        created_ns=now_ns,
        status="in_progress",
        last_error=None,
        usage_bytes=0,
        attributes=entry.attributes,
        chunking=entry.chunking,
        batch_id=batch_id,
        lease_owner=None,
        lease_until=None,
        attempts=0,
    )
