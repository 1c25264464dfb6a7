"""What hosted tool calls may cost one response: the cap on its calls and each hosted tool
type's price key (`[tool_pricing]`). The budget reserves `cap × the dearest declared price`
up front (gateway.account); the loop (engine.hosted_loop) and a pass-through upstream
(`max_tool_calls` sent) keep within the cap, so the reservation holds."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

# Calls one response makes when the request sets no `max_tool_calls`.
DEFAULT_MAX_CALLS = 10

# declared `type` → its price key in `[tool_pricing]`
PRICE_KEYS = {
    "web_search": "web_search",
    "web_search_2025_08_26": "web_search",
    "web_search_preview": "web_search",
    "web_search_preview_2025_03_11": "web_search",
    "mcp": "mcp",
    "code_interpreter": "code_interpreter",
    "file_search": "file_search",
}
HOSTED_TYPES = frozenset(PRICE_KEYS)


def call_cap(max_tool_calls: int | None) -> int:
    return DEFAULT_MAX_CALLS if max_tool_calls is None else max_tool_calls


def price_keys(types: Iterable[Any]) -> tuple[str, ...]:
    """The price keys of these declared tool types (each once, in order)."""
    keys = [PRICE_KEYS[kind] for kind in types if kind in PRICE_KEYS]
    return tuple(dict.fromkeys(keys))
