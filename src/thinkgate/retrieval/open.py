"""Opening the server's chunk index for its database (see `retrieval.index`)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import anyio
from sqlalchemy import bindparam, text
from sqlalchemy.engine import make_url

from thinkgate.retrieval.embedders import Embedders
from thinkgate.retrieval.hybrid import HybridIndex, StoreModels
from thinkgate.store import Database


async def open_chunk_index(database: Database, embedders: Embedders | None = None) -> HybridIndex:
    """SQLite: FTS5 in a file beside the database's; PostgreSQL: its full text (migration
    0019) and pgvector where 0022 could add it; vectors in memory on both (pgvector's HNSW
    for the largest stores). Each store's model is the one `vector_stores` records (0024).
    Called after the migrations have run."""
    models = embedders or Embedders()  # their weights are read on first use
    recorded = _recorded_models(database)
    url = make_url(database.url)
    if url.get_backend_name() == "postgresql":
        from thinkgate.retrieval.pg_index import PostgresChunkIndex

        return PostgresChunkIndex(database.engine, models, recorded)
    from thinkgate.retrieval.sqlite_index import SqliteChunkIndex

    if not url.database or url.database == ":memory:":
        raise RuntimeError("the chunk index needs a SQLite database file, not :memory:")
    main = Path(url.database)
    path = main.with_name(main.stem + ".retrieval.db")  # never the server's own file
    return await anyio.to_thread.run_sync(SqliteChunkIndex, path, models, recorded)


def _recorded_models(database: Database) -> StoreModels:
    query = text("SELECT id, embedding_model FROM vector_stores WHERE id IN :ids").bindparams(
        bindparam("ids", expanding=True)
    )

    async def recorded(stores: Sequence[str]) -> dict[str, str]:
        async with database.engine.connect() as db:
            rows = (await db.execute(query, {"ids": list(stores)})).all()
        return {str(store): str(model) for store, model in rows}

    return recorded
