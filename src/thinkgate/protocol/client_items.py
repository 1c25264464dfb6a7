"""Input items agentic clients replay that thinkgate does not produce itself (docs/clients.md).

    web_search_call        a hosted search an earlier (OpenAI) turn ran: kept, not re-run
    file_search_call       likewise, a search of vector stores
    tool_search_call       the model asked the client to search its deferred tools
    tool_search_output     the client's answer: tool definitions, callable from then on
    item_reference         a stored item by id (resolved by `engine.input_state`)

Fields clients keep for themselves (Codex's `internal_chat_message_metadata_passthrough`)
are removed from every item before validation: never stored, never forwarded.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from thinkgate.protocol.common import StrictModel

CLIENT_PRIVATE_FIELDS = ("internal_chat_message_metadata_passthrough",)
Status = Literal["in_progress", "completed", "incomplete"]


class SearchSource(StrictModel):
    type: Literal["url"]
    url: str


class SearchAction(StrictModel):
    type: Literal["search"]
    query: str | None = None
    queries: list[str] | None = None
    sources: list[SearchSource] | None = None


class OpenPageAction(StrictModel):
    type: Literal["open_page"]
    url: str | None = None


class FindInPageAction(StrictModel):
    type: Literal["find_in_page"]
    pattern: str
    url: str


class WebSearchCall(StrictModel):
    type: Literal["web_search_call"]
    id: str | None = None
    status: Literal["in_progress", "searching", "completed", "failed"] | None = None
    action: SearchAction | OpenPageAction | FindInPageAction | None = Field(
        default=None, discriminator="type"
    )


class FileSearchResult(StrictModel):
    file_id: str | None = None
    filename: str | None = None
    score: float | None = None
    text: str | None = None
    attributes: dict[str, str | float | bool] | None = None


class FileSearchCall(StrictModel):
    """An earlier turn's `file_search_call` (the Agents SDK sends the run's items back)."""

    type: Literal["file_search_call"]
    id: str | None = None
    queries: list[str] = Field(default_factory=list)
    status: Literal["in_progress", "searching", "completed", "incomplete", "failed"] | None = None
    results: list[FileSearchResult] | None = None


class ToolSearchCall(StrictModel):
    type: Literal["tool_search_call"]
    arguments: Any
    id: str | None = None
    call_id: str | None = Field(default=None, max_length=64)
    execution: Literal["client", "server"] | None = None
    status: Status | None = None
    created_by: str | None = None


class ToolSearchOutput(StrictModel):
    """`tools` are validated as `tools` entries are, by `protocol.items`."""

    type: Literal["tool_search_output"]
    tools: list[dict[str, Any]]
    id: str | None = None
    call_id: str | None = Field(default=None, max_length=64)
    execution: Literal["client", "server"] | None = None
    status: Status | None = None
    created_by: str | None = None


class ItemReference(StrictModel):
    type: Literal["item_reference"] = "item_reference"
    id: str = Field(min_length=1, max_length=200)


CLIENT_ITEM_MODELS: dict[str, type[StrictModel]] = {
    "web_search_call": WebSearchCall,
    "file_search_call": FileSearchCall,
    "tool_search_call": ToolSearchCall,
    "tool_search_output": ToolSearchOutput,
    "item_reference": ItemReference,
}


def without_private_fields(raw: dict[str, Any]) -> dict[str, Any]:
    if not any(name in raw for name in CLIENT_PRIVATE_FIELDS):
        return raw
    return {key: value for key, value in raw.items() if key not in CLIENT_PRIVATE_FIELDS}


def is_bare_reference(raw: dict[str, Any]) -> bool:
    """The SDK's `ItemReference` may leave out its type: `{"id": "msg_…"}` alone."""
    return "type" not in raw and set(raw) == {"id"}
