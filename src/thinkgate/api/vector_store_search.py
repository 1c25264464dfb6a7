"""`POST /v1/vector_stores/{id}/search`: the caller's store, searched by the hybrid index."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request

from thinkgate.api.deps import OwnerDep, ServicesDep
from thinkgate.errors import InvalidRequestError, NotFoundError
from thinkgate.files.access import owned_vector_store, touch_vector_store
from thinkgate.protocol import parse_body
from thinkgate.protocol.retrieval import VectorStoreSearchRequest
from thinkgate.retrieval import RankingOptions, chunk_index
from thinkgate.retrieval.fusion import rewrite
from thinkgate.retrieval.hybrid import check_search

router = APIRouter()


@router.post("/v1/vector_stores/{vector_store_id}/search")
async def search_vector_store(
    vector_store_id: str, request: Request, services: ServicesDep, owner: OwnerDep
) -> dict[str, Any]:
    body = parse_body(await request.body(), VectorStoreSearchRequest)
    store = await owned_vector_store(services.database, owner, vector_store_id)
    if store is None or store.expired():
        raise NotFoundError(
            f"No vector store found with id '{vector_store_id}'.",
            param="vector_store_id",
            code="not_found",
        )
    queries = [body.query] if isinstance(body.query, str) else list(body.query)
    if not all(q.strip() for q in queries):
        raise InvalidRequestError("Invalid 'query': empty string.", param="query")
    if body.rewrite_query:
        queries = [rewrite(q) for q in queries]
    ranking = body.ranking_options
    options = RankingOptions(
        ranker=(ranking.ranker if ranking else None) or "auto",
        score_threshold=(ranking.score_threshold if ranking else None) or 0.0,
    )
    check_search(body.max_num_results, options)
    filters = body.filters.model_dump() if body.filters is not None else None
    hits = await chunk_index(request.app.state).search(
        [vector_store_id], queries, filters, body.max_num_results, options
    )
    await touch_vector_store(services.database, vector_store_id)
    return {
        "object": "vector_store.search_results.page",
        "search_query": queries,
        "data": [
            {
                "file_id": hit.file_id,
                "filename": hit.filename,
                "score": hit.score,
                "attributes": hit.attributes,
                "content": [{"type": "text", "text": hit.text}],
            }
            for hit in hits
        ],
        "has_more": False,
        "next_page": None,
    }
