"""One upstream channel: its HTTP/1.1 keep-alive pool, key, concurrency limit and breaker.

`open_stream()` is the only network step before generation is committed: it connects,
checks the status and reads the first SSE event within the first-byte deadline, so every
way an upstream can fail before producing anything is an `UpstreamFailure` the router may
move past.

The HTTP client is a `transport.Transport`, chosen per channel (`transport`): `http1`, a
lean keep-alive HTTP/1.1 client chosen by the overhead benchmark (bench/overhead: aiohttp
cost 3.5x its CPU per proxied request, httpx more), or `httpx`; a channel reached through
a proxy (`HTTPS_PROXY`, not in `NO_PROXY`) always gets httpx. Both pass one conformance
suite (tests/backends/test_transports.py). It is made on first use, inside the running event loop.
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import AsyncIterator
from typing import Any

import anyio
import orjson

from thinkgate.backends.upstream.breaker import CircuitBreaker
from thinkgate.backends.upstream.failure import UpstreamFailure
from thinkgate.backends.upstream.http1 import HTTPClientError, Pool
from thinkgate.backends.upstream.httpx_transport import HttpxTransport
from thinkgate.backends.upstream.sse_reader import ServerSentEvent, SSEDecoder
from thinkgate.backends.upstream.transport import Reply, Transport, TransportOptions
from thinkgate.config import ChannelConfig, ConfigError
from thinkgate.net.short_waits import WaitPoller

Event = dict[str, Any]
_MAX_ERROR_BODY = 64 * 1024
_MAX_RETRY_AFTER = 60.0
_DRAIN_SECONDS = 1.0


class Channel:
    def __init__(self, config: ChannelConfig) -> None:
        self.config = config
        self.name = config.name
        self.breaker = CircuitBreaker(config.breaker_failures, config.breaker_cooldown)
        self._slots = asyncio.Semaphore(config.max_concurrency)
        self._cool_until = 0.0
        self._headers = _default_headers(_read_key(config))
        self._pool: Transport | None = None

    @property
    def full(self) -> bool:
        return self._slots.locked()

    @property
    def cooling_down(self) -> bool:
        """The upstream asked us to back off (429 with Retry-After) and the time is not up."""
        return time.monotonic() < self._cool_until

    def _client(self) -> Transport:
        if self._pool is None:
            config = self.config
            options = TransportOptions(
                config.base_url,
                self._headers,
                connect_timeout=config.timeouts.connect,
                read_timeout=config.timeouts.total,  # every read bounded by the total limit
                keep_idle=config.max_concurrency,
                idle_expiry=config.timeouts.idle,
                ca_file=str(config.ca_file) if config.ca_file else None,
                client_cert=str(config.client_cert) if config.client_cert else None,
                client_key=str(config.client_key) if config.client_key else None,
                waits=WaitPoller(config.busy_poll_us * 1e-6),
            )
            self._pool = open_transport(config.transport, options)
        return self._pool

    async def get_json(self, path: str) -> Any:
        """A plain GET (the models list for `channels test`)."""
        try:
            async with asyncio.timeout(self.config.timeouts.first_byte):
                reply = await self._client().request("GET", path)
                try:
                    raw = await reply.read_all(_MAX_ERROR_BODY * 16)
                finally:
                    reply.release()
                if reply.status >= 400:
                    raise _status_failure(self.name, reply, raw)
        except TimeoutError as exc:
            raise UpstreamFailure(self.name, "timeout", f"timed out: {exc!r}") from exc
        except HTTPClientError as exc:
            raise UpstreamFailure(self.name, "connect", f"could not connect: {exc}") from exc
        try:
            return orjson.loads(raw)
        except orjson.JSONDecodeError as exc:
            raise UpstreamFailure(self.name, "malformed", "the reply is not JSON") from exc

    async def open_stream(
        self, path: str, body: dict[str, Any], headers: dict[str, str] | None = None
    ) -> UpstreamStream:
        """POST a streaming request; returns once the first event is in (or fails).
        `headers`: the client's session headers (protocol.client_headers), if any."""
        timeouts = self.config.timeouts
        started = time.monotonic()
        await self._slots.acquire()
        response: Reply | None = None
        try:
            try:
                async with asyncio.timeout(timeouts.first_byte):  # anyio's costs 3x as much
                    response = await self._client().request(
                        "POST", path, orjson.dumps(body), headers
                    )
                    if response.status >= 400:
                        raise self._status_failure(
                            response, await response.read_all(_MAX_ERROR_BODY)
                        )
                    if not _is_event_stream(response):
                        kind = response.headers.get("content-type", "no content type")
                        raise UpstreamFailure(
                            self.name, "malformed", f"not an event stream: {kind}"
                        )
                    stream = UpstreamStream(self, response, started + timeouts.total)
                    await stream.read_first()
                return stream
            except TimeoutError as exc:
                raise UpstreamFailure(
                    self.name, "timeout", f"no first byte within {timeouts.first_byte:g}s"
                ) from exc
            except HTTPClientError as exc:
                raise UpstreamFailure(self.name, "connect", f"could not connect ({exc})") from exc
        except BaseException:
            if response is not None:
                response.close()
            self._slots.release()
            raise

    def _status_failure(self, response: Reply, raw: bytes) -> UpstreamFailure:
        failure = _status_failure(self.name, response, raw)
        if failure.status == 429 and failure.retry_after:
            self._cool_until = time.monotonic() + failure.retry_after
        return failure

    def release(self) -> None:
        self._slots.release()

    async def aclose(self) -> None:
        if self._pool is not None:
            await self._pool.aclose()


class UpstreamStream:
    """The SSE events of one upstream reply, a batch per network read (an engine often
    sends many events in one write: each then costs no trip through the event loop of its
    own); `aclose()` closes the connection (cancels)."""

    def __init__(self, channel: Channel, response: Reply, deadline: float) -> None:
        self.channel = channel
        self._response = response
        self._deadline = deadline
        self._decoder = SSEDecoder()
        self._held: list[Event] | None = None  # the first batch, read before committing
        self._ended = False  # `[DONE]` or the end of the body
        self._failure: UpstreamFailure | None = None  # met after good events of one read
        self._closed = False

    @property
    def headers(self) -> dict[str, str]:
        """The reply's headers, names lower-case."""
        return self._response.headers

    async def read_first(self) -> None:
        """Read up to the first event (the first byte that counts), held for `batches`."""
        self._held = await self._next_batch()

    async def batches(self) -> AsyncIterator[list[Event]]:
        """Lists of JSON events, in order, until `[DONE]` or a clean end of the body.

        The total limit is checked between reads (a cancel scope per read costs more than
        the parsing); a stall inside one read is bounded by the client's read timeout,
        which is also the total limit.
        """
        held, self._held = self._held, None
        if held:
            yield held
        while (batch := await self._next_batch()) is not None:
            yield batch

    async def _next_batch(self) -> list[Event] | None:
        name = self.channel.name
        if self._failure is not None:
            raise self._failure
        while not self._ended:
            if time.monotonic() > self._deadline:
                raise UpstreamFailure(name, "timeout", "the total time limit ran out")
            try:
                chunk = await self._response.read()
            except TimeoutError as exc:
                raise UpstreamFailure(name, "timeout", "the upstream stalled mid-stream") from exc
            except HTTPClientError as exc:
                raise UpstreamFailure(name, "cut", f"the stream broke ({exc})") from exc
            if chunk is None:
                self._ended = True
                return self._parse(self._decoder.close()) or None
            events = self._parse(self._decoder.feed(chunk))
            if events:
                return events
        return None

    def _parse(self, sse_events: list[ServerSentEvent]) -> list[Event]:
        """The read's events; a malformed one after good ones is raised on the next read, so
        what came before it is delivered (and counts as the first byte) as if read alone."""
        events: list[Event] = []
        for sse in sse_events:
            if sse.data.strip() == b"[DONE]":
                self._ended = True
                break
            try:
                events.append(self._event(sse))
            except UpstreamFailure as failure:
                if not events:
                    raise
                self._failure = failure
                break
        return events

    def _event(self, sse: ServerSentEvent) -> Event:
        name = self.channel.name
        try:
            event = orjson.loads(sse.data)
        except orjson.JSONDecodeError as exc:
            raise UpstreamFailure(name, "malformed", "malformed SSE data (not JSON)") from exc
        if not isinstance(event, dict):
            raise UpstreamFailure(name, "malformed", "malformed SSE data (not an object)")
        if sse.event != "message" and "type" not in event:
            event["type"] = sse.event
        return event

    def close_if_read(self) -> bool:
        """Hand the connection back to the pool at once if the reply was read to its end
        (the usual case: nothing to wait for, so no cancel shield to pay for)."""
        if self._closed or not self._response.at_eof():
            return self._closed
        self._closed = True
        try:
            self._response.release()
        finally:
            self.channel.release()
        return True

    async def aclose(self, *, drain: bool = False) -> None:
        """Close the reply. `drain`: it ended well, so read it to the end first and the
        connection goes back to the keep-alive pool (closing it early would drop it)."""
        if self._closed:
            return
        self._closed = True
        try:
            if drain and not self._response.at_eof():
                with anyio.move_on_after(_DRAIN_SECONDS):
                    while await self._response.read() is not None:
                        pass
            if drain and self._response.at_eof():
                self._response.release()  # read to the end: the connection is reused
            else:
                self._response.close()  # the upstream sees the disconnect and stops
        except (HTTPClientError, TimeoutError):
            self._response.close()  # the connection is dropped either way
        finally:
            self.channel.release()


def open_transport(kind: str, options: TransportOptions) -> Transport:
    """The channel's transport; httpx wherever a proxy is in the way (`http1` has none)."""
    if kind == "httpx" or options.proxy() is not None:
        return HttpxTransport(options)
    return Pool(options)


def _is_event_stream(response: Reply) -> bool:
    return response.headers.get("content-type", "").partition(";")[0].strip() == (
        "text/event-stream"
    )


def _read_key(config: ChannelConfig) -> str | None:
    if config.api_key_env is None:
        return None
    key = os.environ.get(config.api_key_env)
    if not key:
        raise ConfigError(
            f"channel {config.name!r}: environment variable {config.api_key_env} is not set"
        )
    return key


def _default_headers(key: str | None) -> dict[str, str]:
    headers = {"Accept": "application/json, text/event-stream", "Content-Type": "application/json"}
    if key is not None:
        headers["Authorization"] = f"Bearer {key}"
    return headers


def _status_failure(channel: str, response: Reply, raw: bytes) -> UpstreamFailure:
    error: dict[str, Any] | None = None
    detail = response.reason or "error"
    try:
        body = orjson.loads(raw)
    except orjson.JSONDecodeError:
        body = None
    if isinstance(body, dict):
        found = body.get("error", body)
        if isinstance(found, dict):
            error = found
            detail = str(found.get("message") or found.get("detail") or detail)[:300]
        elif isinstance(found, str):
            detail = found[:300]
    return UpstreamFailure(
        channel,
        "status",
        detail,
        status=response.status,
        retry_after=_retry_after(response.headers.get("retry-after")),
        error=error,
    )


def _retry_after(value: str | None) -> float | None:
    if not value:
        return None
    try:
        seconds = float(value)
    except ValueError:
        return None  # an HTTP date: not worth parsing for a cool-down hint
    return min(max(seconds, 0.0), _MAX_RETRY_AFTER)
