"""pgvector under the chunk index, on the PostgreSQL 16 + pgvector that scripts/test-services.sh
starts from the pgserver wheel: migration 0022 adds the `vector(256)` column and its HNSW
index and fills the vectors of chunks indexed before it; a dense search through HNSW (forced
here by a zero threshold) answers as the exact scan does, also for a small store in a larger
table (HNSW's filtered answer comes back short: the scan is run instead). On Debian's
PostgreSQL without pgvector, 0022 changes nothing and the index keeps vectors in memory."""

from __future__ import annotations

import asyncio

from alembic import command
from alembic.config import Config
from sqlalchemy import Connection, text

from tests.support.gateway_support import new_database, services
from tests.support.retrieval_support import CORPUS, pgvector_env
from thinkgate.retrieval import Chunk, RankingOptions
from thinkgate.retrieval.embedders import Embedders
from thinkgate.retrieval.pg_index import PostgresChunkIndex
from thinkgate.store import Database
from thinkgate.store.database import MIGRATIONS

EMBEDDER = Embedders()


def _upgrade_to(connection: Connection, revision: str) -> None:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["connection"] = connection
    command.upgrade(config, revision)


async def _add_corpus(index: PostgresChunkIndex, store: str) -> None:
    for n, (name, (body, attributes)) in enumerate(CORPUS.items()):
        await index.add(store, f"file-{n}", name, [Chunk(0, body, 0, len(body))], attributes)


async def _dense(index: PostgresChunkIndex, store: str, query: str) -> list[str]:
    hits = await index.search([store], [query], None, 3, RankingOptions(), mode="dense")
    return [hit.filename for hit in hits]


async def _vector_rows(database: Database) -> tuple[int, int]:
    async with database.engine.connect() as db:
        row = (
            await db.execute(text("SELECT count(*), count(embedding_vector) FROM retrieval_chunks"))
        ).one()
    return int(row[0]), int(row[1])


def test_migration_fills_earlier_chunks_and_hnsw_answers_as_the_scan() -> None:
    url = pgvector_env()["THINKGATE_DATABASE_URL"]

    async def run() -> None:
        database = Database(url)
        async with database.engine.begin() as connection:  # the schema before 0022
            await connection.run_sync(_upgrade_to, "0021_wallet_audit")
        before = PostgresChunkIndex(database.engine, EMBEDDER)
        await _add_corpus(before, "vs_old")  # float32 bytes only: no vector column yet
        assert not await before._has_pgvector(256)
        await database.migrate()
        assert await _vector_rows(database) == (3, 3)  # filled by the migration
        exact = PostgresChunkIndex(database.engine, EMBEDDER)
        hnsw = PostgresChunkIndex(database.engine, EMBEDDER, exact_upto=0)
        assert await hnsw._has_pgvector(256)
        filler = [Chunk(i, f"filler text number {i} about nothing", 0, 9) for i in range(300)]
        await hnsw.add("vs_big", "file-big", "filler.txt", filler, {})
        await _add_corpus(hnsw, "vs_new")  # written with its vectors
        assert await _vector_rows(database) == (306, 306)
        for store in ("vs_old", "vs_new"):  # 3 chunks of 306: HNSW comes back short
            for query, expected in (
                ("what causes the tides?", "tides.txt"),
                ("how long should bread dough rise", "sourdough.md"),
            ):
                found = await _dense(hnsw, store, query)
                assert found == await _dense(exact, store, query)
                assert found[0] == expected
        big = await hnsw.search(["vs_big"], ["filler number 7"], None, 5, RankingOptions())
        assert len(big) == 5 and all(hit.filename == "filler.txt" for hit in big)
        await database.aclose()

    asyncio.run(run())


def test_without_pgvector_the_schema_keeps_bytes_only() -> None:
    url = new_database(services())

    async def run() -> None:
        database = Database(url)
        await database.migrate()
        index = PostgresChunkIndex(database.engine, EMBEDDER)
        assert not await index._has_pgvector(256)
        await _add_corpus(index, "vs_plain")
        found = await _dense(index, "vs_plain", "why do some eruptions explode")
        assert found[0] == "volcanoes.txt"
        await database.aclose()

    asyncio.run(run())
