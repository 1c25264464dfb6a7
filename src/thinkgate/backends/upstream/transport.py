"""The upstream HTTP transport, passed in: what a channel needs of an HTTP client, and the
rules every transport keeps (tests/backends/test_transports.py runs one suite against each).

    Transport.request ─► a `Reply` once its final status and headers are in (1xx skipped)
    Reply.read        ─► the body as it arrives, decoded (bounded), None at its end
    Reply.release     ─► read to its end: the connection is reused; else it is closed

The rules: an idle connection is not reused past `idle_expiry`; a request whose bytes may
have reached the upstream is never sent twice (a dead reused connection is an error, not a
retry); headers and decoded bodies are bounded; `HTTPS_PROXY` / `HTTP_PROXY` / `NO_PROXY`
are honoured; a channel may name its own CA and client certificate; an IPv6 literal gets
a bracketed `Host`. Errors are `TransportError` (connect, reset, cut, garbled, too big)
and `TimeoutError` (connect, or no byte within the read timeout).
"""

from __future__ import annotations

import ssl
import urllib.request
import zlib
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Protocol
from urllib.parse import urlsplit

from thinkgate.net.short_waits import WaitPoller

MAX_HEADER_BYTES = 64 * 1024  # a reply's status line and headers together
MAX_DECODED_BYTES = 256 * 1024 * 1024  # one reply's body after gzip/deflate


class TransportError(Exception):
    """The connection could not be made, or broke, or the reply was not HTTP (or too big)."""


async def read_upto(read: Callable[[], Awaitable[bytes | None]], limit: int) -> bytes:
    """A body, or its first `limit` bytes (an error reply's explanation): each
    transport's `Reply.read_all`."""
    parts: list[bytes] = []
    size = 0
    while size < limit and (chunk := await read()) is not None:
        parts.append(chunk)
        size += len(chunk)
    return b"".join(parts)[:limit]


class Reply(Protocol):
    status: int
    reason: str
    headers: dict[str, str]  # names lower-case; repeated ones joined with ", "

    async def read(self) -> bytes | None: ...

    async def read_all(self, limit: int) -> bytes: ...

    def at_eof(self) -> bool: ...

    def release(self) -> None: ...

    def close(self) -> None: ...


class Transport(Protocol):
    async def request(
        self,
        method: str,
        path: str,
        body: bytes | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> Reply: ...

    async def aclose(self) -> None: ...


@dataclass(frozen=True)
class TransportOptions:
    """One channel's connection settings (`base_url`'s origin; `path`s are relative to it)."""

    base_url: str
    headers: Mapping[str, str]
    connect_timeout: float
    read_timeout: float
    keep_idle: int = 32
    idle_expiry: float = 30.0  # seconds an idle keep-alive connection may be reused
    ca_file: str | None = None  # trust this CA (PEM) instead of the system's
    client_cert: str | None = None  # PEM certificate (and key, unless `client_key`)
    client_key: str | None = None
    waits: WaitPoller | None = field(default=None, compare=False)

    def ssl_context(self) -> ssl.SSLContext:
        context = ssl.create_default_context(cafile=self.ca_file)
        if self.client_cert is not None:
            context.load_cert_chain(self.client_cert, self.client_key)
        return context

    def proxy(self) -> str | None:
        """The proxy `HTTPS_PROXY` / `HTTP_PROXY` name for this origin, unless `NO_PROXY`
        lets it go direct (read when the transport is made)."""
        parts = urlsplit(self.base_url)
        host = parts.hostname or ""
        proxies = urllib.request.getproxies_environment()
        proxy = proxies.get(parts.scheme)
        if not proxy or urllib.request.proxy_bypass(host):  # NO_PROXY (on Linux)
            return None
        return proxy


def host_header(host: str, port: int, scheme: str) -> str:
    """`Host` for an origin: the port unless it is the scheme's, an IPv6 literal bracketed."""
    name = f"[{host}]" if ":" in host else host
    default = port == (443 if scheme == "https" else 80)
    return name if default else f"{name}:{port}"


class BodyDecoder:
    """gzip / deflate bodies decoded as they come, never past `MAX_DECODED_BYTES` (a small
    compressed body may stand for gigabytes: it is cut off, not inflated)."""

    def __init__(self, encoding: str, limit: int | None = None) -> None:
        encoding = encoding.strip().lower()
        self._zlib: zlib._Decompress | None = None
        if encoding in ("gzip", "x-gzip"):
            self._zlib = zlib.decompressobj(16 + zlib.MAX_WBITS)
        elif encoding == "deflate":
            self._zlib = zlib.decompressobj()
        elif encoding not in ("", "identity"):
            raise TransportError(f"the reply's content-encoding {encoding!r} is not supported")
        self._left = MAX_DECODED_BYTES if limit is None else limit

    def feed(self, data: bytes) -> bytes:
        if self._zlib is None:
            return self._counted(data)
        try:
            out = self._zlib.decompress(data, self._left + 1)
        except zlib.error as exc:
            raise TransportError(f"the reply body does not decompress: {exc}") from exc
        if self._zlib.unconsumed_tail:
            raise TransportError("the reply body decompresses past the limit")
        return self._counted(out)

    def flush(self) -> bytes:
        return self._counted(self._zlib.flush()) if self._zlib is not None else b""

    def _counted(self, data: bytes) -> bytes:
        self._left -= len(data)
        if self._left < 0:
            raise TransportError("the reply body is larger than the limit")
        return data
