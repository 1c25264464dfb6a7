"""One upstream channel: its HTTP/1.1 keep-alive pool, key, concurrency limit and breaker.

`open_stream()` is the only network step before generation is committed: it connects,
checks the status and reads the first SSE event within the first-byte deadline, so every
way an upstream can fail before producing anything is an `UpstreamFailure` the router may
move past.
"""

from __future__ import annotations

import asyncio
import json
import os
import time
from collections.abc import AsyncIterator
from typing import Any

import anyio
import httpx
from httpx_sse import EventSource, SSEError

from thinkgate.backends.upstream.breaker import CircuitBreaker
from thinkgate.backends.upstream.failure import UpstreamFailure
from thinkgate.config import ChannelConfig, ConfigError

Event = dict[str, Any]
_MAX_ERROR_BODY = 64 * 1024
_MAX_RETRY_AFTER = 60.0
_DRAIN_SECONDS = 1.0


class Channel:
    def __init__(self, config: ChannelConfig, client: httpx.AsyncClient | None = None) -> None:
        self.config = config
        self.name = config.name
        self.breaker = CircuitBreaker(config.breaker_failures, config.breaker_cooldown)
        self._slots = asyncio.Semaphore(config.max_concurrency)
        self._cool_until = 0.0
        self._client = client or _default_client(config, _read_key(config))

    @property
    def full(self) -> bool:
        return self._slots.locked()

    @property
    def cooling_down(self) -> bool:
        """The upstream asked us to back off (429 with Retry-After) and the time is not up."""
        return time.monotonic() < self._cool_until

    async def get_json(self, path: str) -> Any:
        """A plain GET (the models list for `channels test`)."""
        try:
            reply = await self._client.get(path, timeout=self.config.timeouts.first_byte)
        except httpx.TimeoutException as exc:
            raise UpstreamFailure(self.name, "timeout", f"timed out: {exc!r}") from exc
        except httpx.HTTPError as exc:
            raise UpstreamFailure(self.name, "connect", f"could not connect: {exc!r}") from exc
        if reply.status_code >= 400:
            raise _status_failure(self.name, reply, reply.content)
        return reply.json()

    async def open_stream(self, path: str, body: dict[str, Any]) -> UpstreamStream:
        """POST a streaming request; returns once the first event is in (or fails)."""
        timeouts = self.config.timeouts
        started = time.monotonic()
        await self._slots.acquire()
        response: httpx.Response | None = None
        try:
            try:
                with anyio.fail_after(timeouts.first_byte):
                    request = self._client.build_request("POST", path, json=body)
                    response = await self._client.send(request, stream=True)
                    if response.status_code >= 400:
                        raise self._status_failure(response, await _read_capped(response))
                    stream = UpstreamStream(self, response, started + timeouts.total)
                    stream.first = await stream.next_event()
                return stream
            except TimeoutError as exc:
                raise UpstreamFailure(
                    self.name, "timeout", f"no first byte within {timeouts.first_byte:g}s"
                ) from exc
            except httpx.TimeoutException as exc:
                raise UpstreamFailure(
                    self.name, "timeout", f"timed out ({type(exc).__name__})"
                ) from exc
            except httpx.HTTPError as exc:
                raise UpstreamFailure(
                    self.name, "connect", f"could not connect ({type(exc).__name__}: {exc})"
                ) from exc
        except BaseException:
            if response is not None:
                with anyio.CancelScope(shield=True):
                    await response.aclose()
            self._slots.release()
            raise

    def _status_failure(self, response: httpx.Response, raw: bytes) -> UpstreamFailure:
        failure = _status_failure(self.name, response, raw)
        if failure.status == 429 and failure.retry_after:
            self._cool_until = time.monotonic() + failure.retry_after
        return failure

    def release(self) -> None:
        self._slots.release()

    async def aclose(self) -> None:
        await self._client.aclose()


class UpstreamStream:
    """The SSE events of one upstream reply; `aclose()` closes the connection (cancels)."""

    def __init__(self, channel: Channel, response: httpx.Response, deadline: float) -> None:
        self.channel = channel
        self.first: Event | None = None
        self._response = response
        self._deadline = deadline
        self._events = EventSource(response).aiter_sse()
        self._closed = False

    async def next_event(self) -> Event | None:
        """The next JSON event, or None at `[DONE]` / a clean end of the body.

        The total limit is checked between events (a cancel scope per event costs more
        than the rest of the parsing); a stall inside one read is bounded by the client's
        read timeout, which is also the total limit.
        """
        name = self.channel.name
        if time.monotonic() > self._deadline:
            raise UpstreamFailure(name, "timeout", "the total time limit ran out")
        try:
            sse = await anext(self._events, None)
        except SSEError as exc:
            raise UpstreamFailure(name, "malformed", f"not an event stream: {exc}") from exc
        except httpx.TimeoutException as exc:
            raise UpstreamFailure(name, "timeout", "the upstream stalled mid-stream") from exc
        except httpx.HTTPError as exc:
            raise UpstreamFailure(name, "cut", f"the stream broke ({type(exc).__name__})") from exc
        if sse is None or sse.data.strip() == "[DONE]":
            return None
        try:
            event = json.loads(sse.data)
        except json.JSONDecodeError as exc:
            raise UpstreamFailure(name, "malformed", "malformed SSE data (not JSON)") from exc
        if not isinstance(event, dict):
            raise UpstreamFailure(name, "malformed", "malformed SSE data (not an object)")
        if sse.event != "message" and "type" not in event:
            event["type"] = sse.event
        return event

    async def events(self) -> AsyncIterator[Event]:
        """The first event, then the rest until the end of the stream."""
        if self.first is not None:
            yield self.first
        while (event := await self.next_event()) is not None:
            yield event

    async def aclose(self, *, drain: bool = False) -> None:
        """Close the reply. `drain`: it ended well, so read it to the end first and the
        connection goes back to the keep-alive pool (closing it early would drop it)."""
        if self._closed:
            return
        self._closed = True
        try:
            if drain and not self._response.is_closed:
                with anyio.move_on_after(_DRAIN_SECONDS):
                    async for _ in self._events:
                        pass
            await self._response.aclose()
        except httpx.HTTPError:
            pass  # the connection is dropped either way
        finally:
            self.channel.release()


def _read_key(config: ChannelConfig) -> str | None:
    if config.api_key_env is None:
        return None
    key = os.environ.get(config.api_key_env)
    if not key:
        raise ConfigError(
            f"channel {config.name!r}: environment variable {config.api_key_env} is not set"
        )
    return key


def _default_client(config: ChannelConfig, key: str | None) -> httpx.AsyncClient:
    timeouts = config.timeouts
    headers = {"Accept": "application/json, text/event-stream"}
    if key is not None:
        headers["Authorization"] = f"Bearer {key}"
    return httpx.AsyncClient(
        base_url=config.base_url.rstrip("/") + "/",
        headers=headers,
        timeout=httpx.Timeout(timeouts.total, connect=timeouts.connect),
        limits=httpx.Limits(
            max_connections=config.max_concurrency,
            max_keepalive_connections=config.max_concurrency,
        ),
        trust_env=False,
    )


async def _read_capped(response: httpx.Response) -> bytes:
    chunks: list[bytes] = []
    size = 0
    async for chunk in response.aiter_bytes():
        chunks.append(chunk)
        size += len(chunk)
        if size >= _MAX_ERROR_BODY:
            break
    return b"".join(chunks)[:_MAX_ERROR_BODY]


def _status_failure(channel: str, response: httpx.Response, raw: bytes) -> UpstreamFailure:
    error: dict[str, Any] | None = None
    detail = response.reason_phrase or "error"
    try:
        body = json.loads(raw)
    except (json.JSONDecodeError, UnicodeDecodeError):
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
        status=response.status_code,
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
