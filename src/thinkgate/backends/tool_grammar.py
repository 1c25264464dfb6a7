"""One GBNF grammar per request for what the model may write when tools are offered.

The local model has no native tool format, so calls are written in one fixed form and
the grammar makes every other form impossible:

    <tool_call>
    {"name": "get_weather", "arguments": {…JSON matching the tool's parameters…}}
    </tool_call>

    root  ::= calls | text          tool_choice auto (text may not start with "<")
    root  ::= calls                 required, or a forced tool
    calls ::= call ("\\n" call)…    one call if parallel_tool_calls is false or a named
                                    tool is forced, else up to max_tool_calls
                                    (when unset: DEFAULT_MAX_CALLS for a model that
                                    supports parallel calls, one for a model that does
                                    not; at most MAX_CALLS: the grammar nests a group
                                    per call)

Per tool: a function's `arguments` follow its JSON schema (llama.cpp's own converter);
a custom tool writes `"input": "<text>"`, a JSON string that follows its `regex`
grammar when llama.cpp's regex converter accepts it, else any text (lark grammars are
not converted: free text, documented); apply_patch writes an operation whose `diff` is
a V4A body; shell writes `{"commands": [...], "timeout_ms", "max_output_length"}`.
JSON strings never hold raw control characters, so `\\n</tool_call>` is unambiguous
for the parser (`tool_parser`).

Each tool's part is checked against `grammar_bounds` as it is built, so a schema or regex
the engine cannot enforce safely is a 400 naming that tool; a regex whose conversion
llama.cpp could not parse (the converter passes `\\d` and `\\w` through) falls back to
free text, like a regex the converter refuses.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from llama_cpp.llama_grammar import SchemaConverter

from thinkgate.backends.grammar_bounds import GrammarSource, check_grammar, syntax_problem
from thinkgate.backends.grammar_shape import rule_references
from thinkgate.core.deltas import ToolKind
from thinkgate.core.request import CanonicalRequest, OutputFormat
from thinkgate.errors import InvalidRequestError
from thinkgate.protocol.tool_choice import resolve_tool_choice
from thinkgate.protocol.tools import call_name

DEFAULT_MAX_CALLS = 8
MAX_CALLS = 64  # calls in one response on the embedded engine; a larger max_tool_calls is cut
MAX_SHELL_COMMANDS = 4
CALL_OPEN = "<tool_call>\n"
CALL_CLOSE = "\n</tool_call>"

# JSON string characters: no raw control characters (so no raw newline), escapes allowed.
_CHAR = r'[^"\\\x00-\x1F\x7F] | "\\" (["\\/bfnrt] | "u" [0-9a-fA-F]{4})'
# A diff line's characters: as above, but `\n` ends the line.
_LINE_CHAR = r'[^"\\\x00-\x1F\x7F] | "\\" (["\\/bfrt] | "u" [0-9a-fA-F]{4})'
_APPLY_PATCH_RULES = {
    "ap-args": (
        r'"{\"type\": \"create_file\", \"path\": " ap-path ", \"diff\": \"" ap-add "\"}"'
        r' | "{\"type\": \"update_file\", \"path\": " ap-path ", \"diff\": \"" ap-update "\"}"'
        r' | "{\"type\": \"delete_file\", \"path\": " ap-path "}"'
    ),
    "ap-path": r'"\"" ap-seg ("/" ap-seg)* "\""',
    "ap-seg": "[A-Za-z0-9_] [A-Za-z0-9_.-]*",
    "ap-add": r'("+" ap-text "\\n"){1,16}',
    "ap-update": "ap-anchor? ap-line{1,16} (ap-anchor ap-line{1,16}){0,3} ap-eof?",
    "ap-anchor": r'"@@" (" " ap-char{1,80})? "\\n"',
    "ap-line": r'[ +-] ap-text "\\n"',
    "ap-text": "ap-char{0,100}",
    "ap-eof": r'"*** End of File\\n"',
    "ap-char": _LINE_CHAR,
}


@dataclass(slots=True, frozen=True)
class ToolPlan:
    """What the grammar allows: the call names (→ their kind) and whether text may be written."""

    grammar: str
    kinds: dict[str, ToolKind]
    allow_text: bool
    tools: tuple[dict[str, Any], ...]
    required: bool
    parts: tuple[tuple[GrammarSource, str], ...] = ()  # each tool's grammar on its own


def plan_tools(request: CanonicalRequest, *, parallel: bool = True) -> ToolPlan | None:
    """None when no call can be made (no tools, `none`, or `max_tool_calls: 0`).
    `parallel`: whether the model makes parallel calls well; when it does not, a request
    that allows them (`parallel_tool_calls` defaults to true) but sets no `max_tool_calls`
    gets one call a response (allowed, not required: a tiny model's second call repeats
    or rambles on to the output cap)."""
    if not request.tools:
        return None
    mode, names = resolve_tool_choice(request.tool_choice, request.tools)
    if mode == "none" or request.max_tool_calls == 0:
        return None
    tools = tuple(tool for tool in request.tools if call_name(tool) in names)
    unset = DEFAULT_MAX_CALLS if parallel else 1
    limit = 1 if not request.parallel_tool_calls else request.max_tool_calls or unset
    if _forces_one(request.tool_choice):
        limit = 1  # OpenAI: a forced function is "exactly one specific function" call
    converter: Any = SchemaConverter(  # type: ignore[no-untyped-call]
        prop_order={}, allow_fetch=False, dotall=False, raw_pattern=False
    )
    parts: list[tuple[GrammarSource, str]] = []
    bodies = [_tool_body(converter, request, tool, parts) for tool in tools]
    rules = dict(converter._rules)
    rules["char"] = _CHAR  # the converter's own allows raw control characters
    rules["tool-call"] = (
        '"'
        + _gbnf_text(CALL_OPEN + '{"name": ')
        + '" ( '
        + " | ".join(bodies)
        + ' ) "'
        + _gbnf_text("}" + CALL_CLOSE)
        + '"'
    )
    rules["tool-calls"] = _repeat("tool-call", min(limit, MAX_CALLS))
    allow_text = mode == "auto"
    if allow_text:
        text = _text_rule(converter, rules, request.output_format)
        rules["root"] = "tool-calls | " + text
        if text != "free-text":
            parts.append((schema_source(request), standalone(rules, text)))
    else:
        rules["root"] = "tool-calls"
    grammar = "\n".join(f"{name} ::= {rule}" for name, rule in sorted(rules.items()))
    kinds: dict[str, ToolKind] = {call_name(tool): tool["type"] for tool in tools}
    return ToolPlan(grammar, kinds, allow_text, tools, not allow_text, tuple(parts))


def _forces_one(choice: str | dict[str, Any]) -> bool:
    """A named tool choice (`{"type": "function", "name": …}` and its kin) forces one call;
    `required` and `allowed_tools` allow several."""
    return isinstance(choice, dict) and choice.get("type") != "allowed_tools"


def _tool_body(
    converter: Any,
    request: CanonicalRequest,
    tool: dict[str, Any],
    parts: list[tuple[GrammarSource, str]],
) -> str:
    index = request.tools.index(tool)
    name = call_name(tool)
    head = '"' + _gbnf_text(json.dumps(name) + ", ") + '"'
    kind = tool["type"]
    if kind in ("function", "tool_search"):  # a tool search's arguments: its schema
        rule = _function_rule(converter, request, tool, index)
        parts.append(_checked(converter, rule, _function_source(request, tool, index)))
        return f'{head} "\\"arguments\\": " {rule}'
    if kind == "custom":
        rule = _custom_rule(converter, request, tool, index, parts)
        return f'{head} "\\"input\\": " {rule}'
    if kind == "apply_patch":
        for rule_name, rule_text in _APPLY_PATCH_RULES.items():
            converter._rules[rule_name] = rule_text
        return f'{head} "\\"arguments\\": " ap-args'
    converter._rules["sh-args"] = (
        r'"{\"commands\": [" sh-cmd '
        + _repeat_tail('", " sh-cmd', MAX_SHELL_COMMANDS - 1)
        + r' "], \"timeout_ms\": " sh-num ", \"max_output_length\": " sh-num "}"'
    )
    converter._rules["sh-cmd"] = r'"\"" [a-zA-Z./~_] char{0,200} "\""'
    converter._rules["sh-num"] = '[1-9] [0-9]{3,6} | "null"'
    return f'{head} "\\"arguments\\": " sh-args'


def _function_rule(
    converter: Any, request: CanonicalRequest, tool: dict[str, Any], index: int
) -> str:
    schema = tool.get("parameters") or {"type": "object"}
    source = _function_source(request, tool, index)
    try:
        resolved = converter.resolve_refs(json.loads(json.dumps(schema)), f"tool{index}")
        return str(converter.visit(resolved, f"tool{index}-args"))
    except Exception as exc:  # the converter raises bare exceptions for unsupported schemas
        raise InvalidRequestError(
            f"{source.subject}: {exc}", param=source.param, code=source.code
        ) from exc


def _custom_rule(
    converter: Any,
    request: CanonicalRequest,
    tool: dict[str, Any],
    index: int,
    parts: list[tuple[GrammarSource, str]],
) -> str:
    fmt = tool.get("format") or {"type": "text"}
    if fmt.get("type") == "grammar" and fmt.get("syntax") == "regex":
        pattern = str(fmt["definition"])
        anchored = ("" if pattern.startswith("^") else "^") + pattern
        anchored += "" if pattern.endswith("$") else "$"
        saved = dict(converter._rules)
        try:
            rule = str(converter.visit({"type": "string", "pattern": anchored}, f"tool{index}-in"))
        except Exception:  # not in the converter's regex subset: free text
            rule = ""
        if rule and syntax_problem(standalone(converter._rules, rule)) is None:
            parts.append(_checked(converter, rule, _grammar_source(request, tool, index)))
            return rule
        converter._rules = saved
    return str(converter.visit({"type": "string"}, f"tool{index}-in"))


def _checked(converter: Any, rule: str, source: GrammarSource) -> tuple[GrammarSource, str]:
    """This tool's grammar on its own, within the bounds (else a 400 naming the tool)."""
    part = standalone(converter._rules, rule)
    check_grammar(part, source)
    return source, part


def _function_source(request: CanonicalRequest, tool: dict[str, Any], index: int) -> GrammarSource:
    where = request.context.param_names.get("tool", "tools[{index}]").format(index=index)
    return GrammarSource(
        param=where + ".parameters",
        code="invalid_function_parameters",
        subject=f"Invalid schema for function '{call_name(tool)}'",
    )


def _grammar_source(request: CanonicalRequest, tool: dict[str, Any], index: int) -> GrammarSource:
    where = request.context.param_names.get("grammar", "tools[{index}].format.definition")
    return GrammarSource(
        param=where.format(index=index),
        code="invalid_value",
        subject=f"Invalid grammar for custom tool '{call_name(tool)}'",
    )


def schema_source(request: CanonicalRequest) -> GrammarSource:
    return GrammarSource(
        param=request.context.param_names.get("schema", "text.format.schema"),
        code="invalid_json_schema",
        subject="Invalid schema for response_format",
    )


def _text_rule(converter: Any, rules: dict[str, str], output_format: OutputFormat) -> str:
    """The `auto` branch for plain text (or the requested JSON format)."""
    if output_format.type == "json_schema" and output_format.schema is not None:
        before = set(converter._rules)
        name = str(converter.visit(output_format.schema, "text-json"))
        rules.update({k: v for k, v in converter._rules.items() if k not in before})
        return name
    if output_format.type == "json_object":
        before = set(converter._rules)
        name = str(converter.visit({"type": "object"}, "text-json"))
        rules.update({k: v for k, v in converter._rules.items() if k not in before})
        return name
    rules["free-text"] = r"([^<] [^\x00]*)?"
    return "free-text"


def _repeat(rule: str, limit: int) -> str:
    return rule + " " + _repeat_tail(f'"\\n" {rule}', limit - 1)


def _repeat_tail(item: str, count: int) -> str:
    """`(item (item …)?)?` nested `count` deep: at most `count` more items."""
    text = ""
    for _ in range(count):
        text = f"({item} {text})?" if text else f"({item})?"
    return text


def _gbnf_text(text: str) -> str:
    """Escape `text` for a GBNF double-quoted literal."""
    return text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def standalone(rules: dict[str, str], expression: str) -> str:
    """A grammar whose root is `expression`, with only the rules it reaches (to check one
    part of a grammar built from several: one tool, say)."""
    reached: dict[str, str] = {}
    pending = rule_references(expression)
    while pending:
        name = pending.pop()
        if name in reached or name not in rules or name == "root":
            continue
        reached[name] = rules[name]
        pending |= rule_references(rules[name])
    lines = [f"root ::= {expression}"] + [f"{name} ::= {rule}" for name, rule in reached.items()]
    return "\n".join(lines)
