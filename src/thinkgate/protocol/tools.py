"""`tools` and `tool_choice` of both endpoints, validated one tool at a time.

The result is the canonical (Responses-shaped, flat) tool list, with the defaults the
live API echoes filled in (`strict: true`, `description: null`), and the tool choice
checked against it: a choice naming a tool that is not declared is a 400 naming
`tool_choice`, as OpenAI answers.

    responses  {"type":"function","name",…}    chat  {"type":"function","function":{…}}
               {"type":"custom","name","format"}     {"type":"custom","custom":{…}}
               {"type":"apply_patch"} {"type":"shell"}
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from thinkgate.errors import InvalidRequestError
from thinkgate.protocol.common import StrictModel
from thinkgate.protocol.parsing import validate

Tool = dict[str, Any]
_NAME = Field(min_length=1, max_length=64, pattern=r"^[a-zA-Z0-9_-]+$")
_HOSTED = (
    "web_search",
    "web_search_2025_08_26",
    "web_search_preview",
    "web_search_preview_2025_03_11",
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
    name: str = _NAME
    description: str | None = None
    parameters: dict[str, Any] | None = None
    strict: bool | None = None


class FunctionTool(FunctionSpec):
    type: Literal["function"]


class CustomSpec(StrictModel):
    name: str = _NAME
    description: str | None = None
    format: dict[str, Any] | None = None


class CustomTool(CustomSpec):
    type: Literal["custom"]


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


_RESPONSES_TOOLS: dict[str, type[StrictModel]] = {
    "function": FunctionTool,
    "custom": CustomTool,
    "apply_patch": ApplyPatchTool,
    "shell": ShellTool,
}
_CHAT_TOOLS: dict[str, type[StrictModel]] = {"function": ChatFunctionTool, "custom": ChatCustomTool}


def call_name(tool: Tool) -> str:
    """The name a call of this tool carries (apply_patch and shell are named by type)."""
    return str(tool.get("name") or tool["type"])


def parse_tools(raw: list[dict[str, Any]] | None, *, chat: bool = False) -> list[Tool]:
    """Validate each tool; return the canonical flat form. Names must be unique."""
    models = _CHAT_TOOLS if chat else _RESPONSES_TOOLS
    tools: list[Tool] = []
    seen: set[str] = set()
    for index, raw_tool in enumerate(raw or []):
        where = f"tools[{index}]"
        if not isinstance(raw_tool, dict):
            raise InvalidRequestError(
                f"Invalid type for '{where}': expected an object.", param=where, code="invalid_type"
            )
        kind = raw_tool.get("type")
        model = models.get(kind) if isinstance(kind, str) else None
        if model is None:
            raise _unknown_tool_type(kind, where, models)
        tool = _canonical(validate(raw_tool, model, prefix=where), where, chat=chat)
        name = call_name(tool)
        if name in seen:
            raise InvalidRequestError(
                f"Invalid 'tools': duplicate tool name '{name}'.",
                param=f"{where}.function.name" if chat and kind == "function" else f"{where}.name",
                code="invalid_value",
            )
        seen.add(name)
        tools.append(tool)
    return tools


def _unknown_tool_type(kind: Any, where: str, models: dict[str, Any]) -> InvalidRequestError:
    if kind in _HOSTED:
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
        return _canonical_spec(model.type, model, where, chat=False)
    return model.model_dump(exclude_none=True)


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


def check_tool_choice(choice: str | dict[str, Any] | None, tools: list[Tool]) -> None:
    """A Responses `tool_choice` must be well formed and name only declared tools."""
    if choice is None:
        return
    resolve_tool_choice(choice, tools)


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


def _choice_without_tools() -> InvalidRequestError:
    return InvalidRequestError(
        "Invalid value for 'tool_choice': 'tool_choice' is only allowed when 'tools' are "
        "specified.",
        param="tool_choice",
        code="invalid_value",
    )
