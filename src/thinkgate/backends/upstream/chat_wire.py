"""The canonical (Responses-shaped) request → a Chat Completions body, for chat-only engines.

Items become messages (calls join the assistant message before them, as `tool_calls`;
call outputs become `tool` messages), tools and `tool_choice` take chat's nested form,
`text.format` becomes `response_format`, the effort `reasoning_effort`. Fields left at
their defaults are not sent, so strict engines see only what the client asked for.
"""

from __future__ import annotations

import json
from typing import Any, Literal

from thinkgate.core.request import CanonicalRequest, Item, OutputFormat
from thinkgate.errors import InvalidRequestError
from thinkgate.protocol.tool_choice import resolve_tool_choice
from thinkgate.protocol.tools import call_name

Message = dict[str, Any]
Compat = Literal["openai", "llama-cpp-python"]

_CALL_TYPES = ("function_call", "custom_tool_call")
_OUTPUT_TYPES = ("function_call_output", "custom_tool_call_output")


def chat_body(
    request: CanonicalRequest,
    upstream_model: str,
    max_output_tokens: int | None,
    compat: Compat = "openai",
    service_tier: str | None = None,
) -> dict[str, Any]:
    """`service_tier`: the tier this channel is sent (backends.upstream.service_tiers)."""
    body: dict[str, Any] = {
        "model": upstream_model,
        "messages": chat_messages(request),
        "stream": True,
        "stream_options": {"include_usage": True},
    }
    if request.tools:
        body["tools"] = [_chat_tool(tool, index) for index, tool in enumerate(request.tools)]
        body["tool_choice"] = _chat_tool_choice(request.tool_choice, request.tools)
        if not request.parallel_tool_calls:
            body["parallel_tool_calls"] = False
    response_format = _response_format(request.output_format, compat)
    if response_format is not None:
        body["response_format"] = response_format
    if request.reasoning_effort not in ("", "none"):
        body["reasoning_effort"] = request.reasoning_effort
    if request.verbosity != "medium":
        body["verbosity"] = request.verbosity
    if max_output_tokens is not None:
        cap = "max_tokens" if compat == "llama-cpp-python" else "max_completion_tokens"
        body[cap] = max_output_tokens
    _add_sampling(body, request)
    if request.context.assistant_prefix:  # reasoning.upstream_budget: the reply continues a prefix
        body["messages"].append({"role": "assistant", "content": request.context.assistant_prefix})
        body |= {"continue_final_message": True, "add_generation_prompt": False}
    for name in ("prompt_cache_key", "prompt_cache_retention", "safety_identifier", "user"):
        value = getattr(request, name)
        if value is not None:
            body[name] = value
    if service_tier is not None:
        body["service_tier"] = service_tier
    return body


def _add_sampling(body: dict[str, Any], request: CanonicalRequest) -> None:
    sampling = request.sampling
    defaults = {"temperature": 1.0, "top_p": 1.0, "presence_penalty": 0.0, "frequency_penalty": 0.0}
    for name, default in defaults.items():
        value = getattr(sampling, name)
        if value != default or name in request.context.explicit_sampling:
            body[name] = value
    if sampling.seed is not None:
        body["seed"] = sampling.seed
    if sampling.stop:
        body["stop"] = list(sampling.stop)
    if sampling.logprobs:
        body["logprobs"] = True
        if sampling.top_logprobs:
            body["top_logprobs"] = sampling.top_logprobs


# --- messages ------------------------------------------------------------------------


def chat_messages(request: CanonicalRequest) -> list[Message]:
    messages: list[Message] = []
    if request.instructions:
        messages.append({"role": "system", "content": request.instructions})
    for index, item in enumerate(request.all_items):
        kind = item.get("type", "message")
        if kind == "message":
            messages.append(_message(item, index))
        elif kind in _CALL_TYPES:
            _append_call(messages, item)
        elif kind in _OUTPUT_TYPES and item.get("call_id") is not None:
            messages.append(
                {"role": "tool", "tool_call_id": item["call_id"], "content": _output(item)}
            )
        elif kind == "reasoning":
            continue  # chat has no place for earlier reasoning; engines re-think
        else:
            messages.append(_as_text(item))
    return messages


def _message(item: Item, index: int) -> Message:
    role = "system" if item["role"] == "developer" else item["role"]
    content = item["content"]
    if isinstance(content, str):
        return {"role": role, "content": content}
    if role == "assistant":
        return {"role": role, "content": "".join(_part_text(part) for part in content)}
    parts = [_chat_part(part, index, i) for i, part in enumerate(content)]
    if all(part["type"] == "text" for part in parts):
        return {"role": role, "content": "".join(part["text"] for part in parts)}
    return {"role": role, "content": parts}


def _part_text(part: dict[str, Any]) -> str:
    return str(part.get("text") or part.get("refusal") or "")


def _chat_part(part: dict[str, Any], item_index: int, part_index: int) -> dict[str, Any]:
    kind = part.get("type")
    if kind in ("input_text", "output_text", "text"):
        return {"type": "text", "text": part["text"]}
    if kind == "input_image" and part.get("image_url"):
        image = {"url": part["image_url"], "detail": part.get("detail") or "auto"}
        return {"type": "image_url", "image_url": image}
    raise InvalidRequestError(
        f"Content of type '{kind}' cannot be sent to this model's upstream (chat completions).",
        param=f"input[{item_index}].content[{part_index}].type",
        code="unsupported_value",
    )


def _append_call(messages: list[Message], item: Item) -> None:
    """Consecutive calls are one assistant turn with several `tool_calls` (parallel)."""
    if item["type"] == "function_call":  # a namespaced one by its flat name (call_name)
        call = {
            "id": item["call_id"],
            "type": "function",
            "function": {"name": call_name(item), "arguments": item.get("arguments", "")},
        }
    else:
        call = {
            "id": item["call_id"],
            "type": "custom",
            "custom": {"name": call_name(item), "input": item.get("input", "")},
        }
    last = messages[-1] if messages else None
    if last is not None and last["role"] == "assistant" and "tool_calls" in last:
        last["tool_calls"].append(call)
    elif last is not None and last["role"] == "assistant" and last.get("content"):
        last["tool_calls"] = [call]
    else:
        messages.append({"role": "assistant", "content": None, "tool_calls": [call]})


def _output(item: Item) -> str:
    output = item.get("output", "")
    if isinstance(output, str):
        return output
    return "".join(_part_text(part) for part in output if isinstance(part, dict))


def _as_text(item: Item) -> Message:
    """Built-in tool items (apply_patch, shell) have no chat form: the model reads them as text."""
    kind = str(item.get("type"))
    fields = {k: v for k, v in item.items() if k not in ("id", "status")}
    role = "user" if kind.endswith("_output") else "assistant"
    return {"role": role, "content": f"[{kind}] {json.dumps(fields, ensure_ascii=False)}"}


# --- tools, formats -------------------------------------------------------------------


def _chat_tool(tool: dict[str, Any], index: int) -> dict[str, Any]:
    """Chat has no namespaces: a namespaced tool goes by its flat name (`call_name`), which
    the assembler maps back; a client-run tool search is offered as a function."""
    kind = tool.get("type")
    if kind in ("function", "tool_search"):
        function = {"name": call_name(tool), "parameters": tool.get("parameters") or {}}
        if tool.get("description") is not None:
            function["description"] = tool["description"]
        if tool.get("strict") is not None:
            function["strict"] = tool["strict"]
        return {"type": "function", "function": function}
    if kind == "custom":
        custom = {"name": call_name(tool), "format": tool.get("format") or {"type": "text"}}
        if tool.get("description") is not None:
            custom["description"] = tool["description"]
        return {"type": "custom", "custom": custom}
    raise InvalidRequestError(
        f"Tool type '{kind}' cannot be sent to this model's upstream (chat completions).",
        param=f"tools[{index}].type",
        code="unsupported_value",
    )


def _chat_tool_choice(
    choice: str | dict[str, Any], offered: list[dict[str, Any]]
) -> str | dict[str, Any]:
    """Responses' flat `{"type": "function", "name"}` → chat's nested form (either is accepted)."""
    if isinstance(choice, str):
        return choice
    kind = choice.get("type")
    if kind in ("function", "custom") and "name" in choice:
        _, (name,) = resolve_tool_choice(choice, offered)  # a namespaced one: its flat name
        return {"type": kind, kind: {"name": name}}
    if kind == "allowed_tools" and "tools" in choice:
        tools = [_chat_tool_choice(tool, offered) for tool in choice["tools"]]
        return {"type": "allowed_tools", "allowed_tools": {"mode": choice["mode"], "tools": tools}}
    return choice


def _response_format(fmt: OutputFormat, compat: Compat) -> dict[str, Any] | None:
    if fmt.type == "text":
        return None
    if fmt.type == "json_object":
        return {"type": "json_object"}
    if compat == "llama-cpp-python":  # its server takes the schema inside `json_object`
        return {"type": "json_object", "schema": fmt.schema}
    schema: dict[str, Any] = {"name": fmt.name, "schema": fmt.schema}
    if fmt.strict is not None:
        schema["strict"] = fmt.strict
    if fmt.description is not None:
        schema["description"] = fmt.description
    return {"type": "json_schema", "json_schema": schema}
