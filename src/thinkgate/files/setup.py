"""Opening files and vector stores at boot: the repositories, storage accounting, and
ingestion workers (started here; stopped, handing their files back, on shutdown)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from thinkgate.config import Settings
from thinkgate.files.ingestion import Ingestion
from thinkgate.files.leases import Leases
from thinkgate.files.service import FileService
from thinkgate.files.store import FileStore
from thinkgate.files.usage import StorageUsage
from thinkgate.files.vectors import VectorStores
from thinkgate.ids import replica_id
from thinkgate.retrieval.index import ChunkIndex
from thinkgate.store.database import Database


async def open_files(
    settings: Settings, database: Database, index: ChunkIndex
) -> tuple[FileService, Callable[[], Awaitable[None]]]:
    config = settings.files
    files = FileStore(database)
    usage = StorageUsage(database, config)
    leases = Leases(database, replica_id(settings.replica_id), settings.job_lease_seconds)
    ingestion = Ingestion(leases, files, index, usage, config)
    service = FileService(
        database=database,
        config=config,
        files=files,
        stores=VectorStores(database, config.embedding_model),
        usage=usage,
        index=index,
        ingestion=ingestion,
    )
    ingestion.sweep = service.sweep_expired
    await ingestion.start(alone=not settings.resolved_database_url.startswith("postgresql"))
    return service, ingestion.aclose
