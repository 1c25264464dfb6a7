"""The upstream channels' HTTP/1.1 client: a keep-alive pool and streamed reply bodies.

Per proxied request aiohttp cost ~280 µs of CPU here and a bare protocol on httptools'
parser (uvicorn's, in C) ~80 µs, a fifth of the gateway's whole budget (bench/overhead).
The proxy path needs little of a general client: one origin per channel, a request with a
known body, a reply read as it streams. So this is only that:

    Pool.request ─► idle connection (or a new one: TCP, TLS for https)
                 ─► head + body in one write ─► Reply once the status and headers are in
    Reply.read   ─► the body as it arrives (chunked, sized or up to the close), decoded
                    from gzip/deflate if the upstream insisted; None at its end
    Reply.release ► a reply read to its end gives its connection back to the pool;
                    anything else closes it (which is how an upstream is told to stop)

It keeps the rules of `transport` (tests/backends/test_transports.py): an idle connection the
server closed is never reused, nor one idle past `idle_expiry`; a request is never sent
twice (a reused connection that dies with the request out is an error: its bytes may have
reached the upstream); 1xx replies are skipped; headers and decoded bodies are bounded.
It speaks to no proxy: `transport.make` gives a channel behind `HTTPS_PROXY` to httpx.
Errors are `HTTPClientError` (`transport.TransportError`: connect, reset, cut, garbled,
too big) and `TimeoutError` (connect, or no byte within the read timeout).
"""

from __future__ import annotations

import asyncio
import ssl
import time
from collections.abc import Mapping
from typing import cast
from urllib.parse import urlsplit

import httptools

from thinkgate.backends.upstream.http1_reply import Reply
from thinkgate.backends.upstream.transport import (
    MAX_HEADER_BYTES,
    TransportError,
    TransportOptions,
    host_header,
)

HTTPClientError = TransportError  # the name the channel code knows it by


class _Connection(asyncio.Protocol):
    """One keep-alive connection; at most one reply in flight."""

    def __init__(self, pool: Pool) -> None:
        self._pool = pool
        self._transport: asyncio.Transport | None = None
        self._parser = httptools.HttpResponseParser(self)
        self._reply: Reply | None = None
        self._header_name = ""
        self._sized = False  # Content-Length or chunked: the body ends by itself
        self._keep_alive = False
        self._waiting_since: float | None = None  # the request is out, no reply byte yet
        self._informational = False  # a 1xx reply's end is not the reply's end
        self.closed = False
        self.idle_since = 0.0

    def send(self, data: bytes, read_timeout: float) -> Reply:
        assert self._transport is not None and self._reply is None
        self._reply = Reply(self, read_timeout)
        self._parser = httptools.HttpResponseParser(self)
        self._sized = self._keep_alive = False
        self._transport.write(data)
        waits = self._pool.waits
        if waits is not None:
            self._waiting_since = waits.waiting(asyncio.get_running_loop())
        return self._reply

    def finished(self, *, reuse: bool) -> None:
        if self._reply is None:
            return
        self._reply = None
        if reuse and self._keep_alive and not self.closed:
            self._pool.idle(self)
        else:
            self.abort()

    def abort(self) -> None:
        self.closed = True
        if self._transport is not None:
            self._transport.abort()

    def pause(self) -> None:
        if self._transport is not None:
            self._transport.pause_reading()

    def resume(self) -> None:
        if self._transport is not None and not self.closed:
            self._transport.resume_reading()

    # --- asyncio.Protocol -------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = cast(asyncio.Transport, transport)  # uvloop's is not a subclass

    def data_received(self, data: bytes) -> None:
        if self._waiting_since is not None:
            self._end_wait(answered=True)
        reply = self._reply
        if reply is None:  # bytes nobody asked for: the connection cannot be trusted
            self.abort()
            return
        reply.started = True
        try:
            self._parser.feed_data(data)
        except httptools.HttpParserError as exc:
            reply.fail(HTTPClientError(f"the upstream's reply is not valid HTTP: {exc}"))
            self.abort()

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        self._pool.forget(self)
        if self._waiting_since is not None:
            self._end_wait(answered=False)
        reply = self._reply
        if reply is None:
            return
        if reply.headers_done.done() and not self._sized and exc is None:
            reply.complete()  # a body delimited by the close of the connection
        else:
            reason = f": {exc}" if exc is not None else ""
            reply.fail(HTTPClientError(f"the upstream closed the connection{reason}"))

    def _end_wait(self, *, answered: bool) -> None:
        since, self._waiting_since = self._waiting_since, None
        waits = self._pool.waits
        if since is None or waits is None:
            return
        if answered:
            waits.answered(since)
        else:
            waits.abandoned()

    # --- httptools callbacks ----------------------------------------------------------

    def on_status(self, status: bytes) -> None:
        if self._reply is not None:
            self._reply.reason = status.decode("latin-1")
            self._count_header_bytes(len(status))

    def on_header(self, name: bytes, value: bytes) -> None:
        if self._reply is None or not self._count_header_bytes(len(name) + len(value)):
            return
        if name:
            self._header_name = name.decode("latin-1").lower()
        headers = self._reply.headers
        text = value.decode("latin-1")
        key = self._header_name
        headers[key] = f"{headers[key]}, {text}" if key in headers else text

    def on_headers_complete(self) -> None:
        if self._reply is None:
            return
        status = self._parser.get_status_code()
        if 100 <= status < 200 and status != 101:  # 100 Continue, 103 Early Hints: skipped
            self._informational = True
            self._reply.headers.clear()
            return
        headers = self._reply.headers
        self._sized = (
            "content-length" in headers or "chunked" in headers.get("transfer-encoding", "").lower()
        )
        self._keep_alive = self._parser.should_keep_alive()
        self._reply.headers_complete(status)

    def on_body(self, body: bytes) -> None:
        if self._reply is not None:
            self._reply.body(body)

    def on_message_complete(self) -> None:
        if self._informational:
            self._informational = False
            return
        if self._reply is not None:
            self._reply.complete()

    def _count_header_bytes(self, size: int) -> bool:
        assert self._reply is not None
        self._reply.header_bytes += size
        if self._reply.header_bytes <= MAX_HEADER_BYTES:
            return True
        self._reply.fail(HTTPClientError("the reply's headers are larger than the limit"))
        self.abort()
        return False


class Pool:
    """Keep-alive connections to one origin (`base_url`'s scheme, host and port)."""

    def __init__(self, options: TransportOptions) -> None:
        parts = urlsplit(options.base_url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"not an http(s) URL: {options.base_url!r}")
        self._host = parts.hostname
        self._port = parts.port or (443 if parts.scheme == "https" else 80)
        self._ssl = options.ssl_context() if parts.scheme == "https" else None
        self.base_path = parts.path.rstrip("/") + "/"
        host = host_header(self._host, self._port, parts.scheme)
        lines = [f"Host: {host}", "Accept-Encoding: identity", "User-Agent: thinkgate"]
        lines += [f"{name}: {value}" for name, value in options.headers.items()]
        self._head = ("\r\n".join(lines) + "\r\n").encode("latin-1")
        self._connect_timeout = options.connect_timeout
        self._read_timeout = options.read_timeout
        self._keep_idle = options.keep_idle
        self._idle_expiry = options.idle_expiry
        self.waits = options.waits  # the replies' waits, polled for while short
        self._idle: list[_Connection] = []
        self._open: set[_Connection] = set()
        self._heads: dict[tuple[str, str], bytes] = {}

    async def request(
        self,
        method: str,
        path: str,
        body: bytes | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> Reply:
        """Send the request; returns once the reply's status and headers are in.
        `headers`: this request's own, added to the pool's (values already checked)."""
        data = self._request_line(method, path)
        for name, value in (headers or {}).items():
            data += f"{name}: {value}\r\n".encode("latin-1")
        if body is not None:
            data += b"Content-Length: %d\r\n\r\n%s" % (len(body), body)
        else:
            data += b"\r\n"
        connection = self._take_idle() or await self._connect()
        reply = connection.send(data, self._read_timeout)
        try:
            await reply.headers_done  # a failure here is never retried: see the docstring
        except BaseException:
            reply.close()
            raise
        return reply

    def _take_idle(self) -> _Connection | None:
        """The most recently used live connection; the ones idle too long are closed."""
        expired = time.monotonic() - self._idle_expiry
        while self._idle:
            connection = self._idle.pop()
            if not connection.closed and connection.idle_since >= expired:
                return connection
            connection.abort()
        return None

    def _request_line(self, method: str, path: str) -> bytes:
        key = (method, path)
        head = self._heads.get(key)
        if head is None:
            target = self.base_path + path.lstrip("/")
            head = f"{method} {target} HTTP/1.1\r\n".encode("latin-1") + self._head
            if len(self._heads) < 64:
                self._heads[key] = head
        return head

    async def _connect(self) -> _Connection:
        loop = asyncio.get_running_loop()
        try:
            async with asyncio.timeout(self._connect_timeout):
                transport, connection = await loop.create_connection(
                    lambda: _Connection(self),
                    self._host,
                    self._port,
                    ssl=self._ssl,
                    server_hostname=self._host if self._ssl is not None else None,
                )
        except TimeoutError:
            raise
        except (OSError, ssl.SSLError) as exc:
            raise HTTPClientError(f"could not connect to {self._host}:{self._port}: {exc}") from exc
        connection.connection_made(transport)  # uvloop may not have called it yet
        self._open.add(connection)
        return connection

    def idle(self, connection: _Connection) -> None:
        if len(self._idle) < self._keep_idle:
            connection.idle_since = time.monotonic()
            self._idle.append(connection)
        else:
            connection.abort()

    def forget(self, connection: _Connection) -> None:
        self._open.discard(connection)

    async def aclose(self) -> None:
        for connection in list(self._open):
            connection.abort()
        self._idle.clear()
        self._open.clear()
