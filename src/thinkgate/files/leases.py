"""Ingestion's work items are `vector_store_files` rows `in_progress`; a replica takes
one by a conditional UPDATE (its lease: `lease_owner`, `lease_until`), renews the lease
while it works, and settles the row only while the lease is still its own. No queue to
keep in step with the rows: a row whose owner died is taken again once its lease lapses;
a row cancelled or removed meanwhile is simply not settled (and its chunks dropped)."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from sqlalchemy import and_, or_, select, update

from thinkgate.files.rows import FileRow, VectorStoreFileRow, VectorStoreRow
from thinkgate.store.database import Database

_CANDIDATES = 8


@dataclass(frozen=True, slots=True)
class WorkItem:
    vector_store_id: str
    file_id: str
    filename: str
    owner: str
    chunking: dict[str, Any]
    attributes: dict[str, Any]
    attempts: int


class Leases:
    def __init__(self, database: Database, owner: str, lease_seconds: float) -> None:
        self._db = database
        self.owner = owner
        self.lease_seconds = lease_seconds

    def _row(self, store_id: str, file_id: str) -> Any:
        return and_(
            VectorStoreFileRow.vector_store_id == store_id, VectorStoreFileRow.file_id == file_id
        )

    def _mine(self, store_id: str, file_id: str) -> Any:
        return and_(
            self._row(store_id, file_id),
            VectorStoreFileRow.status == "in_progress",
            VectorStoreFileRow.lease_owner == self.owner,
        )

    async def claim(self) -> WorkItem | None:
        """The oldest unleased (or lapsed) file in progress, now leased to this replica."""
        now = time.time()
        free = or_(VectorStoreFileRow.lease_until.is_(None), VectorStoreFileRow.lease_until < now)
        async with self._db.session() as session:
            candidates = (
                await session.execute(
                    select(VectorStoreFileRow.vector_store_id, VectorStoreFileRow.file_id)
                    .where(VectorStoreFileRow.status == "in_progress", free)
                    .order_by(VectorStoreFileRow.created_ns)
                    .limit(_CANDIDATES)
                )
            ).all()
        for store_id, file_id in candidates:
            async with self._db.session() as session, session.begin():
                result = await session.execute(
                    update(VectorStoreFileRow)
                    .where(
                        self._row(store_id, file_id),
                        VectorStoreFileRow.status == "in_progress",
                        free,
                    )
                    .values(
                        lease_owner=self.owner,
                        lease_until=now + self.lease_seconds,
                        attempts=VectorStoreFileRow.attempts + 1,
                    )
                )
                if getattr(result, "rowcount", 0) != 1:
                    continue  # another replica took it first
                item = await self._item(session, store_id, file_id)
            if item is not None:
                return item
        return None

    async def _item(self, session: Any, store_id: str, file_id: str) -> WorkItem | None:
        row = await session.get(VectorStoreFileRow, (store_id, file_id))
        store = await session.get(VectorStoreRow, store_id)
        file = await session.get(FileRow, file_id)
        if row is None or store is None:
            return None
        if file is None:  # deleted since it was added: nothing to ingest
            row.status = "failed"
            row.last_error = {"code": "invalid_file", "message": "The file was deleted."}
            row.lease_owner = row.lease_until = None
            return None
        return WorkItem(
            vector_store_id=store_id,
            file_id=file_id,
            filename=file.filename,
            owner=store.owner,
            chunking=dict(row.chunking),
            attributes=dict(row.attributes or {}),
            attempts=row.attempts,
        )

    async def renew(self, item: WorkItem) -> bool:
        """False: the row is no longer this replica's to settle (cancelled, removed)."""
        async with self._db.session() as session, session.begin():
            result = await session.execute(
                update(VectorStoreFileRow)
                .where(self._mine(item.vector_store_id, item.file_id))
                .values(lease_until=time.time() + self.lease_seconds)
            )
        return getattr(result, "rowcount", 0) == 1

    async def settle(
        self,
        item: WorkItem,
        status: str,
        *,
        usage_bytes: int = 0,
        error: dict[str, str] | None = None,
    ) -> dict[str, Any] | None:
        """Store the outcome if the lease is still ours; returns the row's attributes
        then (they may have changed while it was ingested), None if it was not ours."""
        async with self._db.session() as session, session.begin():
            result = await session.execute(
                update(VectorStoreFileRow)
                .where(self._mine(item.vector_store_id, item.file_id))
                .values(
                    status=status,
                    usage_bytes=usage_bytes,
                    last_error=error,
                    lease_owner=None,
                    lease_until=None,
                )
            )
            if getattr(result, "rowcount", 0) != 1:
                return None
            row = await session.get(VectorStoreFileRow, (item.vector_store_id, item.file_id))
            return dict(row.attributes or {}) if row is not None else {}

    async def release(self, item: WorkItem, *, retry_in: float | None = None) -> None:
        """Hand the row back: at shutdown (the attempt is not counted), or to be
        retried after `retry_in` seconds."""
        attempts = VectorStoreFileRow.attempts - (1 if retry_in is None else 0)
        until = None if retry_in is None else time.time() + retry_in
        async with self._db.session() as session, session.begin():
            await session.execute(
                update(VectorStoreFileRow)
                .where(self._mine(item.vector_store_id, item.file_id))
                .values(lease_owner=None, lease_until=until, attempts=attempts)
            )

    async def still_wanted(self, item: WorkItem) -> bool:
        """Whether the row is still there and in progress (re-added meanwhile, say)."""
        async with self._db.session() as session:
            row = await session.get(VectorStoreFileRow, (item.vector_store_id, item.file_id))
            return row is not None and row.status == "in_progress"

    async def recover(self) -> int:
        """One process alone on its database (SQLite): every lease is a dead process's."""
        async with self._db.session() as session, session.begin():
            result = await session.execute(
                update(VectorStoreFileRow)
                .where(
                    VectorStoreFileRow.status == "in_progress",
                    VectorStoreFileRow.lease_owner.is_not(None),
                )
                .values(lease_owner=None, lease_until=None)
            )
        return int(getattr(result, "rowcount", 0) or 0)
