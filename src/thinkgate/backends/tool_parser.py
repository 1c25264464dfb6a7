"""Constrained output text → tool-call Deltas, incrementally, so arguments stream.

The grammar (`tool_grammar`) fixes the form, so the parser only has to follow it:

    start ─"<"─► head ─name─► body ─"\\n</tool_call>"─► between ─"\\n"─► head …
      └─other─► text (every piece passes through as TextDelta)

In `body`, a function's arguments stream as they are generated, except a trailing run
of spaces, newlines and `}` that may yet turn out to be the call's own closing; a custom
tool's input streams decoded from its JSON string.
"""

from __future__ import annotations

import json
import re

from thinkgate.backends.tool_grammar import CALL_CLOSE, CALL_OPEN
from thinkgate.core.deltas import (
    Delta,
    FinishDelta,
    TextDelta,
    ToolCallDelta,
    ToolCallDoneDelta,
    ToolCallStartDelta,
    ToolKind,
)

_HEAD = re.compile(r'\{"name": "([^"]+)", "(arguments|input)": ')


class ToolCallParser:
    def __init__(self, kinds: dict[str, ToolKind], *, allow_text: bool) -> None:
        self._kinds = kinds
        self._allow_text = allow_text
        self._state = "start"
        self._buffer = ""
        self._kind: ToolKind = "function"
        self._sent = 0  # characters of the open call's streamed text already sent

    def feed(self, delta: Delta) -> list[Delta]:
        if isinstance(delta, FinishDelta):
            return [delta]
        if not isinstance(delta, TextDelta):
            return [delta]
        if self._state == "text":
            return [delta]
        self._buffer += delta.text
        if self._state == "start" and self._buffer:
            if not self._buffer.startswith("<") and self._allow_text:
                self._state = "text"
                text, self._buffer = self._buffer, ""
                return [TextDelta(text, delta.logprobs)]
            self._state = "head"
        out: list[Delta] = []
        while True:
            step = self._step()
            if step is None:
                return out
            out.extend(step)

    def _step(self) -> list[Delta] | None:
        """Advance by one state if the buffer allows; None when more text is needed."""
        if self._state == "head":
            return self._head()
        if self._state == "body":
            return self._body()
        if self._state == "between" and self._buffer.startswith("\n"):
            self._buffer = self._buffer[1:]
            self._state = "head"
            return []
        return None

    def _head(self) -> list[Delta] | None:
        if not self._buffer.startswith(CALL_OPEN):
            return None
        match = _HEAD.match(self._buffer, len(CALL_OPEN))
        if match is None:
            return None
        name = match.group(1)
        self._kind = self._kinds.get(name, "function")
        self._buffer = self._buffer[match.end() :]
        self._state, self._sent = "body", 0
        return [ToolCallStartDelta(tool=self._kind, name=name)]

    def _body(self) -> list[Delta] | None:
        end = self._buffer.find(CALL_CLOSE)
        raw = self._buffer if end < 0 else self._buffer[:end]
        if end < 0:
            closing = raw.find("\n<")  # never inside JSON: the closing tag has begun
            raw = raw if closing < 0 else raw[:closing]
            visible = self._streamable(raw.rstrip(" \n}"))
            if len(visible) <= self._sent:
                return None
            piece, self._sent = visible[self._sent :], len(visible)
            return [ToolCallDelta(piece)] if piece else None
        value = raw.rstrip()
        value = value[:-1].rstrip() if value.endswith("}") else value
        whole = self._streamable(value, final=True)
        out: list[Delta] = []
        if self._kind in ("function", "custom") and len(whole) > self._sent:
            out.append(ToolCallDelta(whole[self._sent :]))
        out.append(ToolCallDoneDelta(self._payload(value, whole)))
        self._buffer = self._buffer[end + len(CALL_CLOSE) :]
        self._state = "between"
        return out

    def _streamable(self, raw: str, *, final: bool = False) -> str:
        """The text the client sees: arguments as written, or the decoded custom input."""
        if self._kind == "function":
            return raw
        if self._kind == "custom":
            return _decode_partial(raw, final=final)
        return ""

    def _payload(self, value: str, whole: str) -> str | dict[str, object]:
        if self._kind == "function":
            return value
        if self._kind == "custom":
            return whole
        parsed = json.loads(value)
        assert isinstance(parsed, dict)
        return parsed


def _decode_partial(raw: str, *, final: bool) -> str:
    """The decoded prefix of a JSON string literal (`"…`), up to a complete escape."""
    body = raw[1:] if raw.startswith('"') else raw
    if final:
        try:
            decoded = json.loads('"' + body[:-1] + '"') if body.endswith('"') else None
        except json.JSONDecodeError:
            decoded = None
        return decoded if isinstance(decoded, str) else body.removesuffix('"')
    cut = len(body)
    backslash = body.rfind("\\", max(0, cut - 6))
    if backslash >= 0:
        cut = backslash  # a possibly incomplete escape waits for its next characters
    while cut > 0:
        try:
            return str(json.loads('"' + body[:cut] + '"'))
        except json.JSONDecodeError:
            cut -= 1
    return ""
