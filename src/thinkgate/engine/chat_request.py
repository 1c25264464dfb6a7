"""`ChatCompletionRequest` (wire) → `CanonicalRequest`, plus what only chat rendering needs.

Decisions worth knowing:
- `store` is accepted but never persists a response: on chat it means OpenAI's stored
  completions, which this server does not offer; the canonical request has `store=False`.
- `max_tokens` and `max_completion_tokens` both cap output (no reasoning tokens locally);
  `max_tokens` is refused when the model follows GPT-5.1's rules and the effective effort
  is above `none` (a reasoning model), as OpenAI does (reference §7.3, engine.model_rules).
- `logprobs` counts as an explicitly set sampling parameter only when true: `false`
  asks for nothing.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any

from thinkgate.core.request import CanonicalRequest, OutputFormat, RequestContext, Sampling
from thinkgate.engine.chat_messages import items_from_messages
from thinkgate.errors import InvalidRequestError
from thinkgate.protocol.chat import ChatCompletionRequest, ChatResponseFormat
from thinkgate.protocol.chat_messages import parse_messages
from thinkgate.protocol.tool_choice import resolve_tool_choice
from thinkgate.protocol.tools import parse_tools

MAX_STOPS = 4
# SDK-known fields this server does not serve: refused by name, never silently ignored.
_REFUSED = ("audio", "prediction", "web_search_options", "functions", "function_call", "moderation")


@dataclass(slots=True, frozen=True)
class ChatCall:
    """One chat request: the canonical request, and how many choices to render how."""

    request: CanonicalRequest
    n: int = 1
    stream: bool = False
    include_usage: bool = False

    @property
    def logprobs(self) -> bool:
        return self.request.sampling.logprobs

    def choice_request(self, index: int) -> CanonicalRequest:
        """Choice `index`'s own copy; with a seed it gets seed + index, so choices differ
        yet each is reproducible. One choice (nearly every request) runs on the request
        itself: the deep copy is needless there, and it is on the hot path."""
        if self.n == 1:
            return self.request
        request = copy.deepcopy(self.request)
        if request.sampling.seed is not None:
            request.sampling.seed += index
        return request


def chat_call_from_body(body: ChatCompletionRequest) -> ChatCall:
    _refuse_unsupported(body)
    _check_cross_fields(body)
    tools = parse_tools(body.tools, chat=True)
    request = CanonicalRequest(
        model=body.model,
        input_items=items_from_messages(parse_messages(body.messages)),
        max_output_tokens=_max_output_tokens(body),
        sampling=_sampling(body),
        output_format=_output_format(body.response_format),
        verbosity=body.verbosity or "medium",
        reasoning_effort=body.reasoning_effort or "",
        tools=tools,
        tool_choice=_tool_choice(body.tool_choice, tools),
        parallel_tool_calls=True if body.parallel_tool_calls is None else body.parallel_tool_calls,
        store=False,
        metadata=dict(body.metadata or {}),
        prompt_cache_key=body.prompt_cache_key,
        prompt_cache_retention=body.prompt_cache_retention,
        safety_identifier=body.safety_identifier,
        user=body.user,
        service_tier=body.service_tier,
        include_obfuscation=not (
            body.stream_options is not None and body.stream_options.include_obfuscation is False
        ),
        streamed=bool(body.stream),
        context=RequestContext(
            param_names={
                "effort": "reasoning_effort",
                "input": "messages",
                "schema": "response_format.json_schema.schema",
                "tool": "tools[{index}].function",
                "grammar": "tools[{index}].custom.format.grammar.definition",
            },
            explicit_sampling=_explicit_sampling(body),
            legacy_max_tokens=body.max_tokens is not None,
        ),
    )
    return ChatCall(
        request=request,
        n=body.n or 1,
        stream=bool(body.stream),
        include_usage=bool(body.stream_options and body.stream_options.include_usage),
    )


def _max_output_tokens(body: ChatCompletionRequest) -> int | None:
    """Both spellings cap the visible output (the local engine spends no reasoning tokens)."""
    if body.max_completion_tokens is not None:
        return body.max_completion_tokens
    return body.max_tokens


def _sampling(body: ChatCompletionRequest) -> Sampling:
    stop = (body.stop,) if isinstance(body.stop, str) else tuple(body.stop or ())
    return Sampling(
        temperature=1.0 if body.temperature is None else body.temperature,
        top_p=1.0 if body.top_p is None else body.top_p,
        seed=body.seed,
        presence_penalty=body.presence_penalty or 0.0,
        frequency_penalty=body.frequency_penalty or 0.0,
        stop=stop,
        logprobs=bool(body.logprobs),
        top_logprobs=body.top_logprobs or 0,
    )


def _explicit_sampling(body: ChatCompletionRequest) -> tuple[str, ...]:
    """Parameters GPT-5.1 refuses above effort `none`, in the order OpenAI names them."""
    named = []
    if body.temperature is not None:
        named.append("temperature")
    if body.top_p is not None:
        named.append("top_p")
    if body.logprobs:
        named.append("logprobs")
    if body.top_logprobs is not None:
        named.append("top_logprobs")
    return tuple(named)


def _output_format(fmt: ChatResponseFormat | None) -> OutputFormat:
    if fmt is None or fmt.type == "text":
        return OutputFormat()
    if fmt.json_schema is None or fmt.json_schema.schema_ is None:
        return OutputFormat(type="json_object")  # a schema-less json_schema constrains to JSON
    spec = fmt.json_schema
    return OutputFormat(
        type="json_schema",
        name=spec.name,
        schema=spec.schema_,
        strict=spec.strict,
        description=spec.description,
    )


def _tool_choice(
    choice: str | dict[str, Any] | None, tools: list[dict[str, Any]]
) -> str | dict[str, Any]:
    """Chat's forms (`{"type":"function","function":{"name"}}`, nested `allowed_tools`)
    are checked here and understood as they are by `resolve_tool_choice` later."""
    if choice is None:
        return "auto" if tools else "none"
    resolve_tool_choice(choice, tools)
    return choice


def _refuse_unsupported(body: ChatCompletionRequest) -> None:
    """Valid requests we cannot honour get a clear 400 instead of a silent wrong answer."""
    for name in _REFUSED:
        if getattr(body, name) is not None:
            raise InvalidRequestError(
                f"Unsupported parameter: '{name}' is not supported by this server.",
                param=name,
                code="unsupported_parameter",
            )
    if body.logit_bias:
        raise InvalidRequestError(
            "Unsupported parameter: 'logit_bias' is not supported by this server.",
            param="logit_bias",
            code="unsupported_parameter",
        )
    if body.modalities is not None and body.modalities != ["text"]:
        raise InvalidRequestError(
            "Only the 'text' modality is supported by this server.",
            param="modalities",
            code="unsupported_value",
        )


def _check_cross_fields(body: ChatCompletionRequest) -> None:
    if body.stream_options is not None and not body.stream:
        raise InvalidRequestError(
            "The 'stream_options' parameter is only allowed when 'stream' is enabled.",
            param="stream_options",
            code="invalid_value",
        )
    if body.top_logprobs is not None and not body.logprobs:
        raise InvalidRequestError(
            "Invalid 'top_logprobs': 'logprobs' must be set to true to use 'top_logprobs'.",
            param="top_logprobs",
            code="invalid_value",
        )
    if isinstance(body.stop, list) and len(body.stop) > MAX_STOPS:
        raise InvalidRequestError(
            f"Invalid 'stop': array too long. Expected an array with maximum length "
            f"{MAX_STOPS}, but got an array with length {len(body.stop)} instead.",
            param="stop",
            code="array_above_max_length",
        )
    if body.max_tokens is not None and body.max_completion_tokens is not None:
        raise InvalidRequestError(
            "'max_tokens' and 'max_completion_tokens' cannot both be set; "
            "use 'max_completion_tokens'.",
            param="max_tokens",
            code="invalid_value",
        )
