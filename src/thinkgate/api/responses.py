"""The Responses API routes: create, retrieve, delete, input items, input token count."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request
from starlette.responses import Response

from thinkgate.api.deps import AccountDep, ApiKeyDep, ServicesDep
from thinkgate.api.json import JSONResponse
from thinkgate.api.sse import framed, sse_response
from thinkgate.engine.replay import replay_events
from thinkgate.engine.responses_request import canonical_from_responses, canonical_from_token_count
from thinkgate.errors import InvalidRequestError, NotFoundError
from thinkgate.protocol import parse_body
from thinkgate.protocol.responses import CreateResponseRequest, InputTokensRequest

router = APIRouter()


@router.post("/v1/responses")
async def create_response(request: Request, services: ServicesDep, account: AccountDep) -> Response:
    body = parse_body(await request.body(), CreateResponseRequest)
    run = await services.pipeline.start(canonical_from_responses(body), account)
    if body.stream:
        return sse_response(framed(run.events()))
    response = await run.collect()
    status = 500 if response["status"] == "failed" else 200
    return JSONResponse(response, status_code=status)


@router.post("/v1/responses/input_tokens")
async def count_input_tokens(
    request: Request, services: ServicesDep, _key: ApiKeyDep
) -> dict[str, Any]:
    body = parse_body(await request.body(), InputTokensRequest)
    count = await services.pipeline.count_input_tokens(canonical_from_token_count(body))
    return {"object": "response.input_tokens", "input_tokens": count}


@router.get("/v1/responses/{response_id}")
async def retrieve_response(
    response_id: str,
    services: ServicesDep,
    _key: ApiKeyDep,
    stream: bool = False,
    starting_after: Annotated[int | None, Query(ge=-1)] = None,
) -> Response:
    response = await _stored(services, response_id)
    if stream:
        events = replay_events(response, starting_after=starting_after)
        return sse_response(framed(events))
    return JSONResponse(response)


@router.delete("/v1/responses/{response_id}")
async def delete_response(
    response_id: str, services: ServicesDep, _key: ApiKeyDep
) -> dict[str, Any]:
    if not await services.responses.delete(response_id):
        raise _not_found(response_id)
    return {"id": response_id, "object": "response", "deleted": True}


@router.post("/v1/responses/{response_id}/cancel")
async def cancel_response(response_id: str, services: ServicesDep, _key: ApiKeyDep) -> Response:
    await _stored(services, response_id)
    raise InvalidRequestError(
        "Only responses created with background=true can be cancelled.",
        param="response_id",
        code="invalid_request",
    )


@router.get("/v1/responses/{response_id}/input_items")
async def list_input_items(
    response_id: str,
    services: ServicesDep,
    _key: ApiKeyDep,
    after: str | None = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
    order: Literal["asc", "desc"] = "desc",
) -> dict[str, Any]:
    await _stored(services, response_id)
    page = await services.responses.input_items(response_id, after=after, limit=limit, order=order)
    return {
        "object": "list",
        "data": page.items,
        "first_id": page.items[0]["id"] if page.items else None,
        "last_id": page.items[-1]["id"] if page.items else None,
        "has_more": page.has_more,
    }


async def _stored(services: ServicesDep, response_id: str) -> dict[str, Any]:
    response = await services.responses.get(response_id)
    if response is None:
        raise _not_found(response_id)
    return response


def _not_found(response_id: str) -> NotFoundError:
    return NotFoundError(
        f"No response found with id '{response_id}'.", param="response_id", code="not_found"
    )
