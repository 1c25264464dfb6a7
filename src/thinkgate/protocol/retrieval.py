"""Wire models of the retrieval endpoints: vector store search and embeddings."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from thinkgate.protocol.common import StrictModel
from thinkgate.protocol.tool_models import ComparisonFilter, CompoundFilter


class SearchRanking(StrictModel):
    ranker: Literal["auto", "none", "default-2024-11-15"] | None = None
    score_threshold: float | None = Field(default=None, ge=0, le=1)


class VectorStoreSearchRequest(StrictModel):
    query: str | list[str] = Field(min_length=1)
    filters: ComparisonFilter | CompoundFilter | None = None
    max_num_results: int = Field(default=10, ge=1, le=50)
    ranking_options: SearchRanking | None = None
    rewrite_query: bool = False


class EmbeddingRequest(StrictModel):
    model: str = Field(min_length=1)
    input: str | list[str] | list[int] | list[list[int]]
    dimensions: int | None = Field(default=None, ge=1)
    encoding_format: Literal["float", "base64"] = "float"
    user: str | None = None
