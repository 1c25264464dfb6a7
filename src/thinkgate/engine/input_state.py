"""This turn's input against what is stored, once the history is read (`prepare`):

item_reference {id}  → the caller's stored item with that id (404 when there is none)
an id seen twice     → OpenAI's "Duplicate item found" 400 (inline and by reference,
                       or already in the `previous_response_id` chain)
declared tools       → the callable ones, over the whole conversation (a
                       `tool_search_output` in the history loads its tools)
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from typing import Protocol

from thinkgate.core.request import CanonicalRequest, Item
from thinkgate.errors import InvalidRequestError, NotFoundError
from thinkgate.protocol.tool_catalog import callable_tools
from thinkgate.protocol.tool_choice import check_tool_choice


class ItemLookup(Protocol):
    async def find_items(self, ids: Sequence[str], *, owner: str | None) -> dict[str, Item]:
        """The stored items with these ids that `owner` may read (None: anyone's)."""
        ...


async def settle_input(request: CanonicalRequest, store: ItemLookup) -> None:
    param = request.context.param_names.get("input", "input")
    await _resolve_references(request, store, param)
    _refuse_duplicates(request, param)
    if request.declared_tools is not None:
        request.tools = callable_tools(request.declared_tools, request.all_items)
        if request.previous_response_id is not None or request.conversation_id is not None:
            check_tool_choice(request.tool_choice, request.tools, request.declared_tools)


async def _resolve_references(request: CanonicalRequest, store: ItemLookup, param: str) -> None:
    wanted = [item["id"] for item in request.input_items if item.get("type") == "item_reference"]
    if not wanted:
        return
    found = await store.find_items(wanted, owner=request.context.owner)
    resolved: list[Item] = []
    for item in request.input_items:
        if item.get("type") != "item_reference":
            resolved.append(item)
            continue
        stored = found.get(item["id"])
        if stored is None:
            raise NotFoundError(f"Item with id '{item['id']}' not found.", param=param, code=None)
        resolved.append(copy.deepcopy(stored))
    request.input_items[:] = resolved


def _refuse_duplicates(request: CanonicalRequest, param: str) -> None:
    """Ids must be unique where this turn's input is involved (an old chain that already
    repeats one is left as it was stored)."""
    earlier = {item["id"] for item in request.context.history if "id" in item}
    seen: set[str] = set()
    for item in request.input_items:
        item_id = item.get("id")
        if item_id is None:
            continue
        if item_id in seen or item_id in earlier:
            raise InvalidRequestError(
                f"Duplicate item found with id {item_id}. Remove duplicate items from your "
                "input and try again.",
                param=param,
                code=None,
            )
        seen.add(item_id)
