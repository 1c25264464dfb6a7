"""`tools` and `tool_choice` of both endpoints, validated one tool at a time.

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

from typing import Any, Literal

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


# --- tool_choice ---------------------------------------------------------------------

Mode = Literal["none", "auto", "required"]


def check_tool_choice(
    choice: str | dict[str, Any] | None, tools: list[Tool], declared: list[Tool] | None = None
) -> None:
    """A Responses `tool_choice` must be well formed and name only declared tools (a hosted
    tool's type, `{"type": "web_search_preview"}`, names a declared hosted tool)."""
    if choice is None:
        return
    kind = hosted_choice(choice)
    if kind is None:
        resolve_tool_choice(choice, tools)
    elif kind == "mcp":
        _check_mcp_choice(choice, declared)
    elif kind in ("file_search", "code_interpreter"):
        if declared is not None and not any(t["type"] == kind for t in declared):
            raise InvalidRequestError(
                f"Tool choice '{kind}' not found in 'tools' parameter.",
                param="tool_choice",
                code="invalid_value",
            )
    elif declared is not None and not any(tool["type"] in WEB_SEARCH for tool in declared):
        raise InvalidRequestError(
            f"Tool choice '{kind}' not found in 'tools' parameter.",
            param="tool_choice",
            code="invalid_value",
        )


def hosted_choice(choice: str | dict[str, Any] | None) -> str | None:
    """The hosted tool type a `tool_choice` forces (`{"type": "web_search"}`), if it does;
    the gateway's tool loop turns it into a choice of the function it offers."""
    if isinstance(choice, dict) and choice.get("type") in (
        *WEB_SEARCH,
        "mcp",
        "file_search",
        "code_interpreter",
    ):
        return str(choice["type"])
    return None


def _check_mcp_choice(choice: str | dict[str, Any], declared: list[Tool] | None) -> None:
    """`{"type": "mcp", "server_label", "name"?}` must name a declared MCP server."""
    assert isinstance(choice, dict)
    label = choice.get("server_label")
    if not isinstance(label, str) or not label:
        raise InvalidRequestError(
            "Missing required parameter: 'tool_choice.server_label'.",
            param="tool_choice.server_label",
            code="missing_required_parameter",
        )
    if declared is not None and not any(
        tool["type"] == "mcp" and tool.get("server_label") == label for tool in declared
    ):
        raise InvalidRequestError(
            f"Tool choice 'mcp' with server_label '{label}' not found in 'tools' parameter.",
            param="tool_choice",
            code="invalid_value",
        )


def resolve_tool_choice(choice: str | dict[str, Any], tools: list[Tool]) -> tuple[Mode, list[str]]:
    """Any wire form (Responses or Chat) → (mode, call names the model may use)."""
    names = [call_name(tool) for tool in tools]
    if isinstance(choice, str):
        if choice not in ("none", "auto", "required"):
            raise InvalidRequestError(
                f"Invalid value: '{choice}'. Supported values are: 'none', 'auto', and 'required'.",
                param="tool_choice",
                code="invalid_value",
            )
        if choice == "required" and not tools:
            raise _choice_without_tools()
        return choice, names  # type: ignore[return-value]
    if not isinstance(choice, dict):
        raise InvalidRequestError(
            "Invalid type for 'tool_choice': expected a string or an object.",
            param="tool_choice",
            code="invalid_type",
        )
    if not tools:
        raise _choice_without_tools()
    kind = choice.get("type")
    if kind == "allowed_tools":
        return _allowed_tools(choice, tools)
    return "required", [_named(choice, tools, "tool_choice")]


def _allowed_tools(choice: dict[str, Any], tools: list[Tool]) -> tuple[Mode, list[str]]:
    spec = choice.get("allowed_tools") if "allowed_tools" in choice else choice  # chat nests
    if not isinstance(spec, dict):
        raise InvalidRequestError(
            "Invalid type for 'tool_choice.allowed_tools': expected an object.",
            param="tool_choice.allowed_tools",
            code="invalid_type",
        )
    where = "tool_choice.allowed_tools" if spec is not choice else "tool_choice"
    mode = spec.get("mode")
    if mode not in ("auto", "required"):
        raise InvalidRequestError(
            f"Invalid value: {mode!r}. Supported values are: 'auto' and 'required'.",
            param=f"{where}.mode",
            code="invalid_value",
        )
    listed = spec.get("tools")
    if not isinstance(listed, list) or not listed:
        raise InvalidRequestError(
            f"Invalid '{where}.tools': expected a non-empty array of tools.",
            param=f"{where}.tools",
            code="invalid_value",
        )
    names = [_named(entry, tools, f"{where}.tools[{i}]") for i, entry in enumerate(listed)]
    return mode, names


def _named(choice: Any, tools: list[Tool], where: str) -> str:
    """`{"type":"function","name"}`, chat's `{"type":"function","function":{"name"}}`,
    `{"type":"custom",…}`, `{"type":"apply_patch"}`, `{"type":"shell"}` → the call name."""
    if not isinstance(choice, dict):
        raise InvalidRequestError(
            f"Invalid type for '{where}': expected an object.", param=where, code="invalid_type"
        )
    kind = choice.get("type")
    if kind in ("apply_patch", "shell"):
        name = kind
    elif kind in ("function", "custom"):
        nested = choice.get(kind)
        name = nested.get("name") if isinstance(nested, dict) else choice.get("name")
        if not isinstance(name, str) or not name:
            raise InvalidRequestError(
                f"Missing required parameter: '{where}.name'.",
                param=f"{where}.name",
                code="missing_required_parameter",
            )
        return _named_member(kind, name, choice.get("namespace"), tools, where)
    else:
        raise InvalidRequestError(
            f"Invalid value: '{kind}'. Supported values are: 'function', 'custom', "
            "'apply_patch', 'shell' and 'allowed_tools'.",
            param=f"{where}.type",
            code="invalid_value",
        )
    if not any(tool["type"] == kind and call_name(tool) == name for tool in tools):
        raise InvalidRequestError(
            f"Tool choice '{kind}' with name '{name}' not found in 'tools' parameter.",
            param=where,
            code="invalid_value",
        )
    return str(name)


def _named_member(kind: str, name: str, namespace: Any, tools: list[Tool], where: str) -> str:
    """A function or custom tool, by its call name, or by its own name (and `namespace`,
    which a name shared by two namespaces needs) when it sits in a namespace."""
    matches = [
        tool
        for tool in tools
        if tool["type"] == kind
        and (
            (tool.get("namespace"), tool["name"]) == (namespace, name)
            if namespace is not None
            else call_name(tool) == name or (tool.get("namespace") and tool["name"] == name)
        )
    ]
    if not matches:
        raise InvalidRequestError(
            f"Tool choice '{kind}' with name '{name}' not found in 'tools' parameter.",
            param=where,
            code="invalid_value",
        )
    if len(matches) > 1:
        raise InvalidRequestError(
            f"Tool choice '{kind}' with name '{name}' is ambiguous: tools in several "
            "namespaces have that name. Add 'namespace' to say which.",
            param=where,
            code="invalid_value",
        )
    return call_name(matches[0])


def _choice_without_tools() -> InvalidRequestError:
    return InvalidRequestError(
        "Invalid value for 'tool_choice': 'tool_choice' is only allowed when 'tools' are "
        "specified.",
        param="tool_choice",
        code="invalid_value",
    )
