"""WebSocket mode on `/v1/responses` (Open Responses' `x-openresponses-websocket`, OpenAI's
WebSocket mode; Codex uses it when its provider sets `supports_websockets`).

A client that upgrades `/v1/responses` sends `response.create` messages (the create body
plus `"type"`) and receives, one JSON text frame each, the very events a streamed POST
sends; only the framing differs. A client that does not upgrade never meets any of this.

    upgrade ──► key checked ──(bad key: refused with the HTTP 401/403 body, never accepted)
       │
    accept ──► message ──► JSON object? ──► `response.create` ──► the POST's parse, checks,
       ▲                                        pipeline, admission and bill ──► events
       └──────── next message (one response at a time, FIFO) ◄──── terminal event

A message that fails (not JSON, a bad parameter, a rate limit) is answered with one
`{"type": "error", "status": …, "error": {…}}` frame (the openai SDK's `ResponseWsError`,
Open Responses' `WebSocketErrorEvent`) and the connection stays open. A client that leaves
mid-response cancels it; the run settles (stored, billed for what was generated) once.

`previous_response_id` naming the connection's latest response resolves from memory when
that response was not stored (`store: false`): OpenAI's connection-local cache, which
Codex relies on to send only each turn's new items.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

import anyio
import orjson
from anyio.streams.memory import MemoryObjectReceiveStream, MemoryObjectSendStream
from starlette.websockets import WebSocket, WebSocketDisconnect

from thinkgate.api.deps import Services, require_key
from thinkgate.api.errors import DATABASE_UNAVAILABLE, error_response
from thinkgate.api.gateway_headers import COST_HEADER, account_headers
from thinkgate.api.prompt_use import use_stored_prompt
from thinkgate.api.urls import check_item_urls
from thinkgate.core.request import CanonicalRequest, Item
from thinkgate.engine.assembler import Event
from thinkgate.engine.response_run import ResponseRun
from thinkgate.engine.responses_request import canonical_from_responses
from thinkgate.errors import (
    AuthenticationError,
    InvalidRequestError,
    PermissionDeniedError,
    ServerError,
    ServiceUnavailableError,
    ThinkgateError,
)
from thinkgate.protocol.limits import check_depth
from thinkgate.protocol.parsing import parse_json, validate
from thinkgate.protocol.responses import CreateResponseRequest
from thinkgate.store.keys import KeyRecord

log = logging.getLogger(__name__)

PENDING_MESSAGES = 16  # read ahead while a response runs; past that the reader waits
# Codex acknowledges each response it has read; nothing to do, never an error
_ACKNOWLEDGEMENTS = frozenset({"response.processed"})


async def responses_websocket(websocket: WebSocket) -> None:
    """The `/v1/responses` WebSocket route: authenticate the upgrade, then serve."""
    services: Services = websocket.app.state.services
    try:
        key = await require_key(websocket, services)
    except ThinkgateError as error:
        await _refuse(websocket, error)
        return
    await websocket.accept()
    await _Connection(websocket, services, key).serve()


async def _refuse(websocket: WebSocket, error: ThinkgateError) -> None:
    """The upgrade answered as the POST would be (401 with OpenAI's body), where the server
    can send an HTTP reply to an upgrade; else a close before accepting (HTTP 403)."""
    if "websocket.http.response" in websocket.scope.get("extensions", {}):
        await websocket.send_denial_response(error_response(error))
    else:
        await websocket.close(code=1008, reason=error.message[:120])


class _Connection:
    """One socket: a reader task queues messages (and notices the client leaving), the
    serving loop answers them in order."""

    def __init__(self, websocket: WebSocket, services: Services, key: KeyRecord) -> None:
        self._ws = websocket
        self._services = services
        self._key = key
        self._last: _Latest | None = None  # the connection-local chain (`store: false`)

    async def serve(self) -> None:
        send, receive = anyio.create_memory_object_stream[str | bytes](PENDING_MESSAGES)
        try:
            async with anyio.create_task_group() as group:
                group.start_soon(self._read, send, group.cancel_scope)
                await self._answer_all(receive)
                group.cancel_scope.cancel()  # closed by us: the reader stops too
        except* WebSocketDisconnect:
            pass  # gone while we wrote: the response in hand was settled on the way out

    async def _read(
        self, send: MemoryObjectSendStream[str | bytes], scope: anyio.CancelScope
    ) -> None:
        """Messages in order until the client leaves, which cancels whatever runs."""
        async with send:
            while True:
                message = await self._ws.receive()
                if message["type"] == "websocket.disconnect":
                    scope.cancel()
                    return
                data = message.get("text")
                if data is None:
                    data = message.get("bytes") or b""
                try:
                    await send.send(data)
                except anyio.BrokenResourceError:
                    return  # the serving loop has ended (we closed the socket)

    async def _answer_all(self, receive: MemoryObjectReceiveStream[str | bytes]) -> None:
        async with receive:
            async for raw in receive:
                if not await self._answer(raw):
                    return

    async def _answer(self, raw: str | bytes) -> bool:
        """One message: a response's events, or one error frame. False: the socket was
        closed (a key no longer valid); every other failure leaves it open."""
        lane: str | None = None
        headers: dict[str, str] = {}
        try:
            message = _message(raw)
            lane = _lane(message)
            kind = message.pop("type", None)
            if kind in _ACKNOWLEDGEMENTS:
                return True
            if kind != "response.create":
                raise InvalidRequestError(
                    f"Invalid 'type': {kind!r}. WebSocket mode accepts 'response.create'.",
                    param="type",
                    code="invalid_value",
                )
            if not await self._key_still_valid(lane):
                return False
            await self._create(message, lane, headers)
        except ThinkgateError as error:
            await self._send_error(error, lane, headers)
        except DATABASE_UNAVAILABLE as error:
            log.warning("database unavailable: %s", type(error).__name__)
            unavailable = ServiceUnavailableError(
                "The server's database is unavailable at the moment; please retry shortly.",
                code="database_unavailable",
            )
            await self._send_error(unavailable, lane, {"retry-after": "1"})
        except WebSocketDisconnect:
            raise
        except Exception:
            log.exception("WebSocket response.create failed")
            failure = ServerError("The server had an error while processing your request.")
            await self._send_error(failure, lane, headers)
        return True

    async def _key_still_valid(self, lane: str | None) -> bool:
        """Checked again for each response (a key revoked or expired since the upgrade);
        a key no longer valid is told so, and the socket closed."""
        try:
            self._key = await require_key(self._ws, self._services)
        except (AuthenticationError, PermissionDeniedError) as error:
            await self._send_error(error, lane, {})
            await self._ws.close(code=1008, reason="API key no longer valid")
            return False
        return True

    async def _create(
        self, message: dict[str, Any], lane: str | None, headers: dict[str, str]
    ) -> None:
        generate = _websocket_fields(message)
        body = validate(message, CreateResponseRequest)
        if body.background:
            raise InvalidRequestError(
                "Invalid 'background': background responses are not supported in WebSocket "
                "mode; use POST /v1/responses.",
                param="background",
                code="unsupported_value",
            )
        canonical = canonical_from_responses(body)
        await check_item_urls(self._ws, canonical.input_items, "input")
        await use_stored_prompt(self._ws, self._services, body, canonical)
        canonical.context.owner = self._key.user_id or self._key.id  # as `deps.owner_of`
        canonical.context.key_id = self._key.id
        chained = self._chain_locally(canonical)
        self._last = None  # replaced by this response once it has ended
        account = self._services.gateway.account(self._key, "responses")
        pipeline = self._services.pipeline
        try:
            if generate:
                run = await pipeline.start(canonical, account)
            else:
                run = await pipeline.start_prepared(canonical, account)
        finally:  # a refusal's retry-after and rate state, as a POST's reply would carry
            headers.update(account_headers(account))
        if chained is not None:
            run.response["previous_response_id"] = chained  # echoed, and stored, as sent
        await self._stream(run, lane)
        self._remember(canonical, run.response)

    def _chain_locally(self, canonical: CanonicalRequest) -> str | None:
        """`previous_response_id` naming this connection's latest response, which was not
        stored (`store: false`, as Codex sends): its items come from memory, as OpenAI's
        connection-local cache serves them. Returns that id (None: the store is asked)."""
        last = self._last
        previous = canonical.previous_response_id
        if last is None or previous is None or previous != last.response_id:
            return None
        canonical.previous_response_id = None  # resolved here; echoed again after start
        canonical.context.history = snapshot_items(last.items)
        return previous

    def _remember(self, canonical: CanonicalRequest, response: dict[str, Any]) -> None:
        """Keep the latest unstored response's whole chain (a stored one is read back from
        the store); a failed one keeps nothing, as OpenAI evicts on errors."""
        if canonical.store or response.get("status") not in ("completed", "incomplete"):
            return
        items = [*canonical.context.history, *canonical.input_items, *response.get("output", [])]
        self._last = _Latest(str(response["id"]), snapshot_items(items))

    async def _stream(self, run: ResponseRun[Event], lane: str | None) -> None:
        """The run's events as text frames; however this ends (done, the client gone), the
        run is closed and settled once, as a streamed POST's is (`api.sse`)."""
        events = run.events()
        ended = False
        try:
            async for event in events:
                if lane is not None:
                    event["stream_id"] = lane
                await self._ws.send_text(orjson.dumps(event).decode())
            ended = True
        finally:
            with anyio.CancelScope(shield=True):
                if not ended:
                    await events.aclose()
                await run.aclose()

    async def _send_error(
        self, error: ThinkgateError, lane: str | None, headers: dict[str, str]
    ) -> None:
        frame: dict[str, Any] = {
            "type": "error",
            "status": error.status_code,
            "error": error.to_payload(),
        }
        shown = {k: v for k, v in headers.items() if k != COST_HEADER}
        if shown:  # retry-after, x-ratelimit-*: what the POST's reply headers would say
            frame["error"]["headers"] = shown
        if lane is not None:
            frame["stream_id"] = lane
        await self._ws.send_text(orjson.dumps(frame).decode())


def _message(raw: str | bytes) -> dict[str, Any]:
    data = raw.encode() if isinstance(raw, str) else raw
    message = parse_json(data)
    check_depth(data, message)
    if not isinstance(message, dict):
        raise InvalidRequestError(
            "A WebSocket message must be a JSON object.", param=None, code="invalid_type"
        )
    return message


def _lane(message: dict[str, Any]) -> str | None:
    """`stream_id` (the openai SDK's WebSocket lanes): echoed on the response's events.
    Lanes are served in one queue, in order."""
    lane = message.pop("stream_id", None)
    if lane is not None and not isinstance(lane, str):
        raise InvalidRequestError(
            "Invalid type for 'stream_id': expected a string.",
            param="stream_id",
            code="invalid_type",
        )
    return lane


def _websocket_fields(message: dict[str, Any]) -> bool:
    """Take out what only WebSocket mode has; returns `generate`. `stream` is implicit:
    absent or `true` (Codex sends it), never `false`."""
    generate = message.pop("generate", True)
    if not isinstance(generate, bool):
        raise InvalidRequestError(
            "Invalid type for 'generate': expected a boolean.",
            param="generate",
            code="invalid_type",
        )
    stream = message.get("stream", True)
    if stream is not True:
        raise InvalidRequestError(
            "Invalid 'stream': responses are always streamed in WebSocket mode; omit it.",
            param="stream",
            code="invalid_value",
        )
    message["stream"] = True  # the events are read as they come, as a streamed POST's
    return generate


@dataclass(slots=True, frozen=True)
class _Latest:
    response_id: str
    items: list[Item]


def snapshot_items(items: list[Item]) -> list[Item]:
    """A copy no later change to the items (or the response) can reach."""
    copied: list[Item] = orjson.loads(orjson.dumps(items))
    return copied
