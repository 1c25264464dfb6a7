"""The wire models of `tools` entries (Responses and Chat), validated by `protocol.tools`."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from thinkgate.protocol.common import StrictModel
from thinkgate.protocol.mcp_models import McpTool

NAME = Field(min_length=1, max_length=64, pattern=r"^[a-zA-Z0-9_-]+$")
# Hosted tools a search provider would serve: accepted (Codex always sends one), left out
# of what the model sees until one is configured (docs/clients.md).
WEB_SEARCH = (
    "web_search",
    "web_search_2025_08_26",
    "web_search_preview",
    "web_search_preview_2025_03_11",
)
HOSTED = (
    "file_search",
    "code_interpreter",
    "image_generation",
    "computer_use_preview",
    "mcp",
    "local_shell",
)


class TextInputFormat(StrictModel):
    type: Literal["text"]


class GrammarInputFormat(StrictModel):
    type: Literal["grammar"]
    syntax: Literal["lark", "regex"]
    definition: str = Field(min_length=1)


class GrammarSpec(StrictModel):
    syntax: Literal["lark", "regex"]
    definition: str = Field(min_length=1)


class ChatGrammarInputFormat(StrictModel):
    """Chat nests the grammar: `{"type":"grammar","grammar":{"syntax","definition"}}`."""

    type: Literal["grammar"]
    grammar: GrammarSpec


class FunctionSpec(StrictModel):
    name: str = NAME
    description: str | None = None
    parameters: dict[str, Any] | None = None
    strict: bool | None = None


class FunctionTool(FunctionSpec):
    type: Literal["function"]
    defer_loading: bool | None = None  # offered once a `tool_search_output` loads it


class CustomSpec(StrictModel):
    name: str = NAME
    description: str | None = None
    format: dict[str, Any] | None = None


class CustomTool(CustomSpec):
    type: Literal["custom"]
    defer_loading: bool | None = None


class NamespaceTool(StrictModel):
    """Function and custom tools grouped under one name (Codex's MCP servers)."""

    type: Literal["namespace"]
    name: str = NAME
    description: str
    tools: list[dict[str, Any]] = Field(min_length=1)


class ToolSearchTool(StrictModel):
    """Deferred tools found by a search the client runs (`tool_search_call` → its
    `tool_search_output`)."""

    type: Literal["tool_search"]
    execution: Literal["client", "server"] | None = None
    description: str | None = None
    parameters: dict[str, Any] | None = None


class WebSearchFilters(StrictModel):
    allowed_domains: list[str] | None = None


class WebSearchLocation(StrictModel):
    type: Literal["approximate"] | None = None
    city: str | None = None
    country: str | None = None
    region: str | None = None
    timezone: str | None = None


class WebSearchTool(StrictModel):
    """OpenAI's fields, and Codex's (`external_web_access`, `index_gated_web_access`)."""

    type: Literal[
        "web_search", "web_search_2025_08_26", "web_search_preview", "web_search_preview_2025_03_11"
    ]
    filters: WebSearchFilters | None = None
    user_location: WebSearchLocation | None = None
    search_context_size: Literal["low", "medium", "high"] | None = None
    search_content_types: list[Literal["text", "image"]] | None = None
    external_web_access: bool | None = None
    index_gated_web_access: bool | None = None


class ComparisonFilter(StrictModel):
    type: Literal["eq", "ne", "gt", "gte", "lt", "lte", "in", "nin"]
    key: str = Field(min_length=1)
    value: str | float | bool | list[str | float]


class CompoundFilter(StrictModel):
    type: Literal["and", "or"]
    filters: list[ComparisonFilter | CompoundFilter] = Field(min_length=1)


class FileSearchHybrid(StrictModel):
    embedding_weight: float = Field(ge=0)
    text_weight: float = Field(ge=0)


class FileSearchRanking(StrictModel):
    ranker: Literal["auto", "none", "default-2024-11-15"] | None = None
    score_threshold: float | None = Field(default=None, ge=0, le=1)
    hybrid_search: FileSearchHybrid | None = None


class FileSearchTool(StrictModel):
    """Searched by the gateway (hosted.file_search) in the caller's own vector stores."""

    type: Literal["file_search"]
    vector_store_ids: list[str] = Field(min_length=1, max_length=16)
    filters: ComparisonFilter | CompoundFilter | None = None
    max_num_results: int | None = Field(default=None, ge=1, le=50)
    ranking_options: FileSearchRanking | None = None


class CodeInterpreterAuto(StrictModel):
    type: Literal["auto"]
    file_ids: list[str] | None = Field(default=None, max_length=50)
    memory_limit: Literal["1g", "4g", "16g", "64g"] | None = None


class CodeInterpreterTool(StrictModel):
    """Run by the gateway (hosted.code_interpreter) in a sandboxed container."""

    type: Literal["code_interpreter"]
    container: str | CodeInterpreterAuto
    allowed_callers: list[Literal["direct", "programmatic"]] | None = None


class ShellEnvironment(StrictModel):
    type: Literal["local"]


class ApplyPatchTool(StrictModel):
    type: Literal["apply_patch"]


class ShellTool(StrictModel):
    type: Literal["shell"]
    environment: ShellEnvironment | None = None


class ChatFunctionTool(StrictModel):
    type: Literal["function"]
    function: FunctionSpec


class ChatCustomTool(StrictModel):
    type: Literal["custom"]
    custom: CustomSpec


RESPONSES_TOOLS: dict[str, type[StrictModel]] = {
    "function": FunctionTool,
    "custom": CustomTool,
    "apply_patch": ApplyPatchTool,
    "shell": ShellTool,
    "namespace": NamespaceTool,
    "tool_search": ToolSearchTool,
    **{kind: WebSearchTool for kind in WEB_SEARCH},
    "mcp": McpTool,
    "file_search": FileSearchTool,
    "code_interpreter": CodeInterpreterTool,
}
NAMESPACE_TOOLS: dict[str, type[StrictModel]] = {"function": FunctionTool, "custom": CustomTool}
SEARCH_PARAMETERS = {
    "type": "object",
    "properties": {"query": {"type": "string"}},
    "required": ["query"],
    "additionalProperties": False,
}
CHAT_TOOLS: dict[str, type[StrictModel]] = {"function": ChatFunctionTool, "custom": ChatCustomTool}
