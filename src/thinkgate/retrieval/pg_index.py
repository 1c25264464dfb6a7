"""The chunk index on PostgreSQL: full text through a generated `tsvector` (GIN index, an
OR of the query's lexemes; a pool of the chunks matching the rarest, scored by Okapi BM25
from the tsvectors' positions); vectors in pgvector where the server has it, else held in
memory per store.

PostgreSQL's own ranks know no IDF: summing the matched terms' IDF with `ts_rank` ranked
below FTS5's BM25 (bench/retrieval.py: recall@10 0.627 against 0.657), BM25 itself as
well as FTS5 (0.654; `ts_rank_cd` and the 'simple' configuration ranked worse still).

With pgvector (migration 0022 made `embedding_vector vector(256)` and its HNSW index),
every 256-wide vector (wordllama's; a wider model's stores are searched in memory only,
however large) is written there too, and stores of over 250K chunks are searched
through HNSW (`hnsw.ef_search` twice the candidates asked for), so that no replica holds
their matrix. Smaller stores are searched exactly in memory, as without pgvector: an exact
scan in PostgreSQL took 1.2 s at 100K chunks (vectors are TOASTed), and HNSW over the
benchmark's 100K chunks found the exact nearest chunk for 43% of the queries only (its
padding is near-duplicates, HNSW's worst case; bench/retrieval.py). HNSW's answer for a
small store in a large table can come back short (filtered after the walk): then the exact
search runs.

In memory: vectors are read from their float32 bytes and each replica keeps each searched
store's matrix (100K chunks × 256 floats: 100 MB), reloaded when the store's `generation`
(bumped by every write, in the same transaction) moved: one indexed read per search keeps
every replica exact.
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

from thinkgate.retrieval.embedder import Vectors
from thinkgate.retrieval.embedders import Embedders
from thinkgate.retrieval.hybrid import (
    ChunkRow,
    FileKey,
    FileRow,
    HybridIndex,
    StoreModels,
    attributes_of,
    drifted,
    nearest,
)
from thinkgate.retrieval.index import Attributes, Chunk


@dataclass(slots=True)
class _Matrix:
    generation: int
    ids: np.ndarray
    vectors: np.ndarray


_PRUNE_FROM = 10_000  # chunks in the index before common terms are left out
_EXACT_UPTO = 250_000  # pgvector: chunks searched exactly in memory; above: HNSW
_COMMON = 0.05
_POOL = 200  # chunks scored by BM25 (at least 4 × those asked for)
_K1, _B = 1.2, 0.75  # Okapi BM25's usual constants (FTS5's too)
_AVG_SAMPLE = 2000  # chunks sampled for the mean length
_BUMP = text(
    "INSERT INTO retrieval_stores (vector_store_id, generation) VALUES (:s, 1) "
    "ON CONFLICT (vector_store_id) DO UPDATE SET generation = retrieval_stores.generation + 1"
)


class PostgresChunkIndex(HybridIndex):
    def __init__(
        self,
        engine: AsyncEngine,
        embedders: Embedders,
        models: StoreModels | None = None,
        *,
        exact_upto: int = _EXACT_UPTO,
    ) -> None:
        super().__init__(embedders, models)
        self._engine = engine
        self._exact_upto = exact_upto
        self._matrices: dict[str, _Matrix] = {}
        self._loading = asyncio.Lock()
        self._df: dict[str, int] = {}  # chunks holding each term, counted at `_df_at` chunks
        self._df_at = 0
        # each term's lexemes with the chunks holding each (counted with `_df`)
        self._lexemes: dict[str, tuple[tuple[str, int], ...]] = {}
        self._avgdl = 1.0  # the mean distinct lexemes a chunk (sampled when `_df` is)
        self._size: int | None = None  # chunks in the index (None: counted again after a write)
        self._pgvector: int | None = None  # its width, read on first use (0: none)

    async def _has_pgvector(self, width: int) -> bool:
        """Whether migration 0022 made the vector column, as wide as this model's vectors
        (256: wordllama's; a wider model's stores are searched in memory only)."""
        if self._pgvector is None:
            async with self._engine.connect() as db:
                column = await db.scalar(
                    text(
                        "SELECT atttypmod FROM pg_attribute WHERE attname = 'embedding_vector' "
                        "AND attrelid = to_regclass('retrieval_chunks') AND NOT attisdropped"
                    )
                )
            self._pgvector = int(column) if column is not None else 0
        return self._pgvector == width

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
        pgvector = await self._has_pgvector(vectors.shape[1]) if len(vectors) else False
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
            | ({"v": vector.tolist()} if pgvector else {})
            for chunk, vector in zip(chunks, vectors, strict=True)
        ]
        columns, values = "", ""
        if pgvector:  # a real[] parameter (binary, no text formatting); assigned as a vector
            columns, values = ", embedding_vector", ", CAST(:v AS real[])"
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
                        f"start_offset, end_offset, text, embedding{columns}) "
                        f"VALUES (:s, :f, :i, :a, :b, :t, :e{values})"
                    ),
                    rows,
                )
            await db.execute(_BUMP, {"s": vector_store_id})
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
        lexemes = {x: df for t in terms for x, df in self._lexemes.get(t, ())}
        if not lexemes:
            return []
        size = max(self._size or 0, 1)
        idfs = [math.log(1 + (size - df + 0.5) / (df + 0.5)) for df in lexemes.values()]
        # a pool of the chunks matching the most of the rarest terms (GIN index, cheap
        # scores), then Okapi BM25 over its tsvectors: term frequency from the positions,
        # length as distinct lexemes (no unnest of every match: at 100K chunks an OR
        # query matches thousands)
        where = "vector_store_id IN :stores AND tsv @@ q"
        params: dict[str, object] = {
            "q": " | ".join(_quoted(x) for x in lexemes),
            "stores": list(stores),
            "lexemes": list(lexemes),
            "idfs": idfs,
            "avg": self._avgdl,
            "pool": max(_POOL, 4 * k),
            "k": k,
        }
        binds: list[BindParameter[Any]] = [bindparam("stores", expanding=True)]
        if files is not None:
            where += " AND file_id IN :files"
            params["files"] = list(files)
            binds.append(bindparam("files", expanding=True))
        rough = " + ".join(
            f"CASE WHEN tsv @@ CAST(:x{n} AS tsquery) THEN CAST(:w{n} AS float8) ELSE 0 END"
            for n in range(len(lexemes))
        )
        for n, (lexeme, idf) in enumerate(zip(lexemes, idfs, strict=True)):
            params[f"x{n}"], params[f"w{n}"] = _quoted(lexeme), idf
        sql = text(
            f"WITH pool AS (SELECT id, tsv FROM retrieval_chunks, CAST(:q AS tsquery) AS q "
            f"WHERE {where} ORDER BY {rough} + ts_rank(tsv, q) DESC LIMIT :pool) "
            f"SELECT p.id, SUM(w.idf * u.tf * {_K1 + 1} / (u.tf + {_K1} * "
            f"(1 - {_B} + {_B} * length(p.tsv) / CAST(:avg AS float8)))) AS s "
            "FROM pool p CROSS JOIN LATERAL (SELECT lexeme, array_length(positions, 1) AS tf "
            "FROM unnest(p.tsv)) u JOIN unnest(CAST(:lexemes AS text[]), "
            "CAST(:idfs AS float8[])) AS w(lexeme, idf) ON w.lexeme = u.lexeme "
            "GROUP BY p.id ORDER BY s DESC, p.id LIMIT :k"
        ).bindparams(*binds)
        async with self._engine.connect() as db:
            rows = (await db.execute(sql, params)).all()
        return [(int(i), float(s)) for i, s in rows]

    async def _telling(self, terms: Sequence[str]) -> list[str]:
        """As on SQLite: in a large index, the terms in at most 5% of the chunks (at least
        the rarest one). The terms not counted yet are counted in one query (GIN index),
        with their lexemes ('english' configuration: stemmed; a stop word has none)."""
        async with self._engine.connect() as db:
            if self._size is None:
                total = "SELECT COALESCE(SUM(chunks), 0) FROM retrieval_files"
                self._size = int(await db.scalar(text(total)) or 0)
                if drifted(self._size, self._df_at):
                    self._df.clear()
                    self._lexemes.clear()
                    self._df_at = self._size
                    sample = (
                        "SELECT avg(length(tsv)) FROM (SELECT tsv FROM retrieval_chunks "
                        f"LIMIT {_AVG_SAMPLE}) AS s"
                    )
                    self._avgdl = float(await db.scalar(text(sample)) or 0) or 1.0
            missing = [t for t in dict.fromkeys(terms) if t not in self._df]
            if missing:
                rows = await db.execute(
                    text(
                        "SELECT t, x.lexeme, (SELECT count(*) FROM retrieval_chunks "
                        # the lexeme quoted as `_quoted` does (taken as it is)
                        "WHERE tsv @@ CAST('''' || replace(replace(x.lexeme, chr(92), "
                        "chr(92) || chr(92)), '''', '''''') || '''' AS tsquery)) "
                        "FROM unnest(CAST(:terms AS text[])) AS t "
                        "LEFT JOIN LATERAL unnest(to_tsvector('english', t)) AS x ON true"
                    ),
                    {"terms": missing},
                )
                for term, lexeme, count in rows:
                    found = self._lexemes.setdefault(str(term), ())
                    if lexeme is not None:
                        self._lexemes[str(term)] = (*found, (str(lexeme), int(count)))
                for term in missing:
                    self._df[term] = max((n for _, n in self._lexemes[term]), default=0)
        if self._size < _PRUNE_FROM:
            return list(terms)
        kept = [t for t in terms if self._df[t] <= _COMMON * self._size]
        return kept or sorted(terms, key=self._df.__getitem__)[:1]

    async def _dense(
        self, stores: Sequence[str], vector: Vectors, k: int
    ) -> list[tuple[int, float]]:
        if await self._has_pgvector(vector.shape[0]):
            found = await self._hnsw(stores, vector, k)
            if found is not None:
                return found
        matrices = await self._current(stores, vector.shape[0])
        return nearest([(m.ids, m.vectors) for m in matrices], vector, k)

    async def _hnsw(
        self, stores: Sequence[str], vector: Vectors, k: int
    ) -> list[tuple[int, float]] | None:
        """pgvector's HNSW answer for stores over `exact_upto` chunks; None (search
        exactly in memory) for smaller ones, or where the filtered answer came back short."""
        params = {"stores": list(stores), "q": vector.tolist(), "k": k}
        binds: list[BindParameter[Any]] = [bindparam("stores", expanding=True)]
        count = text(
            "SELECT COALESCE(SUM(chunks), 0) FROM retrieval_files WHERE vector_store_id IN :stores"
        ).bindparams(*binds)
        distance = "embedding_vector <=> CAST(CAST(:q AS real[]) AS vector)"
        nearby = text(
            f"SELECT id, 1 - ({distance}) FROM retrieval_chunks WHERE vector_store_id IN :stores "
            f"ORDER BY {distance} LIMIT :k"
        ).bindparams(*binds)
        async with self._engine.begin() as db:
            size = int(await db.scalar(count, params) or 0)
            if size <= self._exact_upto:
                return None
            ef = str(min(1000, max(2 * k, 100)))
            await db.execute(text("SELECT set_config('hnsw.ef_search', :ef, true)"), {"ef": ef})
            rows = (await db.execute(nearby, params)).all()
        if len(rows) < min(k, size):
            return None
        return [(int(i), float(s)) for i, s in rows]

    async def _current(self, stores: Sequence[str], width: int) -> list[_Matrix]:
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
                    matrix = await self._load(store, generation, width)
            out.append(matrix)
        return out

    async def _load(self, store: str, generation: int, width: int) -> _Matrix:
        async with self._engine.connect() as db:
            rows = (
                await db.execute(
                    text("SELECT id, embedding FROM retrieval_chunks WHERE vector_store_id = :s"),
                    {"s": store},
                )
            ).all()
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

    async def _files(
        self, stores: Sequence[str], file_ids: Sequence[str] | None = None
    ) -> dict[FileKey, FileRow]:
        statement = (
            "SELECT vector_store_id, file_id, filename, attributes FROM retrieval_files "
            "WHERE vector_store_id IN :stores"
        )
        params: dict[str, object] = {"stores": list(stores)}
        binds: list[BindParameter[Any]] = [bindparam("stores", expanding=True)]
        if file_ids is not None:
            if not file_ids:
                return {}
            statement += " AND file_id IN :files"
            params["files"] = list(file_ids)
            binds.append(bindparam("files", expanding=True))
        async with self._engine.connect() as db:
            rows = (await db.execute(text(statement).bindparams(*binds), params)).all()
        return {(s, f): FileRow(name, attributes_of(a)) for s, f, name, a in rows}

    async def aclose(self) -> None:
        self._matrices.clear()


def _quoted(lexeme: str) -> str:
    """A lexeme as a tsquery operand (quoted: taken as it is, not parsed again)."""
    return "'" + lexeme.replace("\\", "\\\\").replace("'", "''") + "'"
