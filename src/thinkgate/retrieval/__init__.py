"""Retrieval: the hybrid chunk index over vector stores (BM25 full text fused with dense
vectors) and the embedding models it and `/v1/embeddings` use."""

from thinkgate.retrieval.index import Chunk, ChunkIndex, Hit, RankingOptions, chunk_index

__all__ = ["Chunk", "ChunkIndex", "Hit", "RankingOptions", "chunk_index", "open_chunk_index"]


def __getattr__(name: str) -> object:  # the opener imports the database drivers: lazily
    if name == "open_chunk_index":
        from thinkgate.retrieval.open import open_chunk_index

        return open_chunk_index
    raise AttributeError(name)
