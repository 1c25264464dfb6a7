"""`GET /v1/responses/{id}?stream=true`: a stored response told again as stream events.

Each output message is replayed as one text delta; `starting_after` skips the
events a client already has, as OpenAI's resume does.
"""

from __future__ import annotations

import copy
from collections.abc import AsyncIterator
from typing import Any

from thinkgate.core.request import ResponseDict

_TERMINAL = {"completed": "response.completed", "incomplete": "response.incomplete"}


async def replay_events(
    response: ResponseDict, *, starting_after: int | None = None
) -> AsyncIterator[dict[str, Any]]:
    for event in _events(response):
        if starting_after is None or event["sequence_number"] > starting_after:
            yield event


def _events(response: ResponseDict) -> list[dict[str, Any]]:
    opening = copy.deepcopy(response)
    opening.update(status="in_progress", output=[], usage=None, completed_at=None)
    opening.update(incomplete_details=None, error=None)
    events: list[dict[str, Any]] = [
        {"type": "response.created", "response": opening},
        {"type": "response.in_progress", "response": copy.deepcopy(opening)},
    ]
    for index, item in enumerate(response["output"]):
        events.extend(_item_events(index, item))
    terminal = _TERMINAL.get(response["status"], "response.failed")
    events.append({"type": terminal, "response": response})
    for number, event in enumerate(events):
        event["sequence_number"] = number
    return events


def _item_events(index: int, item: dict[str, Any]) -> list[dict[str, Any]]:
    if item.get("type") != "message":
        added = {**item, "status": "in_progress"}
        return [
            {"type": "response.output_item.added", "output_index": index, "item": added},
            {"type": "response.output_item.done", "output_index": index, "item": item},
        ]
    where = {"item_id": item["id"], "output_index": index}
    events: list[dict[str, Any]] = [
        {
            "type": "response.output_item.added",
            "output_index": index,
            "item": {**item, "status": "in_progress", "content": []},
        }
    ]
    for content_index, part in enumerate(item["content"]):
        empty = {**part, "text": "", "logprobs": []} if "text" in part else part
        events.append(
            {
                "type": "response.content_part.added",
                **where,
                "content_index": content_index,
                "part": empty,
            }
        )
        if part.get("type") == "output_text":
            common = {**where, "content_index": content_index, "logprobs": part.get("logprobs", [])}
            events.append({"type": "response.output_text.delta", **common, "delta": part["text"]})
            events.append({"type": "response.output_text.done", **common, "text": part["text"]})
        events.append(
            {
                "type": "response.content_part.done",
                **where,
                "content_index": content_index,
                "part": part,
            }
        )
    events.append({"type": "response.output_item.done", "output_index": index, "item": item})
    return events
