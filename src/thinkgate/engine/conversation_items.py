"""Items a client adds to a conversation: validated as input items, given ids."""

from __future__ import annotations

from typing import Any

from thinkgate.core.request import Item
from thinkgate.ids import new_id
from thinkgate.protocol.items import parse_input

_PREFIXES = {
    "message": "msg",
    "function_call": "fc",
    "function_call_output": "fco",
    "reasoning": "rs",
    "compaction": "cmp",
}


def new_items(raw: list[dict[str, Any]] | None, *, param: str = "items") -> list[Item]:
    """Validated, normalised items, each with an `id` (kept when the client sent one)."""
    items = parse_input(raw, param=param)
    for item in items:
        item.setdefault("id", new_id(_PREFIXES.get(item.get("type", "message"), "item")))
    return items
