"""Server-sent events from raw body chunks: the few rules of the SSE format, on bytes.

Lines end in LF, CRLF or CR; `data:` lines join with LF; a blank line ends an event; a
line starting with `:` is a comment. An event still open when the body ends is dropped
(the format says so). Data stays bytes: `orjson.loads` takes it as it is.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(slots=True)
class ServerSentEvent:
    event: str = "message"
    data: bytes = b""
    id: str | None = None


@dataclass(slots=True)
class SSEDecoder:
    _buffer: bytes = b""
    _data: list[bytes] = field(default_factory=list)
    _event: str | None = None
    _id: str | None = None

    def feed(self, chunk: bytes) -> list[ServerSentEvent]:
        """The events this chunk completes (a line split across chunks waits for the rest)."""
        buffer = self._buffer + chunk if self._buffer else chunk
        if b"\r" in buffer:
            if buffer.endswith(b"\r"):  # maybe the first half of CRLF: wait for the next chunk
                self._buffer = buffer
                return []
            buffer = buffer.replace(b"\r\n", b"\n").replace(b"\r", b"\n")
        events: list[ServerSentEvent] = []
        if self._data or self._event is not None or self._id is not None:
            return self._lines(buffer, events)  # an event is open: its lines come first
        *blocks, rest = buffer.split(b"\n\n")
        for block in blocks:  # whole events; nearly always one `data:` line each
            if block[:6] == b"data: " and b"\n" not in block:
                events.append(ServerSentEvent("message", block[6:]))
            else:
                self._lines(block + b"\n\n", events)
        return self._lines(rest, events)

    def close(self) -> list[ServerSentEvent]:
        """The body has ended: a CR held back (maybe half a CRLF) was a line end after all."""
        held, self._buffer = self._buffer, b""
        return self.feed(held + b"\n") if held.endswith(b"\r") else []

    def _lines(self, buffer: bytes, events: list[ServerSentEvent]) -> list[ServerSentEvent]:
        """`buffer`'s complete lines, parsed one by one; the last, partial one waits."""
        *lines, self._buffer = buffer.split(b"\n")
        line_event = self._line
        for line in lines:
            if line[:6] == b"data: ":  # the common line, without the general parse
                self._data.append(line[6:])
                continue
            event = line_event(line)
            if event is not None:
                events.append(event)
        return events

    def _line(self, line: bytes) -> ServerSentEvent | None:
        if not line:
            if not self._data and self._event is None and self._id is None:
                return None
            event = ServerSentEvent(self._event or "message", b"\n".join(self._data), self._id)
            self._data, self._event, self._id = [], None, None
            return event
        if line.startswith(b":"):
            return None
        name, _, value = line.partition(b":")
        if value.startswith(b" "):
            value = value[1:]
        if name == b"data":
            self._data.append(value)
        elif name == b"event":
            self._event = value.decode("utf-8", "replace")
        elif name == b"id":
            self._id = value.decode("utf-8", "replace")
        return None  # `retry` and unknown fields are ignored, as the format says
