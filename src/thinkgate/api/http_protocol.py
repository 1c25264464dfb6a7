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

Everything else is uvicorn's own, but this reads its private attributes: uvicorn is pinned
to the tested minor series (pyproject.toml, `TESTED_UVICORN`), and `server_protocol`
checks at start-up that the running uvicorn is that series and still has every attribute
used here; otherwise it logs a warning and serves with uvicorn's stock httptools protocol
(two writes per reply, a disconnect watched by a task, no keep-alive polling).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any

import uvicorn
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol, RequestResponseCycle

from thinkgate.net.short_waits import WaitPoller

log = logging.getLogger(__name__)

_STATUS_LINES = (b"HTTP/1.1 ", b"HTTP/1.0 ")
DISCONNECT_EXTENSION = "thinkgate.disconnect"
TESTED_UVICORN = (0, 55)  # keep in step with pyproject.toml's uvicorn pin
# uvicorn's private names this module relies on: methods overridden, attributes read
_HOOKS = ("data_received", "on_headers_complete", "on_response_complete", "connection_lost")
_PROTOCOL_ATTRIBUTES = ("cycle", "transport", "loop", "timeout_keep_alive_task")
_CYCLE_ATTRIBUTES = ("transport", "scope", "disconnected")


def unsupported_uvicorn(
    version: str = uvicorn.__version__,
    protocol: type = HttpToolsProtocol,
    cycle: type = RequestResponseCycle,
) -> str | None:
    """Why `HeadersWithBodyProtocol` must not serve under this uvicorn, or None: a version
    outside the tested series, or a private method or attribute it uses gone."""
    try:
        series = tuple(int(part) for part in version.split(".")[:2])
    except ValueError:
        series = ()
    if series != TESTED_UVICORN:
        tested = ".".join(map(str, TESTED_UVICORN))
        return f"uvicorn {version} is not the tested series ({tested}.x)"
    missing = [f"{protocol.__name__}.{name}()" for name in _HOOKS if not _defines(protocol, name)]
    missing += [
        f"{owner.__name__}.{name}"
        for owner, names in ((protocol, _PROTOCOL_ATTRIBUTES), (cycle, _CYCLE_ATTRIBUTES))
        for name in names
        if name not in _attribute_names(owner)
    ]
    if missing:
        return f"uvicorn {version} lacks what thinkgate's protocol uses: {', '.join(missing)}"
    return None


def server_protocol(
    waits: WaitPoller, version: str = uvicorn.__version__
) -> type[asyncio.Protocol] | str:
    """`uvicorn.Config(http=...)`: ours under the tested uvicorn, else its stock one."""
    reason = unsupported_uvicorn(version)
    if reason is None:
        return HeadersWithBodyProtocol.polling(waits)
    log.warning("%s: serving with uvicorn's stock httptools protocol instead", reason)
    return "httptools"


def _defines(cls: type, name: str) -> bool:
    """A method of uvicorn's own (not one only `asyncio.Protocol` declares)."""
    return any(
        name in vars(klass) for klass in cls.__mro__ if klass.__module__ != "asyncio.protocols"
    )


def _attribute_names(cls: type) -> set[str]:
    """Every attribute name the class's own code uses (`self.cycle = ...` names `cycle`)."""
    names: set[str] = set()
    for klass in cls.__mro__:
        for member in vars(klass).values():
            code = getattr(member, "__code__", None)
            if code is not None:
                names.update(code.co_names)
    return names


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
