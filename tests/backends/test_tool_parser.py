"""The incremental parser of constrained tool-call text, fed one character at a time."""

from __future__ import annotations

from thinkgate.backends.tool_parser import ToolCallParser
from thinkgate.core.deltas import (
    Delta,
    FinishDelta,
    TextDelta,
    ToolCallDelta,
    ToolCallDoneDelta,
    ToolCallStartDelta,
)

KINDS = {
    "get_weather": "function",
    "calc": "custom",
    "shell": "shell",
    "apply_patch": "apply_patch",
}


def run(text: str, *, allow_text: bool = False) -> list[Delta]:
    parser = ToolCallParser(KINDS, allow_text=allow_text)  # type: ignore[arg-type]
    out: list[Delta] = []
    for char in text:
        out += parser.feed(TextDelta(char))
    return out + parser.feed(FinishDelta("stop", 1))


def test_two_function_calls_stream_their_arguments_exactly() -> None:
    args = ['{"city": "Paris", "n": {"a": [1, 2]}}', '{"city": "To}kyo"}']
    text = "\n".join(
        f'<tool_call>\n{{"name": "get_weather", "arguments": {a} }}\n</tool_call>' for a in args
    )
    out = run(text)
    starts = [d for d in out if isinstance(d, ToolCallStartDelta)]
    dones = [d for d in out if isinstance(d, ToolCallDoneDelta)]
    assert [s.name for s in starts] == ["get_weather", "get_weather"]
    assert [d.payload for d in dones] == args
    streamed, current = [], ""
    for delta in out:
        if isinstance(delta, ToolCallDelta):
            current += delta.text
        elif isinstance(delta, ToolCallDoneDelta):
            streamed.append(current)
            current = ""
    assert streamed == args


def test_custom_input_is_decoded_and_objects_are_parsed() -> None:
    text = (
        '<tool_call>\n{"name": "calc", "input": "1 \\"+\\" 2\\n"}\n</tool_call>\n'
        '<tool_call>\n{"name": "shell", "arguments": {"commands": ["ls"], "timeout_ms": null, '
        '"max_output_length": null}}\n</tool_call>'
    )
    out = run(text)
    dones = [d.payload for d in out if isinstance(d, ToolCallDoneDelta)]
    assert dones[0] == '1 "+" 2\n'
    assert "".join(d.text for d in out if isinstance(d, ToolCallDelta)) == '1 "+" 2\n'
    assert dones[1] == {"commands": ["ls"], "timeout_ms": None, "max_output_length": None}


def test_text_passes_through_when_allowed() -> None:
    out = run("Hello <b>there</b>", allow_text=True)
    assert "".join(d.text for d in out if isinstance(d, TextDelta)) == "Hello <b>there</b>"
    assert isinstance(out[-1], FinishDelta)
