"""The Conversations API: a conversation and its items, visible only to their owner."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request

from thinkgate.api.deps import OwnerDep, ServicesDep
from thinkgate.api.urls import check_item_urls
from thinkgate.engine.conversation_items import new_items
from thinkgate.errors import NotFoundError
from thinkgate.ids import new_id
from thinkgate.protocol import parse_body
from thinkgate.protocol.conversations import (
    CreateConversationRequest,
    CreateItemsRequest,
    UpdateConversationRequest,
)
from thinkgate.protocol.responses import Includable

router = APIRouter(prefix="/v1/conversations")

IncludeQuery = Annotated[list[Includable] | None, Query()]


@router.post("")
async def create_conversation(
    request: Request, services: ServicesDep, owner: OwnerDep
) -> dict[str, Any]:
    body = parse_body(await request.body(), CreateConversationRequest)
    items = new_items(body.items)
    await check_item_urls(request, items, "items")
    return await services.conversations.create(
        new_id("conv"), owner=owner, metadata=body.metadata or {}, items=items
    )


@router.get("/{conversation_id}")
async def retrieve_conversation(
    conversation_id: str, services: ServicesDep, owner: OwnerDep
) -> dict[str, Any]:
    return await _owned(services, conversation_id, owner)


@router.post("/{conversation_id}")
async def update_conversation(
    conversation_id: str, request: Request, services: ServicesDep, owner: OwnerDep
) -> dict[str, Any]:
    body = parse_body(await request.body(), UpdateConversationRequest)
    updated = await services.conversations.update_metadata(
        conversation_id, owner=owner, metadata=body.metadata or {}
    )
    if updated is None:
        raise _not_found(conversation_id)
    return updated


@router.delete("/{conversation_id}")
async def delete_conversation(
    conversation_id: str, services: ServicesDep, owner: OwnerDep
) -> dict[str, Any]:
    if not await services.conversations.delete(conversation_id, owner=owner):
        raise _not_found(conversation_id)
    return {"id": conversation_id, "object": "conversation.deleted", "deleted": True}


@router.post("/{conversation_id}/items")
async def create_items(
    conversation_id: str,
    request: Request,
    services: ServicesDep,
    owner: OwnerDep,
    include: IncludeQuery = None,
) -> dict[str, Any]:
    await _owned(services, conversation_id, owner)
    body = parse_body(await request.body(), CreateItemsRequest)
    items = new_items(body.items)
    await check_item_urls(request, items, "items")
    await services.conversations.append(conversation_id, items)
    return _page(items, has_more=False)


@router.get("/{conversation_id}/items")
async def list_items(
    conversation_id: str,
    services: ServicesDep,
    owner: OwnerDep,
    after: str | None = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
    order: Literal["asc", "desc"] = "desc",
    include: IncludeQuery = None,
) -> dict[str, Any]:
    await _owned(services, conversation_id, owner)
    page = await services.conversations.list_items(
        conversation_id, after=after, limit=limit, order=order
    )
    return _page(page.items, has_more=page.has_more)


@router.get("/{conversation_id}/items/{item_id}")
async def retrieve_item(
    conversation_id: str,
    item_id: str,
    services: ServicesDep,
    owner: OwnerDep,
    include: IncludeQuery = None,
) -> dict[str, Any]:
    await _owned(services, conversation_id, owner)
    item = await services.conversations.get_item(conversation_id, item_id)
    if item is None:
        raise _item_not_found(item_id)
    return item


@router.delete("/{conversation_id}/items/{item_id}")
async def delete_item(
    conversation_id: str, item_id: str, services: ServicesDep, owner: OwnerDep
) -> dict[str, Any]:
    """OpenAI answers with the conversation itself."""
    conversation = await _owned(services, conversation_id, owner)
    if not await services.conversations.delete_item(conversation_id, item_id):
        raise _item_not_found(item_id)
    return conversation


async def _owned(services: ServicesDep, conversation_id: str, owner: str) -> dict[str, Any]:
    conversation = await services.conversations.get(conversation_id, owner=owner)
    if conversation is None:
        raise _not_found(conversation_id)
    return conversation


def _page(items: list[dict[str, Any]], *, has_more: bool) -> dict[str, Any]:
    return {
        "object": "list",
        "data": items,
        "first_id": items[0]["id"] if items else None,
        "last_id": items[-1]["id"] if items else None,
        "has_more": has_more,
    }


def _not_found(conversation_id: str) -> NotFoundError:
    return NotFoundError(
        f"Conversation with id '{conversation_id}' not found.",
        param="conversation_id",
        code="not_found",
    )


def _item_not_found(item_id: str) -> NotFoundError:
    return NotFoundError(f"Item with id '{item_id}' not found.", param="item_id", code="not_found")
