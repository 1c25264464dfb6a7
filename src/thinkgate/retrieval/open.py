"""Opening the server's chunk index for its database (see `retrieval.index`)."""

from __future__ import annotations

from pathlib import Path

import anyio
from sqlalchemy.engine import make_url

from thinkgate.retrieval.embedder import StaticEmbedder
from thinkgate.retrieval.hybrid import HybridIndex
from thinkgate.store import Database


async def open_chunk_index(
    database: Database, embedder: StaticEmbedder | None = None
) -> HybridIndex:
    """SQLite: FTS5 in a file beside the database's; PostgreSQL: its full text (migration
    0019) and pgvector where 0022 could add it; vectors in memory on both (pgvector's HNSW
    for the largest stores). Called after the migrations have run."""
    model = embedder or StaticEmbedder()  # its table is read on first use
    url = make_url(database.url)
    if url.get_backend_name() == "postgresql":
        from thinkgate.retrieval.pg_index import PostgresChunkIndex

        return PostgresChunkIndex(database.engine, model)
    from thinkgate.retrieval.sqlite_index import SqliteChunkIndex

    if not url.database or url.database == ":memory:":
        raise RuntimeError("the chunk index needs a SQLite database file, not :memory:")
    main = Path(url.database)
    path = main.with_name(main.stem + ".retrieval.db")  # never the server's own file
    return await anyio.to_thread.run_sync(SqliteChunkIndex, path, model)
