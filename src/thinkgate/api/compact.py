"""`POST /v1/responses/compact`: a long history in, a shorter one out; admitted, limited
and billed through the caller's account like any generation (ledger endpoint `compact`)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request

from thinkgate.api.deps import AccountDep, OwnerDep, ServicesDep
from thinkgate.api.urls import check_item_urls
from thinkgate.core.request import CanonicalRequest, RequestContext
from thinkgate.engine.compaction import Compactor
from thinkgate.errors import InvalidRequestError
from thinkgate.protocol import parse_body
from thinkgate.protocol.compaction import CompactRequest
from thinkgate.protocol.items import Item, parse_input

router = APIRouter()


@router.post("/v1/responses/compact")
async def compact(
    request: Request, services: ServicesDep, owner: OwnerDep, account: AccountDep
) -> dict[str, Any]:
    body = parse_body(await request.body(), CompactRequest)
    if body.input is None and body.previous_response_id is None:
        raise InvalidRequestError(
            "Missing required parameter: 'input'.", param="input", code="missing_required_parameter"
        )
    canonical = CanonicalRequest(
        model=body.model,
        input_items=await _checked(request, parse_input(body.input)),
        instructions=body.instructions,
        previous_response_id=body.previous_response_id,
        prompt_cache_key=body.prompt_cache_key,
        prompt_cache_retention=body.prompt_cache_retention,
        service_tier=body.service_tier,
        store=False,
        context=RequestContext(owner=owner),
    )
    return await Compactor(services.pipeline).compact(canonical, account)


async def _checked(request: Request, items: list[Item]) -> list[Item]:
    await check_item_urls(request, items, "input")
    return items
