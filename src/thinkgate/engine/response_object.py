"""The Response object: every field GPT-5.1 sends, plus the ones Open Responses requires."""

from __future__ import annotations

import copy
from typing import Any

import orjson

from thinkgate.core.request import CanonicalRequest, ResponseDict
from thinkgate.engine.prompt_templates import instructions_echo
from thinkgate.protocol.mcp_models import public_tools


def new_response(request: CanonicalRequest, response_id: str, created_at: int) -> ResponseDict:
    """The in-progress object echoed in `response.created`: request settings, no output."""
    return {
        "id": response_id,
        "object": "response",
        "created_at": created_at,
        "status": "in_progress",
        "background": request.background,
        "completed_at": None,
        "conversation": (
            {"id": request.conversation_id} if request.conversation_id is not None else None
        ),
        "error": None,
        "incomplete_details": None,
        "instructions": instructions_echo(request),
        "max_output_tokens": request.max_output_tokens,
        "max_tool_calls": request.max_tool_calls,
        "model": request.model,
        "output": [],
        "parallel_tool_calls": request.parallel_tool_calls,
        "previous_response_id": request.previous_response_id,
        "prompt_cache_key": request.prompt_cache_key,
        "prompt_cache_retention": request.prompt_cache_retention,
        "reasoning": {"effort": request.reasoning_effort, "summary": request.reasoning_summary},
        "safety_identifier": request.safety_identifier,
        "service_tier": request.service_tier or "auto",
        "store": request.store,
        "temperature": request.sampling.temperature,
        "text": {"format": request.output_format.to_wire(), "verbosity": request.verbosity},
        "tool_choice": request.tool_choice,
        "tools": request.tools
        if request.declared_tools is None
        else public_tools(request.declared_tools),
        "top_logprobs": request.sampling.top_logprobs,
        "top_p": request.sampling.top_p,
        "presence_penalty": request.sampling.presence_penalty,
        "frequency_penalty": request.sampling.frequency_penalty,
        "truncation": request.truncation,
        "usage": None,
        "user": request.user,
        "metadata": request.metadata,
        **({"prompt": request.prompt} if request.prompt is not None else {}),
    }


def snapshot(response: ResponseDict) -> ResponseDict:
    """A deep copy, so later mutation never changes an event already handed out.

    Through orjson: a response is plain JSON data, and the round trip is several times
    faster than `copy.deepcopy` (four snapshots per response, on the hot path).
    """
    try:
        copied: ResponseDict = orjson.loads(orjson.dumps(response))
    except TypeError:  # something that is not JSON (never expected): copy it the slow way
        return copy.deepcopy(response)
    return copied


def usage_object(
    input_tokens: int, cached_tokens: int, output_tokens: int, reasoning_tokens: int
) -> dict[str, Any]:
    return {
        "input_tokens": input_tokens,
        "input_tokens_details": {"cached_tokens": cached_tokens, "cache_write_tokens": 0},
        "output_tokens": output_tokens,
        "output_tokens_details": {"reasoning_tokens": reasoning_tokens},
        "total_tokens": input_tokens + output_tokens,
    }
