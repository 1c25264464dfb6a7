"""The upstream transport on httpx: the general client, for what `http1` does not do
(proxies) and as the reference the conformance suite holds `http1` to.

httpx (httpcore underneath) already keeps most of `transport`'s rules: a connection idle
past its keep-alive expiry is dropped, a request is not sent again when its connection
dies, 1xx replies are skipped, headers are bounded (by h11, then by the transports'
limit), `HTTPS_PROXY` / `NO_PROXY` are read from the environment (`trust_env`). The
body is read raw and decoded here, so the same bounded decoder guards both transports.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Mapping

import httpx

from thinkgate.backends.upstream.transport import (
    MAX_HEADER_BYTES,
    BodyDecoder,
    TransportError,
    TransportOptions,
    read_upto,
)


class HttpxReply:
    def __init__(self, response: httpx.Response) -> None:
        self._response = response
        self.status = response.status_code
        self.reason = response.reason_phrase
        size = sum(len(name) + len(value) for name, value in response.headers.raw)
        if size > MAX_HEADER_BYTES:  # h11 stops at 100 KiB; our limit is the transports' one
            raise TransportError("the reply's headers are larger than the limit")
        self.headers: dict[str, str] = {}
        for name, value in response.headers.multi_items():
            self.headers[name] = f"{self.headers[name]}, {value}" if name in self.headers else value
        self._decoder = BodyDecoder(self.headers.get("content-encoding", "identity"))
        self._raw: AsyncIterator[bytes] = response.aiter_raw()
        self._eof = False
        self._closing: asyncio.Task[None] | None = None

    def at_eof(self) -> bool:
        return self._eof

    async def read(self) -> bytes | None:
        while not self._eof:
            try:
                chunk = await anext(self._raw)
            except StopAsyncIteration:
                self._eof = True
                return self._decoder.flush() or None
            except httpx.TimeoutException as exc:
                raise TimeoutError(f"no data from the upstream in time: {exc}") from exc
            except httpx.HTTPError as exc:
                raise TransportError(f"the upstream's reply broke: {exc}") from exc
            data = self._decoder.feed(chunk)
            if data:
                return data
        return None

    async def read_all(self, limit: int) -> bytes:
        return await read_upto(self.read, limit)

    def release(self) -> None:
        """Read to its end, httpcore has already put the connection back; else it closes."""
        if not self._eof:
            self.close()

    def close(self) -> None:
        """Drop the connection (how an upstream is told to stop): httpx closes it in a task,
        since its close is a coroutine and this is called from `finally` blocks."""
        if self._closing is None:
            self._eof = True
            self._closing = asyncio.get_running_loop().create_task(self._response.aclose())


class HttpxTransport:
    def __init__(self, options: TransportOptions) -> None:
        base = options.base_url.rstrip("/") + "/"
        verify = options.ssl_context() if base.startswith("https:") else True
        self._client = httpx.AsyncClient(
            base_url=base,
            headers={
                **options.headers,
                "Accept-Encoding": "identity",
                "User-Agent": "thinkgate",
            },
            timeout=httpx.Timeout(options.read_timeout, connect=options.connect_timeout),
            limits=httpx.Limits(
                max_connections=None,
                max_keepalive_connections=options.keep_idle,
                keepalive_expiry=options.idle_expiry,
            ),
            verify=verify,
            trust_env=True,  # HTTPS_PROXY / HTTP_PROXY / NO_PROXY
            follow_redirects=False,
        )

    async def request(
        self,
        method: str,
        path: str,
        body: bytes | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> HttpxReply:
        request = self._client.build_request(
            method, path.lstrip("/"), content=body, headers=dict(headers or {})
        )
        try:
            response = await self._client.send(request, stream=True)
        except httpx.TimeoutException as exc:
            raise TimeoutError(f"the upstream did not answer in time: {exc}") from exc
        except httpx.HTTPError as exc:
            raise TransportError(f"could not reach the upstream: {exc!r}") from exc
        try:
            return HttpxReply(response)
        except TransportError:
            await response.aclose()
            raise

    async def aclose(self) -> None:
        await self._client.aclose()
