"""The chunk index on PostgreSQL: full text through a generated `tsvector` (GIN index,
`ts_rank_cd` over an OR of the query's terms) and vectors held in memory per store.

pgvector is not in Debian 12's archive, so vectors are stored as float32 bytes and each
replica keeps each searched store's matrix in memory (100K chunks × 256 floats: 100 MB),
reloaded when the store's `generation` (bumped by every write, in the same transaction)
moved: one indexed read per search keeps every replica exact.
"""

from __future__ import annotations

import asyncio
import json
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from sqlalchemy import BindParameter, bindparam, text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from thinkgate.retrieval.embedder import StaticEmbedder, Vectors
from thinkgate.retrieval.hybrid import (
    ChunkRow,
    FileKey,
    FileRow,
    HybridIndex,
    attributes_of,
    nearest,
)
from thinkgate.retrieval.index import Attributes, Chunk


@dataclass(slots=True)
class _Matrix:
    generation: int
    ids: np.ndarray
    vectors: np.ndarray


_PRUNE_FROM = 10_000  # chunks in the index before common terms are left out
_COMMON = 0.05
_BUMP = text(
    "INSERT INTO retrieval_stores (vector_store_id, generation) VALUES (:s, 1) "
    "ON CONFLICT (vector_store_id) DO UPDATE SET generation = retrieval_stores.generation + 1"
)


class PostgresChunkIndex(HybridIndex):
    def __init__(self, engine: AsyncEngine, embedder: StaticEmbedder) -> None:
        super().__init__(embedder)
        self._engine = engine
        self._matrices: dict[str, _Matrix] = {}
        self._loading = asyncio.Lock()
        self._df: dict[str, int] = {}  # chunks holding each term
        self._size: int | None = None  # chunks in the index

    async def _write(
        self,
        vector_store_id: str,
        file_id: str,
        filename: str,
        chunks: Sequence[Chunk],
        vectors: Vectors,
        attributes: str,
    ) -> None:
        size = sum(len(c.text.encode()) for c in chunks) + vectors.nbytes
        rows = [
            {
                "s": vector_store_id,
                "f": file_id,
                "i": chunk.index,
                "a": chunk.start,
                "b": chunk.end,
                "t": chunk.text.replace("\x00", ""),
                "e": vector.tobytes(),
            }
            for chunk, vector in zip(chunks, vectors, strict=True)
        ]
        async with self._engine.begin() as db:
            await self._delete_file(db, vector_store_id, file_id)
            await db.execute(
                text(
                    "INSERT INTO retrieval_files (vector_store_id, file_id, filename, "
                    "attributes, chunks, bytes) VALUES (:s, :f, :n, :a, :c, :b)"
                ),
                {"s": vector_store_id, "f": file_id, "n": filename, "a": attributes}
                | {"c": len(chunks), "b": size},
            )
            if rows:
                await db.execute(
                    text(
                        "INSERT INTO retrieval_chunks (vector_store_id, file_id, chunk_index, "
                        "start_offset, end_offset, text, embedding) "
                        "VALUES (:s, :f, :i, :a, :b, :t, :e)"
                    ),
                    rows,
                )
            await db.execute(_BUMP, {"s": vector_store_id})
        self._df.clear()
        self._size = None

    async def _delete_file(self, db: AsyncConnection, store: str, file_id: str) -> None:
        for table in ("retrieval_chunks", "retrieval_files"):
            await db.execute(
                text(f"DELETE FROM {table} WHERE vector_store_id = :s AND file_id = :f"),
                {"s": store, "f": file_id},
            )

    async def remove(self, vector_store_id: str, file_id: str) -> None:
        async with self._engine.begin() as db:
            await self._delete_file(db, vector_store_id, file_id)
            await db.execute(_BUMP, {"s": vector_store_id})
        self._df.clear()
        self._size = None

    async def set_attributes(
        self, vector_store_id: str, file_id: str, attributes: Attributes
    ) -> None:
        async with self._engine.begin() as db:
            await db.execute(
                text(
                    "UPDATE retrieval_files SET attributes = :a "
                    "WHERE vector_store_id = :s AND file_id = :f"
                ),
                {"a": json.dumps(dict(attributes)), "s": vector_store_id, "f": file_id},
            )

    async def drop_store(self, vector_store_id: str) -> None:
        async with self._engine.begin() as db:
            for table in ("retrieval_chunks", "retrieval_files"):
                await db.execute(
                    text(f"DELETE FROM {table} WHERE vector_store_id = :s"), {"s": vector_store_id}
                )
            await db.execute(_BUMP, {"s": vector_store_id})
        self._df.clear()
        self._size = None
        self._matrices.pop(vector_store_id, None)

    async def usage_bytes(self, vector_store_id: str) -> int:
        async with self._engine.connect() as db:
            value = await db.scalar(
                text(
                    "SELECT COALESCE(SUM(bytes), 0) FROM retrieval_files WHERE vector_store_id = :s"
                ),
                {"s": vector_store_id},
            )
        return int(value or 0)

    async def _lexical(
        self, stores: Sequence[str], terms: Sequence[str], k: int, files: Sequence[str] | None
    ) -> list[tuple[int, float]]:
        terms = await self._telling(terms)
        query = " | ".join(terms)  # terms are \w+ words: nothing for to_tsquery to parse
        where = "vector_store_id IN :stores AND tsv @@ q"
        params: dict[str, object] = {"q": query, "stores": list(stores), "k": k}
        # ts_rank_cd knows no IDF: each matched term adds its IDF (BM25's), the rank breaks ties
        size, weights = self._size or 0, []
        for n, term in enumerate(terms):
            df = self._df.get(term, 0)
            params[f"t{n}"] = term
            params[f"w{n}"] = math.log(1 + (size - df + 0.5) / (df + 0.5))
            weights.append(f"CASE WHEN tsv @@ to_tsquery('english', :t{n}) THEN :w{n} ELSE 0 END")
        score = " + ".join([*weights, "ts_rank_cd(tsv, q)"])
        statement = (
            "SELECT id, " + score + " AS s FROM retrieval_chunks, "
            "to_tsquery('english', :q) AS q WHERE {where} ORDER BY s DESC LIMIT :k"
        )
        binds: list[BindParameter[Any]] = [bindparam("stores", expanding=True)]
        if files is not None:
            where += " AND file_id IN :files"
            params["files"] = list(files)
            binds.append(bindparam("files", expanding=True))
        sql = text(statement.format(where=where)).bindparams(*binds)
        async with self._engine.connect() as db:
            rows = (await db.execute(sql, params)).all()
        return [(int(i), float(s)) for i, s in rows]

    async def _telling(self, terms: Sequence[str]) -> list[str]:
        """As on SQLite: in a large index, the terms in at most 5% of the chunks (at least
        the rarest one); counts are kept until this replica writes (elsewhere's writes
        only make the choice a little stale, never a result wrong)."""
        async with self._engine.connect() as db:
            if self._size is None:
                self._size = int(
                    await db.scalar(text("SELECT count(*) FROM retrieval_chunks")) or 0
                )
            for term in terms:
                if term not in self._df:
                    found = await db.scalar(
                        text(
                            "SELECT count(*) FROM retrieval_chunks "
                            "WHERE tsv @@ to_tsquery('english', :t)"
                        ),
                        {"t": term},
                    )
                    self._df[term] = int(found or 0)
        if self._size < _PRUNE_FROM:
            return list(terms)
        kept = [t for t in terms if self._df[t] <= _COMMON * self._size]
        return kept or sorted(terms, key=self._df.__getitem__)[:1]

    async def _dense(
        self, stores: Sequence[str], vector: Vectors, k: int
    ) -> list[tuple[int, float]]:
        matrices = await self._current(stores)
        return nearest([(m.ids, m.vectors) for m in matrices], vector, k)

    async def _current(self, stores: Sequence[str]) -> list[_Matrix]:
        """Each store's matrix, reloaded where another write (any replica) moved it."""
        sql = text(
            "SELECT vector_store_id, generation FROM retrieval_stores "
            "WHERE vector_store_id IN :stores"
        ).bindparams(bindparam("stores", expanding=True))
        async with self._engine.connect() as db:
            rows = (await db.execute(sql, {"stores": list(stores)})).all()
        generations: dict[str, int] = {str(s): int(g) for s, g in rows}
        out = []
        for store in stores:
            generation = int(generations.get(store, 0))
            matrix = self._matrices.get(store)
            if matrix is None or matrix.generation != generation:
                async with self._loading:
                    matrix = await self._load(store, generation)
            out.append(matrix)
        return out

    async def _load(self, store: str, generation: int) -> _Matrix:
        async with self._engine.connect() as db:
            rows = (
                await db.execute(
                    text("SELECT id, embedding FROM retrieval_chunks WHERE vector_store_id = :s"),
                    {"s": store},
                )
            ).all()
        width = self.embedder.dimensions
        ids = np.fromiter((r[0] for r in rows), np.int64, len(rows))
        vectors = np.frombuffer(b"".join(r[1] for r in rows), np.float32).reshape(-1, width)
        matrix = _Matrix(generation, ids, vectors)
        self._matrices[store] = matrix
        return matrix

    async def _chunks(self, ids: Sequence[int]) -> list[ChunkRow]:
        if not ids:
            return []
        sql = text(
            "SELECT id, vector_store_id, file_id, chunk_index, start_offset, end_offset, text, "
            "embedding FROM retrieval_chunks WHERE id IN :ids"
        ).bindparams(bindparam("ids", expanding=True))
        async with self._engine.connect() as db:
            rows = (await db.execute(sql, {"ids": list(ids)})).all()
        return [ChunkRow(*row) for row in rows]

    async def _files(self, stores: Sequence[str]) -> dict[FileKey, FileRow]:
        sql = text(
            "SELECT vector_store_id, file_id, filename, attributes FROM retrieval_files "
            "WHERE vector_store_id IN :stores"
        ).bindparams(bindparam("stores", expanding=True))
        async with self._engine.connect() as db:
            rows = (await db.execute(sql, {"stores": list(stores)})).all()
        return {(s, f): FileRow(name, attributes_of(a)) for s, f, name, a in rows}

    async def aclose(self) -> None:
        self._matrices.clear()
