"""The Responses API routes: create, retrieve, delete, input items, input token count."""

from __future__ import annotations

from collections.abc import AsyncGenerator
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request
from starlette.responses import Response

from thinkgate.api.containers import check_containers
from thinkgate.api.deps import OwnerDep, ServicesDep, owner_of
from thinkgate.api.gateway_headers import gateway_headers
from thinkgate.api.generation import generation_caller
from thinkgate.api.json import JSONResponse
from thinkgate.api.prompt_use import use_stored_prompt
from thinkgate.api.sse import EventFraming, sse_response
from thinkgate.api.urls import check_item_urls
from thinkgate.engine.replay import replay_events
from thinkgate.engine.responses_request import canonical_from_responses, canonical_from_token_count
from thinkgate.errors import InvalidRequestError, NotFoundError
from thinkgate.protocol import parse_body
from thinkgate.protocol.client_headers import session_headers
from thinkgate.protocol.responses import CreateResponseRequest, InputTokensRequest
from thinkgate.protocol.turn_state import TURN_STATE, turn_state_reply

router = APIRouter()


async def create_response(request: Request) -> Response:
    """`POST /v1/responses`: a plain route (`api.generation`, registered in app.py)."""
    caller = await generation_caller(request)
    services, account = caller.services, caller.account
    owner = await owner_of(caller.key)
    body = parse_body(await request.body(), CreateResponseRequest)
    canonical = canonical_from_responses(body)
    await check_item_urls(request, canonical.input_items, "input")
    await use_stored_prompt(request, services, body, canonical)
    canonical.context.owner = owner
    canonical.context.key_id = account.key.id
    canonical.context.session_headers = session_headers(request.headers.items())
    declared = canonical.declared_tools or []
    await check_containers(request, declared, owner)  # code_interpreter's, the caller's own
    unavailable = services.pipeline.unavailable_tools(declared, canonical.model)
    if unavailable:  # accepted, echoed, not offered to the model (docs/clients.md)
        gateway_headers(request.scope)["x-thinkgate-unavailable-tools"] = ",".join(unavailable)
    if canonical.background:
        queued = await services.jobs.submit(canonical, account.key.id)
        if body.stream:
            return sse_response(_live_or_stored(services, queued, -1), framing=EventFraming())
        return JSONResponse(queued)
    run = await services.pipeline.start(canonical, account)
    turn_state = turn_state_reply(run.turn_state, canonical.context.session_headers)
    if turn_state is not None:  # Codex's sticky-routing token (protocol.turn_state)
        gateway_headers(request.scope)[TURN_STATE] = turn_state
    if body.stream:
        return sse_response(
            run.batches(), on_close=run.aclose, framing=EventFraming(), with_first_batch=True
        )
    response = await run.collect()
    status = 500 if response["status"] == "failed" else 200
    return JSONResponse(response, status_code=status)


@router.post("/v1/responses/input_tokens")
async def count_input_tokens(
    request: Request, services: ServicesDep, owner: OwnerDep
) -> dict[str, Any]:
    body = parse_body(await request.body(), InputTokensRequest)
    canonical = canonical_from_token_count(body)
    canonical.context.owner = owner
    count = await services.pipeline.count_input_tokens(canonical)
    return {"object": "response.input_tokens", "input_tokens": count}


@router.get("/v1/responses/{response_id}")
async def retrieve_response(
    response_id: str,
    services: ServicesDep,
    owner: OwnerDep,
    stream: bool = False,
    starting_after: Annotated[int | None, Query(ge=-1)] = None,
) -> Response:
    response = await _stored(services, response_id, owner)
    if stream:
        after = -1 if starting_after is None else starting_after
        return sse_response(_live_or_stored(services, response, after), framing=EventFraming())
    return JSONResponse(response)


@router.delete("/v1/responses/{response_id}")
async def delete_response(
    response_id: str, services: ServicesDep, owner: OwnerDep
) -> dict[str, Any]:
    if not await services.responses.delete(response_id, owner=owner):
        raise _not_found(response_id)
    return {"id": response_id, "object": "response", "deleted": True}


@router.post("/v1/responses/{response_id}/cancel")
async def cancel_response(response_id: str, services: ServicesDep, owner: OwnerDep) -> Response:
    """Idempotent: a finished background response comes back unchanged, as OpenAI does."""
    response = await _stored(services, response_id, owner)
    if not response.get("background"):
        raise InvalidRequestError(
            "Only responses created with background=true can be cancelled.",
            param="response_id",
            code="invalid_request",
        )
    if await services.jobs.cancel(response_id):
        response = await _stored(services, response_id, owner)
    return JSONResponse(response)


@router.get("/v1/responses/{response_id}/input_items")
async def list_input_items(
    response_id: str,
    services: ServicesDep,
    owner: OwnerDep,
    after: str | None = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
    order: Literal["asc", "desc"] = "desc",
) -> dict[str, Any]:
    await _stored(services, response_id, owner)
    page = await services.responses.input_items(response_id, after=after, limit=limit, order=order)
    return {
        "object": "list",
        "data": page.items,
        "first_id": page.items[0]["id"] if page.items else None,
        "last_id": page.items[-1]["id"] if page.items else None,
        "has_more": page.has_more,
    }


async def _stored(services: ServicesDep, response_id: str, owner: str) -> dict[str, Any]:
    """Someone else's response is not found, exactly like one that never existed."""
    response = await services.responses.get(response_id, owner=owner)
    if response is None:
        raise _not_found(response_id)
    return response


async def _live_or_stored(
    services: ServicesDep, response: dict[str, Any], starting_after: int
) -> AsyncGenerator[list[dict[str, Any]], None]:
    """A running background job's events (then live ones, on whichever replica it runs,
    each as it comes), its stored events once it has finished, or, for a foreground
    response, the response told again (what is stored: one batch)."""
    live = services.jobs.follow(response, starting_after)
    if live is not None:
        async for event in live:
            yield [event]
        return
    if response.get("background"):
        stored = await services.response_events.after(response["id"], -1)
        if stored:  # none only if the process died before its first batch was written
            yield [event for event in stored if event["sequence_number"] > starting_after]
            return
    yield [event async for event in replay_events(response, starting_after=starting_after)]


def _not_found(response_id: str) -> NotFoundError:
    return NotFoundError(
        f"No response found with id '{response_id}'.", param="response_id", code="not_found"
    )
