"""`tools` of both endpoints, validated one tool at a time.

The result is the canonical (Responses-shaped, flat) tool list, with the defaults the
live API echoes filled in (`strict: true`, `description: null`), and the tool choice
checked against it: a choice naming a tool that is not declared is a 400 naming
`tool_choice`, as OpenAI answers.

    responses  {"type":"function","name",…}    chat  {"type":"function","function":{…}}
               {"type":"custom","name","format"}     {"type":"custom","custom":{…}}
               {"type":"apply_patch"} {"type":"shell"}
               {"type":"namespace","name","description","tools":[function|custom…]}
               {"type":"tool_search","execution":"client",…}   {"type":"web_search",…}

What the model may call is worked out from this list by `protocol.tool_catalog`.
"""

from __future__ import annotations

from typing import Any

from thinkgate.errors import InvalidRequestError
from thinkgate.protocol.common import StrictModel
from thinkgate.protocol.parsing import validate
from thinkgate.protocol.tool_models import (
    CHAT_TOOLS,
    HOSTED,
    NAMESPACE_TOOLS,
    RESPONSES_TOOLS,
    SEARCH_PARAMETERS,
    WEB_SEARCH,
    ChatCustomTool,
    ChatFunctionTool,
    ChatGrammarInputFormat,
    CustomSpec,
    CustomTool,
    FunctionSpec,
    FunctionTool,
    GrammarInputFormat,
    NamespaceTool,
    TextInputFormat,
    ToolSearchTool,
)

Tool = dict[str, Any]


def namespaced_name(namespace: str, name: str) -> str:
    """The one name a namespaced tool is called by where namespaces do not exist (the
    embedded model's call syntax, chat-only upstreams): `crm` + `lookup` → `crm__lookup`;
    a namespace already ending in `__` (Codex's `mcp__server__`) is joined as it is."""
    return f"{namespace}{'' if namespace.endswith('__') else '__'}{name}"


def call_name(tool: Tool) -> str:
    """The name a call of this tool carries (apply_patch and shell are named by type; a
    tool inside a namespace by `namespaced_name`)."""
    if tool.get("namespace"):
        return namespaced_name(str(tool["namespace"]), str(tool["name"]))
    return str(tool.get("name") or tool["type"])


def parse_tools(
    raw: list[dict[str, Any]] | None, *, chat: bool = False, param: str = "tools"
) -> list[Tool]:
    """Validate each tool; return the canonical form (namespaces kept whole). The names
    calls would carry must be unique."""
    models = CHAT_TOOLS if chat else RESPONSES_TOOLS
    tools: list[Tool] = []
    seen: set[str] = set()
    for index, raw_tool in enumerate(raw or []):
        where = f"{param}[{index}]"
        tool = _parse_tool(raw_tool, where, models, chat=chat)
        for name, name_param in _call_names(tool, where, chat=chat):
            if name in seen:
                raise InvalidRequestError(
                    f"Invalid 'tools': duplicate tool name '{name}'.",
                    param=name_param,
                    code="invalid_value",
                )
            seen.add(name)
        tools.append(tool)
    return tools


def _parse_tool(raw: Any, where: str, models: dict[str, type[StrictModel]], *, chat: bool) -> Tool:
    if not isinstance(raw, dict):
        raise InvalidRequestError(
            f"Invalid type for '{where}': expected an object.", param=where, code="invalid_type"
        )
    kind = raw.get("type")
    model = models.get(kind) if isinstance(kind, str) else None
    if model is None:
        raise _unknown_tool_type(kind, where, models)
    return _canonical(validate(raw, model, prefix=where), where, chat=chat)


def _call_names(tool: Tool, where: str, *, chat: bool) -> list[tuple[str, str]]:
    """(call name, the param naming it) for each callable tool in `tool`."""
    if tool["type"] == "mcp":  # its tools are named by the server; its label is unique
        return [(f"mcp:{tool['server_label']}", f"{where}.server_label")]
    if tool["type"] == "namespace":
        return [
            (namespaced_name(tool["name"], inner["name"]), f"{where}.tools[{index}].name")
            for index, inner in enumerate(tool["tools"])
        ]
    nested = chat and tool["type"] == "function"
    return [(call_name(tool), f"{where}.function.name" if nested else f"{where}.name")]


def _unknown_tool_type(kind: Any, where: str, models: dict[str, Any]) -> InvalidRequestError:
    if models is CHAT_TOOLS and (kind in HOSTED or kind in WEB_SEARCH):
        return InvalidRequestError(
            f"Hosted tool '{kind}' is not supported with the Chat Completions API; use the "
            "Responses API (/v1/responses), which runs hosted tools.",
            param=f"{where}.type",
            code="unsupported_value",
        )
    if kind in HOSTED:
        return InvalidRequestError(
            f"Tool type '{kind}' is not supported by this server.",
            param=f"{where}.type",
            code="unsupported_value",
        )
    return InvalidRequestError(
        f"Invalid value: '{kind}'. Supported values are: "
        + ", ".join(f"'{name}'" for name in models)
        + ".",
        param=f"{where}.type",
        code="invalid_value",
    )


def _canonical(model: StrictModel, where: str, *, chat: bool) -> Tool:
    if isinstance(model, ChatFunctionTool | ChatCustomTool):
        spec = model.function if isinstance(model, ChatFunctionTool) else model.custom
        inner = "function" if isinstance(model, ChatFunctionTool) else "custom"
        return _canonical_spec(model.type, spec, f"{where}.{inner}", chat=True)
    if isinstance(model, FunctionTool | CustomTool):
        tool = _canonical_spec(model.type, model, where, chat=False)
        if model.defer_loading is not None:
            tool["defer_loading"] = model.defer_loading
        return tool
    if isinstance(model, NamespaceTool):
        members = [
            _parse_tool(raw, f"{where}.tools[{index}]", NAMESPACE_TOOLS, chat=False)
            for index, raw in enumerate(model.tools)
        ]
        return {
            "type": "namespace",
            "name": model.name,
            "description": model.description,
            "tools": members,
        }
    if isinstance(model, ToolSearchTool):
        return _tool_search(model, where)
    return model.model_dump(exclude_none=True)


def _tool_search(model: ToolSearchTool, where: str) -> Tool:
    if model.execution != "client":
        raise InvalidRequestError(
            "Only client-executed tool search is supported by this server: set 'execution' "
            "to 'client' and answer each 'tool_search_call' with a 'tool_search_output'.",
            param=f"{where}.execution",
            code="unsupported_value",
        )
    parameters = model.parameters if model.parameters is not None else SEARCH_PARAMETERS
    if parameters.get("type", "object") != "object":
        raise InvalidRequestError(
            "Invalid schema for 'tool_search': schema must be a JSON Schema of 'type: \"object\"'.",
            param=f"{where}.parameters",
            code="invalid_function_parameters",
        )
    return {
        "type": "tool_search",
        "execution": "client",
        "description": model.description,
        "parameters": parameters,
    }


def _canonical_spec(kind: str, spec: FunctionSpec | CustomSpec, where: str, *, chat: bool) -> Tool:
    if isinstance(spec, FunctionSpec):
        parameters = spec.parameters
        if parameters is not None and parameters.get("type", "object") != "object":
            raise InvalidRequestError(
                f"Invalid schema for function '{spec.name}': schema must be a JSON Schema of "
                f"'type: \"object\"', got 'type: \"{parameters.get('type')}\"'.",
                param=f"{where}.parameters",
                code="invalid_function_parameters",
            )
        return {
            "type": "function",
            "name": spec.name,
            "description": spec.description,
            "parameters": parameters,
            "strict": True if spec.strict is None else spec.strict,
        }
    tool: Tool = {"type": kind, "name": spec.name, "description": spec.description}
    tool["format"] = _custom_format(spec.format, f"{where}.format", chat=chat)
    return tool


def _custom_format(raw: dict[str, Any] | None, where: str, *, chat: bool) -> dict[str, Any]:
    """The canonical (Responses) form: `{"type":"grammar","syntax","definition"}`."""
    if raw is None:
        return {"type": "text"}
    kind = raw.get("type")
    if kind == "text":
        return validate(raw, TextInputFormat, prefix=where).model_dump()
    if kind == "grammar" and chat:
        grammar = validate(raw, ChatGrammarInputFormat, prefix=where).grammar
        return {"type": "grammar", **grammar.model_dump()}
    if kind == "grammar":
        return validate(raw, GrammarInputFormat, prefix=where).model_dump()
    raise InvalidRequestError(
        f"Invalid value: '{kind}'. Supported values are: 'text' and 'grammar'.",
        param=f"{where}.type",
        code="invalid_value",
    )
