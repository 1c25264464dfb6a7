"""Request models for `POST /v1/responses` and its siblings (strict in)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import Field, StrictInt, field_validator

from thinkgate.protocol.common import (
    JsonObjectFormat,
    JsonSchemaFormat,
    ReasoningEffort,
    ServiceTier,
    StrictModel,
    TextFormat,
    Verbosity,
    check_metadata,
    normalise_cache_retention,
)
from thinkgate.protocol.limits import InputItems, Tools
from thinkgate.protocol.prompts import PromptParam

ResponseFormat = Annotated[
    TextFormat | JsonObjectFormat | JsonSchemaFormat, Field(discriminator="type")
]

Includable = Literal[
    "reasoning.encrypted_content",
    "message.output_text.logprobs",
    "message.input_image.image_url",
    "computer_call_output.output.image_url",
    "file_search_call.results",
    "web_search_call.results",
    "web_search_call.action.sources",
    "code_interpreter_call.outputs",
]


class ReasoningParam(StrictModel):
    effort: ReasoningEffort | None = None
    summary: Literal["auto", "concise", "detailed"] | None = None
    generate_summary: Literal["auto", "concise", "detailed"] | None = None


class TextParam(StrictModel):
    format: ResponseFormat | None = None
    verbosity: Verbosity | None = None


class StreamOptions(StrictModel):
    include_obfuscation: bool | None = None


class ConversationRef(StrictModel):
    id: str


class ContextManagement(StrictModel):
    """`context_management[i]`: server-side compaction (engine.context_management)."""

    type: Literal["compaction"]
    compact_threshold: StrictInt | None = Field(default=None, gt=0)  # None: the model's own


class CreateResponseRequest(StrictModel):
    """`POST /v1/responses`. Input items are validated one by one in `protocol.items`."""

    model: str = Field(min_length=1)
    input: str | InputItems | None = None
    instructions: str | None = None
    stream: bool | None = None
    stream_options: StreamOptions | None = None
    background: bool | None = None
    store: bool | None = None
    previous_response_id: str | None = Field(default=None, pattern=r"^[A-Za-z0-9_-]+$")
    conversation: str | ConversationRef | None = None
    include: list[Includable] | None = None
    reasoning: ReasoningParam | None = None
    text: TextParam | None = None
    tools: Tools | None = None
    tool_choice: str | dict[str, Any] | None = None
    parallel_tool_calls: bool | None = None
    max_output_tokens: int | None = Field(default=None, ge=16)
    max_tool_calls: int | None = Field(default=None, ge=0)
    temperature: float | None = Field(default=None, ge=0, le=2)
    top_p: float | None = Field(default=None, ge=0, le=1)
    top_logprobs: int | None = Field(default=None, ge=0, le=20)
    truncation: Literal["auto", "disabled"] | None = None
    metadata: dict[str, str] | None = Field(default=None, max_length=16)
    prompt_cache_key: str | None = Field(default=None, max_length=1024)
    prompt_cache_retention: str | None = None
    safety_identifier: str | None = Field(default=None, max_length=64)
    service_tier: ServiceTier | None = None
    user: str | None = Field(default=None, max_length=512)
    prompt: PromptParam | None = None  # a stored template (engine.prompt_templates)
    context_management: list[ContextManagement] | None = Field(default=None, max_length=1)
    # Codex's own bookkeeping (session and trace ids): accepted, never forwarded or stored.
    client_metadata: dict[str, str] | None = None
    # Parsed only to be refused with OpenAI's own explanation (see engine.requests).
    reasoning_effort: Any = None

    _check_metadata = field_validator("metadata")(check_metadata)
    _normalise_retention = field_validator("prompt_cache_retention")(normalise_cache_retention)


class InputTokensRequest(StrictModel):
    """`POST /v1/responses/input_tokens`: the prompt-shaping subset of a create request."""

    model: str = Field(min_length=1)
    input: str | InputItems | None = None
    instructions: str | None = None
    conversation: str | ConversationRef | None = None
    previous_response_id: str | None = Field(default=None, pattern=r"^[A-Za-z0-9_-]+$")
    reasoning: ReasoningParam | None = None
    text: TextParam | None = None
    tools: Tools | None = None
    tool_choice: str | dict[str, Any] | None = None
    parallel_tool_calls: bool | None = None
    truncation: Literal["auto", "disabled"] | None = None
