"""Request models for `POST /v1/chat/completions` (strict in); messages are in
`protocol.chat_messages`.

Tools, like messages, are validated one at a time against the model their `type`
selects, so an error names the exact place (`tools[0].function.name`) rather than a
union member pydantic happened to try.
"""

from __future__ import annotations

from typing import Any, Literal, Self

from pydantic import ConfigDict, Field, field_validator, model_validator

from thinkgate.errors import InvalidRequestError
from thinkgate.protocol.common import (
    ReasoningEffort,
    ServiceTier,
    StrictModel,
    Verbosity,
    check_metadata,
    normalise_cache_retention,
)
from thinkgate.protocol.limits import MAX_INPUT_ITEMS, Tools
from thinkgate.protocol.parsing import validate

_NAME_PATTERN = r"^[a-zA-Z0-9_-]+$"


class ChatStreamOptions(StrictModel):
    include_usage: bool | None = None
    include_obfuscation: bool | None = None


class PromptCacheOptions(StrictModel):
    """After GPT-5.1 (reference §8): accepted, as the cache is not steered by it."""

    mode: Literal["implicit", "explicit"] | None = None
    ttl: Literal["30m"] | None = None


class ChatJsonSchema(StrictModel):
    name: str = Field(min_length=1, max_length=64, pattern=_NAME_PATTERN)
    description: str | None = None
    schema_: dict[str, Any] | None = Field(default=None, alias="schema")
    strict: bool | None = None

    model_config = ConfigDict(strict=True, extra="forbid", populate_by_name=True)


class ChatResponseFormat(StrictModel):
    """One model, not a tagged union, so errors read `response_format.json_schema.name`."""

    type: Literal["text", "json_object", "json_schema"]
    json_schema: ChatJsonSchema | None = None

    @model_validator(mode="after")
    def _schema_only_with_json_schema(self) -> Self:
        if self.type == "json_schema" and self.json_schema is None:
            raise ValueError("Missing required parameter: 'response_format.json_schema'.")
        if self.type != "json_schema" and self.json_schema is not None:
            raise ValueError("Unknown parameter: 'response_format.json_schema'.")
        return self


class ChatCompletionRequest(StrictModel):
    """`POST /v1/chat/completions`. `messages` and `tools` are checked one by one below."""

    model: str = Field(min_length=1)
    messages: list[dict[str, Any]] = Field(min_length=1, max_length=MAX_INPUT_ITEMS)
    stream: bool | None = None
    stream_options: ChatStreamOptions | None = None
    n: int | None = Field(default=None, ge=1, le=128)
    max_completion_tokens: int | None = Field(default=None, ge=1)
    max_tokens: int | None = Field(default=None, ge=1)
    temperature: float | None = Field(default=None, ge=0, le=2)
    top_p: float | None = Field(default=None, ge=0, le=1)
    presence_penalty: float | None = Field(default=None, ge=-2, le=2)
    frequency_penalty: float | None = Field(default=None, ge=-2, le=2)
    seed: int | None = None
    stop: str | list[str] | None = None
    logprobs: bool | None = None
    top_logprobs: int | None = Field(default=None, ge=0, le=20)
    reasoning_effort: ReasoningEffort | None = None
    verbosity: Verbosity | None = None
    response_format: ChatResponseFormat | None = None
    tools: Tools | None = None
    tool_choice: str | dict[str, Any] | None = None
    parallel_tool_calls: bool | None = None
    store: bool | None = None
    metadata: dict[str, str] | None = Field(default=None, max_length=16)
    prompt_cache_key: str | None = Field(default=None, max_length=1024)
    prompt_cache_retention: str | None = None
    safety_identifier: str | None = Field(default=None, max_length=64)
    service_tier: ServiceTier | None = None
    user: str | None = Field(default=None, max_length=512)
    # Known to the SDK but not served: parsed only to be refused by name (engine.chat_request).
    modalities: list[str] | None = None
    audio: Any = None
    prediction: Any = None
    web_search_options: Any = None
    logit_bias: Any = None
    functions: Any = None
    function_call: Any = None
    moderation: Any = None
    prompt_cache_options: PromptCacheOptions | None = None  # a caching hint: accepted, no effect

    _check_metadata = field_validator("metadata")(check_metadata)
    _normalise_retention = field_validator("prompt_cache_retention")(normalise_cache_retention)


class FunctionDefinition(StrictModel):
    name: str = Field(min_length=1, max_length=64, pattern=_NAME_PATTERN)
    description: str | None = None
    parameters: dict[str, Any] | None = None
    strict: bool | None = None


class FunctionTool(StrictModel):
    type: Literal["function"]
    function: FunctionDefinition


def parse_tools(raw: list[dict[str, Any]] | None) -> list[FunctionTool]:
    """Function tools only; other tool types are valid OpenAI but not served yet."""
    tools = []
    for index, tool in enumerate(raw or []):
        kind = tool.get("type")
        if kind != "function":
            raise InvalidRequestError(
                f"Tool type '{kind}' is not supported by this server yet.",
                param=f"tools[{index}].type",
                code="unsupported_value",
            )
        tools.append(validate(tool, FunctionTool, prefix=f"tools[{index}]"))
    return tools
