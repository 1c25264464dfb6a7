"""The search every backend shares; a backend supplies storage and its two ranked lists
(full text, dense). `SqliteChunkIndex` and `PostgresChunkIndex` implement the rest.

    filters ─► files of the stores whose attributes pass (a wrong type: 400)
    queries ─► embedded together ─► per query: BM25 top-K, dense top-K
            ─► fusion.fuse ─► chunk rows ─► fusion.scored ─► threshold ─► top N

Each store is embedded and searched with the model that made its vectors (`models`: store
ids ─► model names, from `vector_stores.embedding_model`), at that model's width and with
its text share. Stores of different models searched together are searched model by model
and their hits merged by score (each side's scores are normalised over its candidates).
"""

from __future__ import annotations

import abc
import asyncio
import json
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal, TypeVar

import numpy as np

from thinkgate.errors import InvalidRequestError
from thinkgate.retrieval.embedder import Vectors
from thinkgate.retrieval.embedders import Embedder, Embedders
from thinkgate.retrieval.filters import Test, parse_filter
from thinkgate.retrieval.fusion import RRF_K, fuse, query_terms, scored
from thinkgate.retrieval.index import Attributes, Chunk, Filter, Hit, RankingOptions

T = TypeVar("T")
# store ids ─► the embedding model of each (those it does not know: left out)
StoreModels = Callable[[Sequence[str]], Awaitable[Mapping[str, str]]]
Mode = Literal["hybrid", "lexical", "dense"]
FileKey = tuple[str, str]  # (vector store id, file id)
MAX_RESULTS = 50
_RESTRICT_FILES = 500  # a filter passing at most this many files narrows the SQL itself


@dataclass(frozen=True, slots=True)
class ChunkRow:
    id: int
    vector_store_id: str
    file_id: str
    chunk_index: int
    start: int
    end: int
    text: str
    embedding: bytes


@dataclass(frozen=True, slots=True)
class FileRow:
    filename: str
    attributes: dict[str, str | float | bool]


class HybridIndex(abc.ABC):
    def __init__(self, embedders: Embedders, models: StoreModels | None = None) -> None:
        """`models`: each store's recorded model; a store it does not know (or every store,
        without it) takes the default, `[files] embedding_model`."""
        self.embedders = embedders
        self._models = models
        self._known: dict[str, str] = {}  # a store's model never changes: kept

    @property
    def embedder(self) -> Embedder:
        """The default model (new stores')."""
        return self.embedders.get()

    async def embedder_of(self, vector_store_id: str) -> Embedder:
        """The model a store's chunks are embedded with (`ModelUnavailable`: not here)."""
        return self.embedders.get((await self._models_of([vector_store_id]))[vector_store_id])

    async def _models_of(self, stores: Sequence[str]) -> dict[str, str]:
        unknown = [s for s in stores if s not in self._known]
        if unknown and self._models is not None:
            if len(self._known) > 100_000:
                self._known.clear()
            self._known.update(await self._models(unknown))
        return {s: self._known.get(s, self.embedders.default) for s in stores}

    # --- what a backend provides ---------------------------------------------------

    @abc.abstractmethod
    async def _write(
        self,
        vector_store_id: str,
        file_id: str,
        filename: str,
        chunks: Sequence[Chunk],
        vectors: Vectors,
        attributes: str,
    ) -> None:
        """Replace the file's chunks in one transaction."""

    @abc.abstractmethod
    async def _lexical(
        self, stores: Sequence[str], terms: Sequence[str], k: int, files: Sequence[str] | None
    ) -> list[tuple[int, float]]:
        """(chunk id, BM25-like score, higher better), best first."""

    @abc.abstractmethod
    async def _dense(
        self, stores: Sequence[str], vector: Vectors, k: int
    ) -> list[tuple[int, float]]:
        """(chunk id, cosine similarity), best first."""

    @abc.abstractmethod
    async def _chunks(self, ids: Sequence[int]) -> list[ChunkRow]: ...

    @abc.abstractmethod
    async def _files(
        self, stores: Sequence[str], file_ids: Sequence[str] | None = None
    ) -> dict[FileKey, FileRow]:
        """The stores' files (those of `file_ids` only, when given)."""

    @abc.abstractmethod
    async def remove(self, vector_store_id: str, file_id: str) -> None: ...

    @abc.abstractmethod
    async def set_attributes(
        self, vector_store_id: str, file_id: str, attributes: Attributes
    ) -> None: ...

    @abc.abstractmethod
    async def drop_store(self, vector_store_id: str) -> None: ...

    @abc.abstractmethod
    async def usage_bytes(self, vector_store_id: str) -> int: ...

    @abc.abstractmethod
    async def aclose(self) -> None: ...

    # --- the contract --------------------------------------------------------------

    async def add(
        self,
        vector_store_id: str,
        file_id: str,
        filename: str,
        chunks: Sequence[Chunk],
        attributes: Attributes,
    ) -> None:
        embedder = await self.embedder_of(vector_store_id)
        vectors = await embedder.embed([chunk.text for chunk in chunks])
        await self._write(
            vector_store_id, file_id, filename, chunks, vectors, json.dumps(dict(attributes))
        )

    async def search(
        self,
        vector_store_ids: Sequence[str],
        queries: Sequence[str],
        filters: Filter,
        max_num_results: int,
        ranking_options: RankingOptions,
        *,
        mode: Mode = "hybrid",
    ) -> list[Hit]:
        test = parse_filter(filters)
        stores = list(dict.fromkeys(vector_store_ids))
        queries = [q for q in queries if q.strip()]
        if not stores or not queries:
            return []
        models = await self._models_of(stores)
        groups: dict[str, list[str]] = {}
        for store in stores:
            groups.setdefault(models[store], []).append(store)
        embedders = {model: self.embedders.get(model) for model in groups}  # all here, or 503
        found = [
            await self._search(group, embedders[model], queries, test, max_num_results,
                               ranking_options, mode)
            for model, group in groups.items()
        ]  # fmt: skip
        if len(found) == 1:
            return found[0]
        merged = sorted((h for hits in found for h in hits), key=lambda h: -h.score)
        return merged[:max_num_results]

    async def _search(
        self,
        stores: list[str],
        embedder: Embedder,
        queries: Sequence[str],
        test: Test | None,
        max_num_results: int,
        ranking_options: RankingOptions,
        mode: Mode,
    ) -> list[Hit]:
        """Stores of one embedding model; `test`: the parsed filter."""
        # without a filter, only the files of the chunks found are read (1,000 files' rows
        # and attributes took ~5 ms a search at 100K chunks)
        files: dict[FileKey, FileRow] | None = None
        allowed: set[FileKey] | None = None
        narrow: list[str] | None = None
        if test is not None:
            files = await self._files(stores)
            allowed = {key for key, row in files.items() if test(row.attributes)}
            if not allowed:
                return []
            if len(allowed) <= _RESTRICT_FILES:
                narrow = sorted({f for _, f in allowed})
        k = max(50, 4 * max_num_results) * (4 if test is not None else 1)
        vectors = await embedder.embed(queries)
        lexical, dense = [], []
        for query, vector in zip(queries, vectors, strict=True):
            terms = query_terms(query)
            # the two searches at once (FTS5 and numpy in two threads, or two PostgreSQL
            # connections): a query takes the longer of them, not their sum
            words = self._lexical(stores, terms, k, narrow) if mode != "dense" and terms else None
            near = self._dense(stores, vector, k) if mode != "lexical" else None
            found_words, found_near = await asyncio.gather(_maybe(words), _maybe(near))
            lexical.extend([found_words] if found_words is not None else [])
            dense.extend([found_near] if found_near is not None else [])
        weights = (ranking_options.text_weight, ranking_options.embedding_weight)
        found = fuse(lexical, dense, weights)
        rows = {row.id: row for row in await self._chunks(list(found))}
        if files is None:
            files = await self._files(stores, sorted({row.file_id for row in rows.values()}))
        passing = files if allowed is None else allowed
        found = {
            i: c
            for i, c in found.items()
            if i in rows and (rows[i].vector_store_id, rows[i].file_id) in passing
        }
        cosines = _cosines(rows, vectors)
        ranker = ranking_options.ranker if mode == "hybrid" else "none"
        best = (weights[0] * len(lexical) + weights[1] * len(dense)) / (RRF_K + 1)
        hits = []
        share = embedder.text_share
        for chunk_id, score in scored(found, best or 1.0, ranker, cosines, weights, share):
            if score < ranking_options.score_threshold:
                break
            row = rows[chunk_id]
            file = files[(row.vector_store_id, row.file_id)]
            hits.append(_hit(row, file, score))
            if len(hits) == max_num_results:
                break
        return hits


def drifted(size: int, counted_at: int) -> bool:
    """Whether term counts made at `counted_at` chunks are too stale at `size` (a tenth
    more or fewer): kept across writes, a count a little off only moves a common term's
    IDF a little, and counting again each search after each write cost a query a term."""
    return abs(size - counted_at) > 0.1 * max(counted_at, 1)


async def _maybe(work: Awaitable[T] | None) -> T | None:
    return None if work is None else await work


def nearest(
    matrices: Sequence[tuple[np.ndarray, np.ndarray]], vector: Vectors, k: int
) -> list[tuple[int, float]]:
    """Exact top-k by cosine over (chunk ids, normalised vectors) matrices: one product,
    ~5 ms for 100K chunks × 256 on one core."""
    parts = [(ids, vectors) for ids, vectors in matrices if ids.size]
    if not parts:
        return []
    ids = np.concatenate([i for i, _ in parts])
    scores = np.concatenate([v @ vector for _, v in parts])
    top = min(k, ids.size)
    best = np.argpartition(-scores, top - 1)[:top]
    best = best[np.argsort(-scores[best])]
    return [(int(ids[i]), float(scores[i])) for i in best]


def _cosines(rows: Mapping[int, ChunkRow], vectors: Vectors) -> dict[int, float]:
    if not rows:
        return {}
    ids = list(rows)
    matrix = np.stack([np.frombuffer(rows[i].embedding, dtype=np.float32) for i in ids])
    best = (matrix @ vectors.T).max(axis=1)
    return {i: float(v) for i, v in zip(ids, best, strict=True)}


def _hit(row: ChunkRow, file: FileRow, score: float) -> Hit:
    return Hit(
        vector_store_id=row.vector_store_id,
        file_id=row.file_id,
        filename=file.filename,
        score=score,
        text=row.text,
        chunk_index=row.chunk_index,
        start=row.start,
        end=row.end,
        attributes=dict(file.attributes),
    )


def check_search(max_num_results: int, ranking_options: RankingOptions) -> None:
    """The bounds OpenAI states (shared by the search route and `file_search`)."""
    if not 1 <= max_num_results <= MAX_RESULTS:
        raise InvalidRequestError(
            f"Invalid 'max_num_results': {max_num_results}; it must be between 1 and "
            f"{MAX_RESULTS}.",
            param="max_num_results",
        )
    if min(ranking_options.embedding_weight, ranking_options.text_weight) < 0 or not (
        ranking_options.embedding_weight + ranking_options.text_weight > 0
    ):
        raise InvalidRequestError(
            "Invalid 'ranking_options.hybrid_search': the weights must not be negative and "
            "one must be above 0.",
            param="ranking_options.hybrid_search",
        )
    if not 0.0 <= ranking_options.score_threshold <= 1.0:
        raise InvalidRequestError(
            "Invalid 'ranking_options.score_threshold': it must be between 0 and 1.",
            param="ranking_options.score_threshold",
        )


def attributes_of(raw: Any) -> dict[str, str | float | bool]:
    value = json.loads(raw) if isinstance(raw, str | bytes) else raw
    return dict(value or {})
