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
        *lines, self._buffer = buffer.split(b"\n")
        events: list[ServerSentEvent] = []
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
