"""`CreateResponseRequest` (wire) → `CanonicalRequest`, with GPT-5.1's cross-field rules."""

from __future__ import annotations

from thinkgate.core.request import CanonicalRequest, OutputFormat, RequestContext, Sampling
from thinkgate.errors import InvalidRequestError
from thinkgate.protocol.common import JsonObjectFormat, JsonSchemaFormat
from thinkgate.protocol.items import parse_input
from thinkgate.protocol.responses import (
    ConversationRef,
    CreateResponseRequest,
    InputTokensRequest,
    TextParam,
)
from thinkgate.protocol.tool_catalog import callable_tools
from thinkgate.protocol.tool_choice import check_tool_choice
from thinkgate.protocol.tools import parse_tools


def canonical_from_responses(body: CreateResponseRequest) -> CanonicalRequest:
    _refuse_unsupported(body)
    effort = body.reasoning.effort if body.reasoning and body.reasoning.effort else None
    summary = None
    if body.reasoning:
        summary = body.reasoning.summary or body.reasoning.generate_summary
    declared = parse_tools(body.tools)
    input_items = parse_input(body.input)
    tools = callable_tools(declared, input_items)
    if body.previous_response_id is None and body.conversation is None:
        check_tool_choice(body.tool_choice, tools, declared)  # else once the history is read
    return CanonicalRequest(
        model=body.model,
        input_items=input_items,
        instructions=body.instructions,
        max_output_tokens=body.max_output_tokens,
        sampling=Sampling(
            temperature=1.0 if body.temperature is None else body.temperature,
            top_p=1.0 if body.top_p is None else body.top_p,
            top_logprobs=body.top_logprobs or 0,
            logprobs="message.output_text.logprobs" in (body.include or []),
        ),
        output_format=output_format_from_text(body.text),
        verbosity=(body.text.verbosity if body.text and body.text.verbosity else "medium"),
        reasoning_effort=effort or "",
        reasoning_summary=summary,
        tools=tools,
        declared_tools=declared,
        tool_choice=body.tool_choice if body.tool_choice is not None else "auto",
        parallel_tool_calls=True if body.parallel_tool_calls is None else body.parallel_tool_calls,
        max_tool_calls=body.max_tool_calls,
        truncation=body.truncation or "disabled",
        store=True if body.store is None else body.store,
        metadata=dict(body.metadata or {}),
        previous_response_id=body.previous_response_id,
        prompt_cache_key=body.prompt_cache_key,
        prompt_cache_retention=body.prompt_cache_retention,
        safety_identifier=body.safety_identifier,
        user=body.user,
        service_tier=body.service_tier,
        include=tuple(body.include or ()),
        include_obfuscation=not (
            body.stream_options is not None and body.stream_options.include_obfuscation is False
        ),
        background=bool(body.background),
        streamed=bool(body.stream or body.background),  # a background job can be followed
        conversation_id=_conversation_id(body.conversation),
        compact_threshold=_compact_threshold(body),
        context=RequestContext(
            param_names={"effort": "reasoning.effort"},
            explicit_sampling=tuple(
                name
                for name in ("temperature", "top_p", "top_logprobs")
                if getattr(body, name) is not None
            ),
        ),
    )


def _compact_threshold(body: CreateResponseRequest) -> int | None:
    """The one `compaction` entry's threshold (0: the model's own), or None: no compaction."""
    if not body.context_management:
        return None
    return body.context_management[0].compact_threshold or 0


def _conversation_id(conversation: str | ConversationRef | None) -> str | None:
    """`conversation` is an id or `{"id": …}` on the wire."""
    if isinstance(conversation, ConversationRef):
        return conversation.id
    return conversation


def output_format_from_text(text: TextParam | None) -> OutputFormat:
    fmt = text.format if text else None
    if isinstance(fmt, JsonSchemaFormat):
        return OutputFormat(
            type="json_schema",
            name=fmt.name,
            schema=fmt.schema_,
            strict=fmt.strict,
            description=fmt.description,
        )
    if isinstance(fmt, JsonObjectFormat):
        return OutputFormat(type="json_object")
    return OutputFormat()


def _refuse_unsupported(body: CreateResponseRequest) -> None:
    """Valid requests we cannot honour yet get a clear 400 instead of a silent wrong answer."""
    if body.reasoning_effort is not None:
        raise InvalidRequestError(
            "Unsupported parameter: 'reasoning_effort'. In the Responses API, this parameter has "
            "moved to 'reasoning.effort'. Try again with the new parameter.",
            param=None,
            code="unsupported_parameter",
        )
    if body.previous_response_id is not None and body.conversation is not None:
        raise InvalidRequestError(
            "Mutually exclusive parameters: 'previous_response_id' and 'conversation'. "
            "Ensure you are only providing one of: 'previous_response_id' or 'conversation'.",
            param="conversation",
            code="mutually_exclusive_parameters",
        )
    if body.stream_options is not None and not body.stream:
        raise InvalidRequestError(
            "Invalid 'stream_options': only allowed when 'stream' is true.",
            param="stream_options",
            code="invalid_value",
        )
    if body.background and body.store is False:
        raise InvalidRequestError(
            "Background responses must be stored: 'background' requires 'store' to be true.",
            param="background",
            code="invalid_value",
        )
    if body.background and any(
        tool.get("type") == "mcp" and (tool.get("headers") or tool.get("authorization"))
        for tool in body.tools or ()
        if isinstance(tool, dict)
    ):
        raise InvalidRequestError(  # a queued job would have to store them (docs/mcp.md)
            "MCP credentials ('headers', 'authorization') are not accepted with 'background': "
            "they are never stored. Configure the server in [mcp.servers] instead.",
            param="background",
            code="unsupported_value",
        )
    if body.input is None and body.previous_response_id is None and body.prompt is None:
        raise InvalidRequestError(
            "Missing required parameter: 'input'.", param="input", code="missing_required_parameter"
        )


def canonical_from_token_count(body: InputTokensRequest) -> CanonicalRequest:
    """Token counting shapes the prompt exactly as a create request would."""
    create = CreateResponseRequest.model_construct(
        **{name: getattr(body, name) for name in InputTokensRequest.model_fields},
    )
    return canonical_from_responses(create)
