"""Every tool call in a conversation must have its output, and every output its call.

Checked over the whole conversation the model will see (replayed history, then this
turn's input), in OpenAI's words, so a client that forgot an output learns which one.
"""

from __future__ import annotations

from thinkgate.core.request import Item
from thinkgate.errors import InvalidRequestError

# call item type → (its output item type, how OpenAI names the call in messages)
_PAIRS = {
    "function_call": ("function_call_output", "function call"),
    "custom_tool_call": ("custom_tool_call_output", "custom tool call"),
    "apply_patch_call": ("apply_patch_call_output", "apply_patch call"),
    "shell_call": ("shell_call_output", "shell call"),
}
_CALL_OF_OUTPUT = {output: call for call, (output, _) in _PAIRS.items()}


def check_tool_pairs(items: list[Item], *, param: str = "input") -> None:
    """Raise a 400 for the first call without an output or output without a call."""
    calls: dict[tuple[str, str], str] = {}  # (call type, call_id) → call type
    answered: set[tuple[str, str]] = set()
    for item in items:
        kind = item.get("type")
        if kind in _PAIRS:
            calls[(kind, item["call_id"])] = kind
        elif kind in _CALL_OF_OUTPUT and item.get("call_id") is not None:
            # (an output without `call_id`, as Codex sends, answers no call)
            key = (_CALL_OF_OUTPUT[kind], item["call_id"])
            if key not in calls:
                raise InvalidRequestError(
                    f"No tool call found for {kind.replace('_', ' ')} with call_id "
                    f"{item['call_id']}.",
                    param=param,
                    code=None,
                )
            answered.add(key)
    for key, kind in calls.items():
        if key not in answered:
            raise InvalidRequestError(
                f"No tool output found for {_PAIRS[kind][1]} {key[1]}.", param=param, code=None
            )
