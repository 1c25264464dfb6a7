"""Tools as the local model sees them: a system note listing them, and calls written in
the same `<tool_call>` form the grammar forces, so replayed history and new output agree.
"""

from __future__ import annotations

import json
from typing import Any

from thinkgate.backends.tool_grammar import CALL_CLOSE, CALL_OPEN, ToolPlan
from thinkgate.core.request import Item
from thinkgate.protocol.tool_catalog import callable_tools
from thinkgate.protocol.tools import call_name

_SHAPES = {
    "apply_patch": (
        'Create, update or delete one file. Arguments: {"type": "create_file" | "update_file" '
        '| "delete_file", "path": relative path, "diff": V4A diff (create_file: every line '
        'starts with "+"; update_file: "@@ anchor" lines, then " " context, "-" removed and '
        '"+" added lines)}. Example: {"type": "create_file", "path": "notes.md", '
        '"diff": "+# Notes\\n+first line\\n"}'
    ),
    "shell": (
        'Run shell commands in the workspace. Arguments: {"commands": [command lines], '
        '"timeout_ms": integer or null, "max_output_length": integer or null}. Example: '
        '{"commands": ["ls -la"], "timeout_ms": null, "max_output_length": null}'
    ),
}


def tools_note(plan: ToolPlan) -> str:
    lines = [
        "You can call tools. To call a tool, reply with:",
        CALL_OPEN + '{"name": "<tool name>", "arguments": {<arguments>}}' + CALL_CLOSE,
        "Available tools:",
    ]
    for tool in plan.tools:
        lines.append(f"- {_describe(tool)}")
    if plan.required:
        lines.append("You must call a tool now.")
    return "\n".join(lines)


def _describe(tool: dict[str, Any]) -> str:
    kind = tool["type"]
    if kind in _SHAPES:
        return f"{kind}: {_SHAPES[kind]}"
    about = tool.get("description") or ""
    if kind == "tool_search":
        about = about or "Search for more tools; the tools found can be called afterwards."
    if kind in ("function", "tool_search"):
        schema = json.dumps(tool.get("parameters") or {"type": "object"}, separators=(",", ":"))
        return f"{call_name(tool)}: {about} Arguments JSON schema: {schema}".replace("  ", " ")
    return f'{call_name(tool)}: {about} Write its input as "input": "<text>" instead of arguments.'


def call_text(item: Item) -> str | None:
    """A call item of the history, written as the model would have written it."""
    kind = item.get("type")
    if kind == "function_call":
        body = f'{{"name": {json.dumps(call_name(item))}, "arguments": {item["arguments"]}}}'
    elif kind == "custom_tool_call":
        body = f'{{"name": {json.dumps(call_name(item))}, "input": {json.dumps(item["input"])}}}'
    elif kind == "tool_search_call":
        body = f'{{"name": "tool_search", "arguments": {json.dumps(item["arguments"])}}}'
    elif kind == "apply_patch_call":
        body = f'{{"name": "apply_patch", "arguments": {json.dumps(item["operation"])}}}'
    elif kind == "shell_call":
        body = f'{{"name": "shell", "arguments": {json.dumps(item["action"])}}}'
    else:
        return None
    return CALL_OPEN + body + CALL_CLOSE


def output_text(item: Item) -> str | None:
    """A tool output item of the history, as plain text for a `tool` message."""
    kind = item.get("type")
    if kind in ("function_call_output", "custom_tool_call_output"):
        output = item["output"]
        if isinstance(output, str):
            return output
        return "".join(part.get("text", "") for part in output if isinstance(part, dict))
    if kind == "tool_search_output":
        found = ", ".join(call_name(tool) for tool in callable_tools([], [item]))
        return f"Tools found, callable now: {found or 'none'}"
    if kind == "apply_patch_call_output":
        return f"{item['status']}: {item.get('output') or ''}".strip()
    if kind == "shell_call_output":
        results = []
        for entry in item["output"]:
            outcome = entry["outcome"]
            code = outcome.get("exit_code") if outcome["type"] == "exit" else "timeout"
            results.append(f"exit {code}\n{entry['stdout']}{entry['stderr']}".rstrip())
        return "\n".join(results)
    return None
