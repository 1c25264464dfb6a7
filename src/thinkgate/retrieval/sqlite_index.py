"""The chunk index on SQLite: FTS5 (BM25) for words; for vectors, float32 bytes in the
table and each searched store's matrix in memory (exact cosine, one product).

sqlite-vec's `vec0` was measured here first: 89 ms a query at 100K chunks (brute force in
SQLite's virtual-table loop), against ~5 ms for the same exact search as one numpy product
(bench/retrieval.py); SQLite serves one process, so the matrices are simply dropped on each
write. Words: a query's terms found in more than 5% of 10K+ chunks are left out of the
full-text match (their IDF is near zero; walking their postings was most of the 67 ms a
query took at 100K, 16 ms without them), always keeping the rarest one.

The index has a file of its own beside the server's database (`thinkgate.retrieval.db`,
its schema made here), so that its long transactions never hold up the server's writes.
Work runs in one worker thread at a time under a lock (a connection is for one thread).
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, TypeVar

import anyio
import numpy as np

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

T = TypeVar("T")
_PRUNE_FROM = 10_000  # chunks in the index before common terms are left out
_COMMON = 0.05
SCHEMA = """
CREATE TABLE IF NOT EXISTS retrieval_files (
    vector_store_id TEXT NOT NULL, file_id TEXT NOT NULL, filename TEXT NOT NULL,
    attributes TEXT NOT NULL DEFAULT '{}', chunks INTEGER NOT NULL DEFAULT 0,
    bytes INTEGER NOT NULL DEFAULT 0, PRIMARY KEY (vector_store_id, file_id));
CREATE TABLE IF NOT EXISTS retrieval_chunks (
    id INTEGER PRIMARY KEY, vector_store_id TEXT NOT NULL, file_id TEXT NOT NULL,
    chunk_index INTEGER NOT NULL, start_offset INTEGER NOT NULL, end_offset INTEGER NOT NULL,
    text TEXT NOT NULL, embedding BLOB NOT NULL);
CREATE INDEX IF NOT EXISTS ix_retrieval_chunks_file
    ON retrieval_chunks (vector_store_id, file_id);
CREATE VIRTUAL TABLE IF NOT EXISTS retrieval_fts USING fts5(text, content='retrieval_chunks',
    content_rowid='id', tokenize='porter unicode61');
CREATE TRIGGER IF NOT EXISTS retrieval_chunks_ai AFTER INSERT ON retrieval_chunks BEGIN
    INSERT INTO retrieval_fts(rowid, text) VALUES (new.id, new.text); END;
CREATE TRIGGER IF NOT EXISTS retrieval_chunks_ad AFTER DELETE ON retrieval_chunks BEGIN
    INSERT INTO retrieval_fts(retrieval_fts, rowid, text) VALUES ('delete', old.id, old.text);
    END;
"""


class SqliteChunkIndex(HybridIndex):
    def __init__(self, path: Path, embedders: Embedders, models: StoreModels | None = None) -> None:
        super().__init__(embedders, models)
        self._db = sqlite3.connect(str(path), check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA busy_timeout=30000")
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.executescript(SCHEMA)
        self._matrices: dict[str, tuple[np.ndarray, np.ndarray]] = {}
        self._df: dict[str, int] = {}  # chunks holding each term (all stores), at `_df_at`
        self._df_at = 0
        self._size: int | None = None  # None: counted again after a write
        self._lock = threading.Lock()

    async def _run(self, work: Callable[[Any], T]) -> T:
        def locked() -> T:
            with self._lock:
                return work(self._db)

        return await anyio.to_thread.run_sync(locked)

    async def _transaction(self, work: Callable[[Any], None]) -> None:
        def step(db: Any) -> None:
            db.execute("BEGIN IMMEDIATE")
            try:
                work(db)
            except BaseException:
                db.execute("ROLLBACK")
                raise
            db.execute("COMMIT")
            self._matrices.clear()  # every write: the next search reloads what it reads
            self._size = None

        await self._run(step)

    def _delete_file(self, db: Any, store: str, file_id: str) -> None:
        db.execute(
            "DELETE FROM retrieval_chunks WHERE vector_store_id = ? AND file_id = ?",
            (store, file_id),
        )
        db.execute(
            "DELETE FROM retrieval_files WHERE vector_store_id = ? AND file_id = ?",
            (store, file_id),
        )

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

        def work(db: Any) -> None:
            self._delete_file(db, vector_store_id, file_id)
            db.execute(
                "INSERT INTO retrieval_files (vector_store_id, file_id, filename, attributes, "
                "chunks, bytes) VALUES (?, ?, ?, ?, ?, ?)",
                (vector_store_id, file_id, filename, attributes, len(chunks), size),
            )
            db.executemany(
                "INSERT INTO retrieval_chunks (vector_store_id, file_id, chunk_index, "
                "start_offset, end_offset, text, embedding) VALUES (?, ?, ?, ?, ?, ?, ?)",
                [
                    (vector_store_id, file_id, c.index, c.start, c.end, c.text, v.tobytes())
                    for c, v in zip(chunks, vectors, strict=True)
                ],
            )

        await self._transaction(work)

    async def remove(self, vector_store_id: str, file_id: str) -> None:
        await self._transaction(lambda db: self._delete_file(db, vector_store_id, file_id))

    async def set_attributes(
        self, vector_store_id: str, file_id: str, attributes: Attributes
    ) -> None:
        import json

        await self._transaction(
            lambda db: db.execute(
                "UPDATE retrieval_files SET attributes = ? WHERE vector_store_id = ? "
                "AND file_id = ?",
                (json.dumps(dict(attributes)), vector_store_id, file_id),
            )
        )

    async def drop_store(self, vector_store_id: str) -> None:
        def work(db: Any) -> None:
            db.execute("DELETE FROM retrieval_chunks WHERE vector_store_id = ?", (vector_store_id,))
            db.execute("DELETE FROM retrieval_files WHERE vector_store_id = ?", (vector_store_id,))

        await self._transaction(work)

    async def usage_bytes(self, vector_store_id: str) -> int:
        def work(db: Any) -> int:
            row = db.execute(
                "SELECT COALESCE(SUM(bytes), 0) FROM retrieval_files WHERE vector_store_id = ?",
                (vector_store_id,),
            ).fetchone()
            return int(row[0])

        return await self._run(work)

    async def _lexical(
        self, stores: Sequence[str], terms: Sequence[str], k: int, files: Sequence[str] | None
    ) -> list[tuple[int, float]]:
        terms, alone = await self._run(
            lambda db: (self._telling(db, terms), files is None and self._alone(db, stores))
        )
        match = " OR ".join('"' + t.replace('"', "") + '"' for t in terms)
        if alone:  # nothing else in the index: no join (it was 2/3 of the match's time)
            sql = (
                "SELECT rowid, bm25(retrieval_fts) AS s FROM retrieval_fts "
                "WHERE retrieval_fts MATCH ? ORDER BY s LIMIT ?"
            )
            params: list[Any] = [match, k]
        else:
            where = f"c.vector_store_id IN ({_marks(stores)})"
            params = [match, *stores]
            if files is not None:
                where += f" AND c.file_id IN ({_marks(files)})"
                params.extend(files)
            sql = (
                # CROSS JOIN: the full-text match runs once, first (a plain join may walk the
                # store's chunks and ask FTS5 about each: seconds at 10K chunks)
                "SELECT f.rowid, bm25(retrieval_fts) AS s FROM retrieval_fts f "
                f"CROSS JOIN retrieval_chunks c ON c.id = f.rowid "
                f"WHERE retrieval_fts MATCH ? AND {where} ORDER BY s LIMIT ?"
            )
            params.append(k)
        rows = await self._run(lambda db: db.execute(sql, params).fetchall())
        return [(int(i), -float(s)) for i, s in rows]  # FTS5's bm25(): lower is better

    def _alone(self, db: Any, stores: Sequence[str]) -> bool:
        """Whether the index holds one store's chunks and nothing else (two index probes)."""
        if len(stores) != 1:
            return False
        other = db.execute(
            "SELECT 1 FROM retrieval_chunks WHERE vector_store_id < ? OR vector_store_id > ? "
            "LIMIT 1",
            (stores[0], stores[0]),
        ).fetchone()
        return other is None

    def _telling(self, db: Any, terms: Sequence[str]) -> list[str]:
        """The terms worth matching: in a large index, those in at most 5% of the chunks
        (at least the rarest one)."""
        if self._size is None:
            self._size = int(db.execute("SELECT count(*) FROM retrieval_chunks").fetchone()[0])
            if drifted(self._size, self._df_at):
                self._df.clear()
                self._df_at = self._size
        if self._size < _PRUNE_FROM:
            return list(terms)
        for term in terms:
            if term not in self._df:
                found = db.execute(
                    "SELECT count(*) FROM retrieval_fts WHERE retrieval_fts MATCH ?",
                    ('"' + term.replace('"', "") + '"',),
                ).fetchone()
                self._df[term] = int(found[0])
        kept = [t for t in terms if self._df[t] <= _COMMON * self._size]
        return kept or sorted(terms, key=self._df.__getitem__)[:1]

    async def _dense(
        self, stores: Sequence[str], vector: Vectors, k: int
    ) -> list[tuple[int, float]]:
        width = vector.shape[0]  # the stores' model's (one model per search here)
        matrices = await self._run(lambda db: [self._matrix(db, s, width) for s in stores])
        # outside the lock: the product runs beside the full-text match in another thread
        return await anyio.to_thread.run_sync(nearest, matrices, vector, k)

    def _matrix(self, db: Any, store: str, width: int) -> tuple[np.ndarray, np.ndarray]:
        matrix = self._matrices.get(store)
        if matrix is None:
            rows = db.execute(
                "SELECT id, embedding FROM retrieval_chunks WHERE vector_store_id = ?", (store,)
            ).fetchall()
            ids = np.fromiter((r[0] for r in rows), np.int64, len(rows))
            blob = b"".join(r[1] for r in rows)
            vectors = np.frombuffer(blob, np.float32).reshape(-1, width)
            matrix = self._matrices[store] = (ids, vectors)
        return matrix

    async def _chunks(self, ids: Sequence[int]) -> list[ChunkRow]:
        if not ids:
            return []
        sql = (
            "SELECT id, vector_store_id, file_id, chunk_index, start_offset, end_offset, text, "
            f"embedding FROM retrieval_chunks WHERE id IN ({_marks(ids)})"
        )
        rows = await self._run(lambda db: db.execute(sql, list(ids)).fetchall())
        return [ChunkRow(*row) for row in rows]

    async def _files(
        self, stores: Sequence[str], file_ids: Sequence[str] | None = None
    ) -> dict[FileKey, FileRow]:
        sql = (
            "SELECT vector_store_id, file_id, filename, attributes FROM retrieval_files "
            f"WHERE vector_store_id IN ({_marks(stores)})"
        )
        params = list(stores)
        if file_ids is not None:
            if not file_ids:
                return {}
            sql += f" AND file_id IN ({_marks(file_ids)})"
            params.extend(file_ids)
        rows = await self._run(lambda db: db.execute(sql, params).fetchall())
        return {(s, f): FileRow(name, attributes_of(a)) for s, f, name, a in rows}

    async def aclose(self) -> None:
        await self._run(lambda db: db.close())


def _marks(values: Sequence[Any]) -> str:
    return ", ".join("?" * len(values))
