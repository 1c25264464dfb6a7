"""PostgreSQL's full text ranks as SQLite's FTS5 does (Okapi BM25 from the tsvector's
positions, not ts_rank plus IDF): more of a term in a shorter chunk ranks higher, a rare
term outweighs a common one, and a query of stop words only finds nothing without an
error. On the real PostgreSQL of scripts/test-services.sh and a SQLite index file."""

from __future__ import annotations

import asyncio
from pathlib import Path

from tests.support.gateway_support import new_database, services
from thinkgate.retrieval import Chunk, RankingOptions
from thinkgate.retrieval.embedders import Embedders
from thinkgate.retrieval.hybrid import HybridIndex
from thinkgate.retrieval.pg_index import PostgresChunkIndex
from thinkgate.retrieval.sqlite_index import SqliteChunkIndex
from thinkgate.store import Database

EMBEDDER = Embedders()
TEXTS = {
    "many.txt": "Tides, tides and tides: spring tides and neap tides follow the moon.",
    "short.txt": "The tide rises twice a day as the moon pulls the ocean.",
    "long.txt": "A long note on the ocean, its weather, ships, harbours, sailors, fish, "
    "coral, salt, currents, storms, lighthouses, charts, anchors and, once, the tide.",
    "volcano.txt": "Volcanoes erupt when magma rises through the crust.",
    "filler.txt": "The ocean is wide and the ocean is deep and the ocean is old.",
    **{
        f"other-{n}.txt": text
        for n, text in enumerate(
            [
                "Bread dough rises in a warm kitchen overnight.",
                "Compound interest grows savings over many years.",
                "Birds migrate south when autumn days grow short.",
                "Granite forms deep underground as magma cools slowly.",
            ]
        )
    },
}
QUERIES = {
    "tide moon": ["many.txt", "short.txt", "long.txt"],
    "volcanoes ocean": ["volcano.txt"],  # rare term first, then the common one's chunks
    "the and of": [],
    # a term five times in a short chunk above two common terms once each in a long one
    # (summing the matched terms' IDF, the old PostgreSQL scoring, put the long one first)
    "tide ocean": ["short.txt", "many.txt", "filler.txt", "long.txt"],
}


async def _ranked(index: HybridIndex, store: str) -> dict[str, list[str]]:
    for n, (name, body) in enumerate(TEXTS.items()):
        await index.add(store, f"file-{n}", name, [Chunk(0, body, 0, len(body))], {})
    out = {}
    for query in QUERIES:
        hits = await index.search(
            [store], [query], None, 10, RankingOptions(ranker="none"), mode="lexical"
        )
        out[query] = [hit.filename for hit in hits]
    return out


def test_postgres_ranks_full_text_as_fts5(tmp_path: Path) -> None:
    url = new_database(services())

    async def run() -> tuple[dict[str, list[str]], dict[str, list[str]]]:
        database = Database(url)
        await database.migrate()
        postgres = PostgresChunkIndex(database.engine, EMBEDDER)
        sqlite = SqliteChunkIndex(tmp_path / "index.db", EMBEDDER)
        try:
            return await _ranked(postgres, "vs_pg"), await _ranked(sqlite, "vs_lite")
        finally:
            await sqlite.aclose()
            await database.aclose()

    on_postgres, on_sqlite = asyncio.run(run())
    for query, expected in QUERIES.items():
        assert on_postgres[query][: len(expected)] == expected, query
        assert on_sqlite[query][: len(expected)] == expected, query
    for query in ("tide moon", "tide ocean"):
        assert on_postgres[query] == on_sqlite[query], query
    assert on_postgres["the and of"] == on_sqlite["the and of"] == []
