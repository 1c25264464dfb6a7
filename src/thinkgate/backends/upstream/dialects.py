"""An upstream stream's events → Deltas, one network read's worth at a time.

The backend's generator yields each Delta once; translating a read's events here, in plain
code, spares every Delta a second async generator to pass through (bench/overhead).
A failure the upstream reports is kept in `failure`, after the Deltas before it, so that
what was generated still reaches the client before the stream fails.
"""

from __future__ import annotations

from typing import Any, Protocol

from thinkgate.backends.upstream.chat_stream import ChatStreamTranslator
from thinkgate.backends.upstream.failure import UpstreamFailure
from thinkgate.backends.upstream.responses_wire import ResponsesStreamTranslator
from thinkgate.backends.upstream.service_tiers import TierChoice
from thinkgate.core.backend import UsageMeter
from thinkgate.core.deltas import Delta

Event = dict[str, Any]


class Dialect(Protocol):
    failure: UpstreamFailure | None  # the upstream reported an error: the stream is over
    done: bool  # the answer is complete: nothing after it is read

    def feed(self, events: list[Event]) -> list[Delta]: ...

    def end(self) -> list[Delta]:
        """The last Deltas once the stream has ended; a stream cut short raises."""
        ...


class ChatDialect:
    """Chat Completions chunks (`openai-chat` channels): read up to `[DONE]`."""

    def __init__(self, channel: str, meter: UsageMeter, tier: TierChoice | None = None) -> None:
        self._channel = channel
        self._chunks = ChatStreamTranslator(meter, tier)
        self.failure: UpstreamFailure | None = None
        self.done = False  # usage may follow the finish: the stream's end is the answer's

    def feed(self, events: list[Event]) -> list[Delta]:
        deltas: list[Delta] = []
        for chunk in events:
            if isinstance(chunk.get("error"), dict):
                self.failure = UpstreamFailure(self._channel, "failed", _message(chunk["error"]))
                break
            deltas += self._chunks.feed(chunk)
        return deltas

    def end(self) -> list[Delta]:
        if self._chunks.finish_reason is None:
            raise UpstreamFailure(self._channel, "cut", "the stream ended before the answer did")
        return self._chunks.finish()


class ResponsesDialect:
    """Responses events (`openai-responses` channels): read up to the terminal event."""

    def __init__(self, channel: str, meter: UsageMeter, tier: TierChoice | None = None) -> None:
        self._channel = channel
        self._events = ResponsesStreamTranslator(meter, tier)
        self.failure: UpstreamFailure | None = None
        self.done = False

    def feed(self, events: list[Event]) -> list[Delta]:
        deltas: list[Delta] = []
        native = self._events
        for event in events:
            deltas += native.feed(event)
            if native.failure is not None:
                self.failure = UpstreamFailure(self._channel, "failed", _message(native.failure))
                break
            if native.terminal is not None:
                self.done = True
                break
        return deltas

    def end(self) -> list[Delta]:
        if not self.done:
            raise UpstreamFailure(self._channel, "cut", "the stream ended before the response did")
        return []


def dialect_for(
    kind: str, channel: str, meter: UsageMeter, tier: TierChoice | None = None
) -> Dialect:
    if kind == "openai-chat":
        return ChatDialect(channel, meter, tier)
    return ResponsesDialect(channel, meter, tier)


def _message(error: dict[str, Any]) -> str:
    return str(error.get("message") or error.get("code") or "the upstream reported an error")
