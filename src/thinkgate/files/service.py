"""What the `/v1/files` and `/v1/vector_stores` handlers call: ownership checks, limits,
and the side effects that go with a change (the chunk index, storage use, ingestion)."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any

import anyio

from thinkgate.config_files import FilesConfig
from thinkgate.errors import InvalidRequestError, NotFoundError, PayloadTooLargeError
from thinkgate.files.access import (
    FileRecord,
    VectorStoreRecord,
    file_record,
    owned_vector_store,
    store_record,
)
from thinkgate.files.extraction import ExtractionError, extract_text
from thinkgate.files.ingestion import Ingestion
from thinkgate.files.rows import VectorStoreRow
from thinkgate.files.store import FileStore, Holdings
from thinkgate.files.usage import StorageUsage
from thinkgate.files.vectors import NewFile, VectorStores
from thinkgate.retrieval.index import ChunkIndex
from thinkgate.store.database import Database

log = logging.getLogger(__name__)


@dataclass(slots=True)
class FileService:
    database: Database
    config: FilesConfig
    files: FileStore
    stores: VectorStores
    usage: StorageUsage
    index: ChunkIndex
    ingestion: Ingestion

    async def _accrue(self, owner: str) -> None:
        """Storage use moves on; a failure here must not undo the change it follows."""
        try:
            await self.usage.accrue(owner)
        except Exception:
            log.warning("storage use of %s not accrued", owner, exc_info=True)

    # ---- files ----

    async def upload(
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
        if size == 0:
            raise InvalidRequestError("The file is empty.", param="file", code="empty_file")
        if size > self.config.max_file_bytes:
            raise PayloadTooLargeError(
                f"The file is {size} bytes; the limit is {self.config.max_file_bytes} bytes.",
                param="file",
                code="file_too_large",
            )
        config = self.config
        await self._check_holdings(
            await self.files.holdings(owner),
            size,
            config.max_files_per_owner,
            config.max_bytes_per_owner,
            "Your files",
        )
        if key_id is not None and (
            config.max_files_per_key is not None or config.max_bytes_per_key is not None
        ):
            await self._check_holdings(
                await self.files.holdings(owner, key_id),
                size,
                config.max_files_per_key,
                config.max_bytes_per_key,
                "The files of this API key",
            )
        record = await self.files.create(
            read,
            size=size,
            owner=owner,
            key_id=key_id,
            filename=filename,
            purpose=purpose,
            expires_after_seconds=expires_after_seconds,
        )
        await self._accrue(owner)
        return record

    @staticmethod
    async def _check_holdings(
        held: Holdings, size: int, max_files: int | None, max_bytes: int | None, whose: str
    ) -> None:
        if max_files is not None and held.files + 1 > max_files:
            raise InvalidRequestError(
                f"{whose} have reached the limit of {max_files} files; delete some first.",
                param="file",
                code="file_count_limit_exceeded",
            )
        if max_bytes is not None and held.bytes + size > max_bytes:
            raise InvalidRequestError(
                f"{whose} would take more than {max_bytes} bytes; delete some first.",
                param="file",
                code="storage_limit_exceeded",
            )

    async def owned_file(self, owner: str, file_id: str, *, param: str = "file_id") -> FileRecord:
        record = await file_record(self.database, owner, file_id)
        if record is None:
            raise NotFoundError(f"No such File object: {file_id}", param=param, code="not_found")
        return record

    async def delete_file(self, owner: str, file_id: str) -> None:
        await self.owned_file(owner, file_id)
        await self._delete_file(file_id, owner)

    async def _delete_file(self, file_id: str, owner: str) -> None:
        for store_id in await self.files.delete(file_id):
            await self.index.remove(store_id, file_id)
        await self._accrue(owner)

    async def sweep_expired(self) -> None:
        for file_id, owner in await self.files.expired():
            await self._delete_file(file_id, owner)

    # ---- vector stores ----

    async def owned_store(self, owner: str, store_id: str) -> VectorStoreRecord:
        record = await owned_vector_store(self.database, owner, store_id)
        if record is None:
            raise NotFoundError(
                f"No vector store found with id '{store_id}'.",
                param="vector_store_id",
                code="not_found",
            )
        return record

    async def new_files(
        self, owner: str, entries: Sequence[NewFile], param: str
    ) -> Sequence[NewFile]:
        """The entries (a file named twice: its last entry), once each file is found to
        be the caller's."""
        unique = list({entry.file_id: entry for entry in entries}.values())
        for entry in unique:
            await self.owned_file(owner, entry.file_id, param=param)
        return unique

    async def create_store(
        self, owner: str, *, files: Sequence[NewFile], **fields: Any
    ) -> VectorStoreRecord:
        files = await self.new_files(owner, files, "file_ids")
        record = await self.stores.create(owner, files=files, **fields)
        if files:
            self.ingestion.kick()
        return record

    async def delete_store(self, owner: str, store_id: str) -> None:
        await self.owned_store(owner, store_id)
        await self.stores.delete(store_id)
        await self.index.drop_store(store_id)
        await self._accrue(owner)

    async def add_files(
        self,
        owner: str,
        store_id: str,
        entries: Sequence[NewFile],
        *,
        param: str,
        batch_id: str | None = None,
    ) -> None:
        await self.owned_store(owner, store_id)
        entries = await self.new_files(owner, entries, param)
        await self.stores.add_files(store_id, entries, batch_id=batch_id)
        self.ingestion.kick()

    async def remove_file(self, owner: str, store_id: str, file_id: str) -> bool:
        await self.owned_store(owner, store_id)
        removed = await self.stores.remove_file(store_id, file_id)
        if removed:
            await self.index.remove(store_id, file_id)
            await self._accrue(owner)
        return removed

    async def set_attributes(
        self, owner: str, store_id: str, file_id: str, attributes: dict[str, Any] | None
    ) -> Any:
        await self.owned_store(owner, store_id)
        row = await self.stores.set_attributes(store_id, file_id, attributes)
        if row is not None and row.status == "completed":
            await self.index.set_attributes(store_id, file_id, attributes or {})
        return row

    async def file_text(self, row: Any) -> str | None:
        """A vector store file's extracted text, extracted again (nothing extra is kept)."""
        record = await file_record(self.database, await self._store_owner(row), row.file_id)
        if record is None:
            return None
        data = await self.files.read_all(record.id)
        try:
            return await anyio.to_thread.run_sync(
                extract_text, data, record.filename, self.ingestion.limits
            )
        except ExtractionError:
            return None

    async def _store_owner(self, row: Any) -> str:
        store = await self.stores_record(row.vector_store_id)
        return store.owner if store is not None else ""

    async def stores_record(self, store_id: str) -> VectorStoreRecord | None:
        async with self.database.session() as session:
            found = await session.get(VectorStoreRow, store_id)
            return store_record(found) if found is not None else None
