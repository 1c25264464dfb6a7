"""One upstream reply on `http1`'s connections: status and headers at once, the body read
as it streams (decoded, bounded by backpressure: past `_PAUSE_AT` buffered bytes the socket
is not read until the reader catches up), the connection given back or dropped at the end."""

from __future__ import annotations

import asyncio
from typing import Protocol

from thinkgate.backends.upstream.transport import BodyDecoder, TransportError, read_upto

_PAUSE_AT = 1 << 20  # bytes buffered before the socket stops being read (backpressure)


class ReplySource(Protocol):
    """What a reply needs of its connection."""

    def pause(self) -> None: ...
    def resume(self) -> None: ...
    def abort(self) -> None: ...
    def finished(self, *, reuse: bool) -> None: ...


class Reply:
    """One reply: status and headers (names lower-case) at once, the body as it comes."""

    def __init__(self, connection: ReplySource, read_timeout: float) -> None:
        self.status = 0
        self.reason = ""
        self.headers: dict[str, str] = {}
        self._connection = connection
        self._read_timeout = read_timeout
        self._chunks: list[bytes] = []
        self._buffered = 0
        self._complete = False  # the whole body is in
        self._error: BaseException | None = None
        self._waiter: asyncio.Future[None] | None = None
        self._decoder = BodyDecoder("identity")
        self.header_bytes = 0
        self.started = False  # any byte of the reply arrived
        self.headers_done: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    def at_eof(self) -> bool:
        return self._complete and not self._chunks

    async def read(self) -> bytes | None:
        """What has arrived since the last read (waiting for something), or None at the end."""
        while not self._chunks:
            if self._error is not None:
                raise self._error
            if self._complete:
                return None
            loop = asyncio.get_running_loop()
            self._waiter = loop.create_future()
            timer = loop.call_later(self._read_timeout, self._time_out)
            try:
                await self._waiter
            finally:
                timer.cancel()
                self._waiter = None
        data = b"".join(self._chunks) if len(self._chunks) > 1 else self._chunks[0]
        self._chunks.clear()
        if self._buffered >= _PAUSE_AT:
            self._connection.resume()
        self._buffered = 0
        return data

    async def read_all(self, limit: int) -> bytes:
        """The body, or its first `limit` bytes (an error reply's explanation)."""
        return await read_upto(self.read, limit)

    def release(self) -> None:
        """Done with the reply: its connection is reused if the body was read to its end."""
        self._connection.finished(reuse=self.at_eof() and self._error is None)

    def close(self) -> None:
        """Abort: the connection is dropped, so the upstream sees the client go."""
        self._connection.finished(reuse=False)

    # --- fed by the connection --------------------------------------------------------

    def body(self, data: bytes) -> None:
        try:
            data = self._decoder.feed(data)
        except TransportError as exc:
            self.fail(exc)
            self._connection.abort()
            return
        if data:
            self._chunks.append(data)
            self._buffered += len(data)
            if self._buffered >= _PAUSE_AT:
                self._connection.pause()
            self._wake()

    def headers_complete(self, status: int) -> None:
        self.status = status
        try:
            self._decoder = BodyDecoder(self.headers.get("content-encoding", "identity"))
        except TransportError as exc:
            self.fail(exc)
            return
        if not self.headers_done.done():
            self.headers_done.set_result(None)

    def complete(self) -> None:
        try:
            rest = self._decoder.flush()
        except TransportError as exc:
            self.fail(exc)
            return
        if rest:
            self._chunks.append(rest)
        self._complete = True
        self._wake()

    def fail(self, error: BaseException) -> None:
        if self._complete or self._error is not None:
            return
        self._error = error
        if not self.headers_done.done():
            self.headers_done.set_exception(error)
            self.headers_done.exception()  # raised to whoever awaits; never logged as lost
        self._wake()

    def _time_out(self) -> None:
        self.fail(TimeoutError(f"no data from the upstream within {self._read_timeout:g}s"))

    def _wake(self) -> None:
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_result(None)
