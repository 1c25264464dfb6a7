"""Background ingestion: file bytes ─► text ─► chunks ─► the chunk index, then the
vector store file is `completed` (or `failed`, with `last_error`).

    claim (lease) ─► read ─► extract ─► chunk ─► index.add ─► settle completed
                        └── ExtractionError ─────────────────► settle failed
    restart: SQLite frees every lease at boot; PostgreSQL replicas take a lease over
    once it lapses (`job_lease_seconds`), so an interrupted file finishes after it.

A file is indexed whole or not at all (`ChunkIndex.add` is atomic) and marked completed
only after; a row cancelled or removed meanwhile is not settled and its chunks dropped.
Extraction and chunking run in worker threads; the event loop keeps serving.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable

import anyio

from thinkgate.config_files import FilesConfig
from thinkgate.files.chunking import Strategy, chunk_text
from thinkgate.files.extraction import ExtractionError, Limits, extract_text
from thinkgate.files.leases import Leases, WorkItem
from thinkgate.files.store import FileStore
from thinkgate.files.usage import StorageUsage
from thinkgate.retrieval.embedders import ModelUnavailable
from thinkgate.retrieval.index import ChunkIndex

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 3  # a file that kept killing its worker (or the process) fails after this
_POLL_SECONDS = 1.0
_SWEEP_SECONDS = 60.0


class Ingestion:
    def __init__(
        self,
        leases: Leases,
        files: FileStore,
        index: ChunkIndex,
        usage: StorageUsage,
        config: FilesConfig,
    ) -> None:
        self._leases = leases
        self._files = files
        self._index = index
        self._usage = usage
        self._workers = config.ingest_workers
        self.limits = Limits(
            max_text_chars=config.max_text_chars,
            max_unzipped_bytes=config.max_unzipped_bytes,
            max_pdf_pages=config.max_pdf_pages,
        )
        self._wake = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        self.sweep: Callable[[], Awaitable[None]] | None = None  # expired files (api sets it)

    async def start(self, *, alone: bool) -> None:
        """`alone`: this process is the database's only one (SQLite): free dead leases."""
        if self._workers == 0:
            return
        if alone and (freed := await self._leases.recover()):
            log.warning("resuming %d vector store file(s) left in progress", freed)
        self._tasks = [
            asyncio.create_task(self._work(), name=f"ingestion {n}") for n in range(self._workers)
        ]
        self._tasks.append(asyncio.create_task(self._sweeping(), name="file expiry"))

    def kick(self) -> None:
        """New work was stored: look now rather than at the next poll."""
        self._wake.set()

    async def aclose(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def _work(self) -> None:
        while True:
            try:
                item = await self._leases.claim()
            except Exception:
                log.warning("ingestion: could not claim work", exc_info=True)
                item = None
            if item is None:
                self._wake.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), _POLL_SECONDS)
                continue
            await self._ingest_leased(item)

    async def _ingest_leased(self, item: WorkItem) -> None:
        """One file, with its lease renewed until it is settled."""
        log.info(
            "ingesting %s into %s (attempt %d)", item.file_id, item.vector_store_id, item.attempts
        )
        renewing = asyncio.create_task(self._renew(item))
        try:
            await self._ingest(item)
        except asyncio.CancelledError:  # shutdown: the next start (or replica) resumes it
            with anyio.CancelScope(shield=True):
                await self._leases.release(item)
            raise
        except Exception as error:
            await self._failed_unexpectedly(item, error)
        finally:
            renewing.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await renewing

    async def _ingest(self, item: WorkItem) -> None:
        if item.attempts > MAX_ATTEMPTS:
            message = f"Processing the file was interrupted {MAX_ATTEMPTS} times."
            await self._settle(item, "failed", error={"code": "server_error", "message": message})
            return
        data = await self._files.read_all(item.file_id)
        try:
            text = await anyio.to_thread.run_sync(
                extract_text, data, item.filename, self.limits, abandon_on_cancel=True
            )
        except ExtractionError as error:
            await self._settle(item, "failed", error={"code": error.code, "message": error.message})
            return
        del data
        strategy = Strategy.from_stored(item.chunking)
        chunks = await anyio.to_thread.run_sync(
            chunk_text,
            text,
            strategy,
            abandon_on_cancel=True,  # shutdown need not wait
        )
        try:
            await self._index.add(
                item.vector_store_id, item.file_id, item.filename, chunks, item.attributes
            )
        except ModelUnavailable as error:  # the store's model is not installed here
            await self._settle(
                item, "failed", error={"code": "server_error", "message": error.message}
            )
            return
        usage = sum(len(chunk.text.encode()) for chunk in chunks)
        await self._settle(item, "completed", usage_bytes=usage)

    async def _settle(
        self,
        item: WorkItem,
        status: str,
        *,
        usage_bytes: int = 0,
        error: dict[str, str] | None = None,
    ) -> None:
        attributes = await self._leases.settle(item, status, usage_bytes=usage_bytes, error=error)
        if attributes is None:  # cancelled or removed meanwhile: drop what was indexed
            if not await self._leases.still_wanted(item):
                await self._index.remove(item.vector_store_id, item.file_id)
            return
        if status == "completed" and attributes != item.attributes:  # updated meanwhile
            await self._index.set_attributes(item.vector_store_id, item.file_id, attributes)
        if status == "completed":
            try:
                await self._usage.accrue(item.owner)
            except Exception:
                log.warning("storage use of %s not accrued", item.owner, exc_info=True)

    async def _failed_unexpectedly(self, item: WorkItem, error: Exception) -> None:
        """Our bug or the database: drop partial work, retry later, fail after a few."""
        log.error("ingestion of %s failed: %r", item.file_id, error, exc_info=error)
        try:
            await self._index.remove(item.vector_store_id, item.file_id)
            if item.attempts >= MAX_ATTEMPTS:
                message = "The server had an error while processing the file."
                await self._settle(
                    item, "failed", error={"code": "server_error", "message": message}
                )
            else:
                await self._leases.release(item, retry_in=2.0**item.attempts)
        except Exception:
            log.warning("ingestion: could not record the failure of %s", item.file_id)

    async def _renew(self, item: WorkItem) -> None:
        while True:
            await asyncio.sleep(self._leases.lease_seconds / 2)
            with contextlib.suppress(Exception):
                await self._leases.renew(item)

    async def _sweeping(self) -> None:
        while True:
            if self.sweep is not None:
                try:
                    await self.sweep()
                except Exception:
                    log.warning("expired files: sweep failed", exc_info=True)
            await asyncio.sleep(_SWEEP_SECONDS)
