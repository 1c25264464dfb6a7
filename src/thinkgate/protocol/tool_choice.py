"""`tool_choice` of both endpoints, checked against the canonical tool list
(`protocol.tools`): a choice naming a tool that is not declared is a 400 naming
`tool_choice`, as OpenAI answers; a hosted tool's type names a declared hosted tool.
"""

from __future__ import annotations

from typing import Any, Literal

from thinkgate.errors import InvalidRequestError
from thinkgate.protocol.tool_models import WEB_SEARCH
from thinkgate.protocol.tools import Tool, call_name

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
