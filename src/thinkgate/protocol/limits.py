"""Size limits on what a request body may hold, beyond its byte size (`api/limits.py`).

OpenAI's documented limits where there are some (metadata: `protocol.common`; 128 tools);
our own elsewhere, generous for real clients and small enough that no later step
(validation, grammar building, prompt rendering, storage) can be made to recurse or loop
without bound.
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import Field

from thinkgate.errors import InvalidRequestError

MAX_JSON_DEPTH = 64  # nested arrays and objects in one body
MAX_INPUT_ITEMS = 2048  # `input` items of a response, `messages` of a chat completion
MAX_TOOLS = 128  # `tools` (OpenAI's limit)

InputItems = Annotated[list[dict[str, Any]], Field(max_length=MAX_INPUT_ITEMS)]
Tools = Annotated[list[dict[str, Any]], Field(max_length=MAX_TOOLS)]


def check_depth(raw: bytes, data: Any, limit: int = MAX_JSON_DEPTH) -> None:
    """Refuse a body nested deeper than `limit`. Costs one C-speed count for nearly every
    body: a body with fewer brackets than the limit cannot be that deep."""
    if raw.count(b"[") + raw.count(b"{") <= limit:
        return
    level: list[Any] = [data] if isinstance(data, dict | list) else []
    for _ in range(limit):  # after k steps, `level` holds the containers at depth k + 1
        level = [
            child
            for node in level
            for child in (node.values() if isinstance(node, dict) else node)
            if isinstance(child, dict | list)
        ]
        if not level:
            return
    raise InvalidRequestError(
        f"The request body is nested too deeply: at most {limit} levels of arrays and "
        "objects are allowed.",
        code="nesting_too_deep",
    )
