"""The chunk index: what ingestion writes and search reads (the contract between
`thinkgate.files` and `thinkgate.retrieval`).

How to reach it: `create_app`'s lifespan opens one right after `database.migrate()` with
`open_chunk_index(database)` and keeps it as `app.state.chunk_index` (request
handlers: `chunk_index(request.app.state)`); code built later in the lifespan (ingestion
workers) takes it as an argument. It is closed on shutdown.

    ingestion ─► add(store, file, filename, chunks, attributes)   one transaction per file:
                                                                   all its chunks or none
              ─► set_attributes / remove / drop_store
    search    ─► search(stores, queries, filters, max_num_results, ranking_options)
                 BM25 (FTS5 / PostgreSQL full text) ∪ dense (exact, in memory;
                 pgvector's HNSW for stores over 250K chunks, where it is installed)
                 ─► scored together (`auto`: normalised scores, mixed by the embedding
                    model's share; `none`: reciprocal rank) ─► scores in [0, 1]

`Chunk.start`/`end` are character offsets into the file's extracted text; a hit carries
them back so a citation can point at the place it came from.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

Attributes = Mapping[str, str | float | bool]
# An OpenAI `ComparisonFilter` / `CompoundFilter` as sent (a JSON object), or None;
# `thinkgate.retrieval.filters.parse_filter` validates it (a bad one: 400).
Filter = Mapping[str, Any] | None
Ranker = Literal["auto", "none", "default-2024-11-15", "default_2024_08_21"]


@dataclass(frozen=True, slots=True)
class Chunk:
    """One piece of a file's extracted text, in file order (`index` from 0)."""

    index: int
    text: str
    start: int
    end: int


@dataclass(frozen=True, slots=True)
class RankingOptions:
    """`ranker`: `none` returns the reciprocal-rank order; the others score the candidates
    (`fusion.scored`).
    `score_threshold`: hits scoring below it are dropped (scores are in [0, 1])."""

    ranker: str = "auto"
    score_threshold: float = 0.0
    # `hybrid_search`: how much each side counts in the fusion and the rerank
    embedding_weight: float = 1.0
    text_weight: float = 1.0


@dataclass(frozen=True, slots=True)
class Hit:
    """A chunk that matched, with its file's current attributes."""

    vector_store_id: str
    file_id: str
    filename: str
    score: float
    text: str
    chunk_index: int
    start: int
    end: int
    attributes: dict[str, str | float | bool] = field(default_factory=dict)


class ChunkIndex(Protocol):
    async def add(
        self,
        vector_store_id: str,
        file_id: str,
        filename: str,
        chunks: Sequence[Chunk],
        attributes: Attributes,
    ) -> None:
        """Index a file's chunks, replacing any earlier ones of that file in that store;
        atomic (a failure leaves the store as it was and raises)."""
        ...

    async def remove(self, vector_store_id: str, file_id: str) -> None:
        """Forget a file's chunks in one store (no error if there are none)."""
        ...

    async def set_attributes(
        self, vector_store_id: str, file_id: str, attributes: Attributes
    ) -> None:
        """Replace a file's attributes (what `filters` see) without re-indexing."""
        ...

    async def drop_store(self, vector_store_id: str) -> None:
        """Forget every chunk of a store."""
        ...

    async def search(
        self,
        vector_store_ids: Sequence[str],
        queries: Sequence[str],
        filters: Filter,
        max_num_results: int,
        ranking_options: RankingOptions,
    ) -> list[Hit]:
        """The best chunks for the queries across the stores, best first, at most
        `max_num_results`; raises `InvalidRequestError` for a bad filter. The caller has
        checked that the stores are the caller's."""
        ...

    async def usage_bytes(self, vector_store_id: str) -> int:
        """Bytes the store's chunks take (text and vectors), for `usage_bytes` and storage
        billing."""
        ...

    async def aclose(self) -> None: ...


def chunk_index(state: Any) -> ChunkIndex:
    """The server's chunk index (set on `app.state` by the lifespan)."""
    index: ChunkIndex = state.chunk_index
    return index
