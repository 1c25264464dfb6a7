"""Request ids, the access log, request metrics and draining, as one pure ASGI middleware.

Per request it does a dictionary read for the id, two clock reads, a counter and two
histogram updates, and one log record: no regex, no body parsing. The route label is the
matched route's template (`/v1/responses/{response_id}`), so label sets stay bounded.
"""

from __future__ import annotations

import logging
import os
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from thinkgate.api.errors import error_response
from thinkgate.errors import ServiceUnavailableError
from thinkgate.ops.drain import Drain
from thinkgate.ops.logs import ACCESS_LOGGER, request_id_var, write_line
from thinkgate.ops.metrics import Metrics

if TYPE_CHECKING:
    from thinkgate.gateway.account import Account

_INFO_KEY = "thinkgate.request"
_MAX_ID = 128
_QUIET = frozenset({"/healthz", "/readyz", "/health", "/metrics"})  # probes: debug level
log = logging.getLogger(ACCESS_LOGGER)


@dataclass(slots=True)
class RequestInfo:
    """Filled in as the request goes: the key (by id, never the secret) and its model."""

    request_id: str
    key_id: str | None = None
    account: Account | None = None

    @property
    def model(self) -> str | None:
        return self.account.model if self.account is not None else None


def request_info(scope: Scope) -> RequestInfo | None:
    info: RequestInfo | None = scope.get(_INFO_KEY)
    return info


class Observe:
    def __init__(
        self, app: ASGIApp, metrics: Metrics, drain: Drain, access_log: bool = True
    ) -> None:
        self.app = app
        self.metrics = metrics
        self.drain = drain
        self.access_log = access_log

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        info = RequestInfo(_request_id(scope))
        scope[_INFO_KEY] = info
        token = request_id_var.set(info.request_id)
        id_header = (b"x-request-id", info.request_id.encode("latin-1"))
        status = 500
        first_byte: float | None = None

        async def observed_send(message: Message) -> None:
            nonlocal status, first_byte
            if message["type"] == "http.response.start":
                status = message["status"]
                message = {**message, "headers": [*message.get("headers", ()), id_header]}
            elif first_byte is None and message["type"] == "http.response.body":
                first_byte = time.perf_counter()
            await send(message)

        self.drain.in_flight += 1
        try:
            if self.drain.draining and scope["path"] not in _QUIET:
                await self._refuse(scope, receive, observed_send)
            else:
                await self.app(scope, receive, observed_send)
        finally:
            self.drain.in_flight -= 1
            request_id_var.reset(token)
            self._record(scope, info, status, started, first_byte)

    async def _refuse(self, scope: Scope, receive: Receive, send: Send) -> None:
        error = ServiceUnavailableError(
            "The server is shutting down and takes no new requests; retry on another "
            "replica or in a moment.",
            code="server_shutting_down",
        )
        response = error_response(error)
        response.headers["connection"] = "close"
        response.headers["retry-after"] = "1"
        await response(scope, receive, send)

    def _record(
        self,
        scope: Scope,
        info: RequestInfo,
        status: int,
        started: float,
        first_byte: float | None,
    ) -> None:
        ended = time.perf_counter()
        route = scope.get("route")
        template: str = getattr(route, "path", None) or "unmatched"
        self.metrics.http.observe(
            template,
            scope["method"],
            status,
            info.model or "",
            ended - started,
            None if first_byte is None else first_byte - started,
        )
        level = logging.DEBUG if scope["path"] in _QUIET else logging.INFO
        if self.access_log and log.isEnabledFor(level):
            fields = _access(scope, info, status, ended - started, first_byte, started)
            message = f"{scope['method']} {scope['path']} {status}"
            if not write_line(log, level, message, fields):
                # A record built directly: `log.info` would walk the stack to find its
                # caller, the costliest part of a log call, for a field nothing prints.
                record = logging.LogRecord(ACCESS_LOGGER, level, __file__, 0, message, (), None)
                record.__dict__.update(fields)
                log.handle(record)


def _access(
    scope: Scope,
    info: RequestInfo,
    status: int,
    seconds: float,
    first_byte: float | None,
    started: float,
) -> dict[str, Any]:
    client = scope.get("client")
    return {
        "request_id": info.request_id,
        "method": scope["method"],
        "path": scope["path"],
        "status": status,
        "latency_ms": round(seconds * 1000, 2),
        "ttfb_ms": None if first_byte is None else round((first_byte - started) * 1000, 2),
        "model": info.model,
        "key_id": info.key_id,
        "client": client[0] if client else None,
    }


def _request_id(scope: Scope) -> str:
    """The caller's `X-Request-Id` when it is sane (printable ASCII, ≤ 128), else a new one."""
    for name, value in scope["headers"]:
        if name == b"x-request-id":
            text = bytes(value).decode("latin-1")
            if 0 < len(text) <= _MAX_ID and text.isascii() and text.isprintable():
                return text
            break
    return f"req_{os.urandom(16).hex()}"
