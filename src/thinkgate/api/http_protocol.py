"""uvicorn's httptools protocol: a reply's header block written with its body, and a
disconnect told to whoever asked.

uvicorn writes the status line and headers the moment `http.response.start` is sent and
the body with the next message: two socket writes, each waking the client, for a reply
that was complete all along. On this 2-core VM a write to a waiting peer cost ~50 µs, a
twentieth of a proxied request (bench/overhead). Here each response's header block waits
for the rest of the current event-loop tick: a body sent in the same tick (every JSON
reply; an SSE reply's first batch, `api.sse`) leaves with it in one write, and a body that
is not ready yet does not hold the headers back longer than the tick.

A streaming reply must notice a client that leaves (to stop the upstream); through plain
ASGI that takes a task blocked in `receive()` per stream. This protocol also puts a
`DisconnectSignal` in the scope's extensions (`DISCONNECT_EXTENSION`), called back when
the connection is lost mid-reply; `api.sse` uses it when present, the task otherwise.

Everything else is uvicorn's own; if its internals ever stop matching what this relies on
(the cycle's `transport` attribute), responses simply go out as before.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from thinkgate.net.short_waits import WaitPoller

_STATUS_LINES = (b"HTTP/1.1 ", b"HTTP/1.0 ")
DISCONNECT_EXTENSION = "thinkgate.disconnect"


class DisconnectSignal:
    """Callbacks for the loss of one request's connection before its reply was complete."""

    __slots__ = ("_callbacks", "fired")

    def __init__(self) -> None:
        self._callbacks: list[Callable[[], None]] = []
        self.fired = False

    def add(self, callback: Callable[[], None]) -> None:
        """`callback` runs when the client goes (soon, if it has gone already)."""
        if self.fired:
            asyncio.get_running_loop().call_soon(callback)
        else:
            self._callbacks.append(callback)

    def fire(self) -> None:
        self.fired = True
        callbacks, self._callbacks = self._callbacks, []
        for callback in callbacks:
            callback()


class _HeadersWithBody:
    """One response's transport: its header block is held until the next write or the
    end of the tick, whichever comes first."""

    __slots__ = ("_held", "_loop", "_transport")

    def __init__(self, transport: asyncio.Transport, loop: asyncio.AbstractEventLoop) -> None:
        self._transport = transport
        self._loop = loop
        self._held: bytes | None = None

    def write(self, data: bytes) -> None:
        held = self._held
        if held is not None:
            self._held = None
            self._transport.write(held + data)
        elif data[:9] in _STATUS_LINES and data[9:10] != b"1":  # not `100 Continue`
            self._held = data
            self._loop.call_soon(self.flush)
        else:
            self._transport.write(data)

    def flush(self) -> None:
        held, self._held = self._held, None
        if held is not None:
            self._transport.write(held)

    def close(self) -> None:
        self.flush()
        self._transport.close()

    def __getattr__(self, name: str) -> Any:  # is_closing, get_extra_info, …
        return getattr(self._transport, name)


class HeadersWithBodyProtocol(HttpToolsProtocol):
    """`uvicorn.Config(http=HeadersWithBodyProtocol)`: httptools, one write per reply, and
    the disconnect signal; `polling(waits)` is the same protocol with a keep-alive
    connection's next request polled for while clients send back to back
    (`net.short_waits`)."""

    waits: WaitPoller | None = None  # shared by the server's connections
    _idle_since: float | None = None  # a reply is complete, the next request not in

    @classmethod
    def polling(cls, waits: WaitPoller) -> type[HeadersWithBodyProtocol]:
        return type("PollingHeadersWithBodyProtocol", (cls,), {"waits": waits})

    def data_received(self, data: bytes) -> None:
        if self._idle_since is not None:
            self._end_idle(answered=True)
        super().data_received(data)

    def on_response_complete(self) -> None:
        super().on_response_complete()
        if self.waits is not None and self.timeout_keep_alive_task is not None:  # kept open
            self._idle_since = self.waits.waiting(self.loop)

    def _end_idle(self, *, answered: bool) -> None:
        since, self._idle_since = self._idle_since, None
        if since is None or self.waits is None:
            return
        if answered:
            self.waits.answered(since)
        else:
            self.waits.abandoned()

    def on_headers_complete(self) -> None:
        super().on_headers_complete()
        cycle = getattr(self, "cycle", None)
        if cycle is not None and getattr(cycle, "transport", None) is self.transport:
            cycle.transport = _HeadersWithBody(self.transport, self.loop)
            cycle.scope.setdefault("extensions", {})[DISCONNECT_EXTENSION] = DisconnectSignal()

    def connection_lost(self, exc: Exception | None) -> None:
        if self._idle_since is not None:
            self._end_idle(answered=False)
        cycle = getattr(self, "cycle", None)
        super().connection_lost(exc)
        if cycle is not None and getattr(cycle, "disconnected", False):  # gone mid-reply
            signal = cycle.scope.get("extensions", {}).get(DISCONNECT_EXTENSION)
            if isinstance(signal, DisconnectSignal):
                signal.fire()
