"""One response being generated: its events, and its settling (stored, appended to its
conversation, billed) exactly once however it ends — done, failed, or its client gone.

`engine.pipeline` starts runs; this module is what a run is, and what it talks to.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncGenerator, Sequence
from contextlib import aclosing
from typing import Any, Generic, Protocol, TypeVar

import anyio

from thinkgate.core.admission import Settlement
from thinkgate.core.backend import Prepared, UsageMeter
from thinkgate.core.deltas import Delta
from thinkgate.core.request import CanonicalRequest, Item, ResponseDict
from thinkgate.engine.response_object import usage_object
from thinkgate.errors import ServerError, ThinkgateError

log = logging.getLogger(__name__)

SERVER_ERROR_MESSAGE = "The server had an error while processing your request."

E = TypeVar("E")  # what a run's client is sent: Responses events, chat chunks
E_co = TypeVar("E_co", covariant=True)


class ResponseStore(Protocol):
    async def save(
        self,
        response: dict[str, Any],
        input_items: list[Item],
        *,
        owner: str | None = None,
        channel: str | None = None,
    ) -> None: ...

    async def served_by(self, response_id: str) -> str | None:
        """The upstream channel that served a stored response (None: none, or unknown)."""
        ...

    async def ensure_writable(self) -> None:
        """Raise (the database's error) when a `store: true` answer could not be kept."""
        ...

    async def conversation(
        self, response_id: str, *, owner: str | None = None
    ) -> list[Item] | None: ...

    async def find_items(self, ids: Sequence[str], *, owner: str | None) -> dict[str, Item]:
        """Stored items by id (`item_reference`), of responses `owner` may read."""
        ...


class ConversationStore(Protocol):
    """`conversation` on a request: read its items first, append the turn's when done."""

    async def all_items(self, conversation_id: str, *, owner: str) -> list[Item] | None: ...

    async def append(self, conversation_id: str, items: list[Item]) -> None: ...


class Assembler(Protocol[E_co]):
    """Deltas → what the client is sent (`ResponseAssembler`: Responses events; chat's
    `ChatAssembler`: chunks), and the settled `response` (id, status, usage) the run
    stores and bills."""

    response: ResponseDict
    finished: bool
    shows_reasoning: bool  # False: reasoning Deltas are only counted
    # True: the terminal event waits until the run is stored and billed (a stored response
    # can be read once its client sees it end); False: the run's owner awaits `aclose()`
    awaits_settling: bool
    input_tokens: int
    cached_tokens: int
    output_tokens: int
    reasoning_tokens: int

    def start(self) -> Sequence[E_co]: ...

    def feed(self, delta: Delta) -> Sequence[E_co]: ...

    def fail(self, error: ThinkgateError) -> Sequence[E_co]: ...

    def cancel(self, *, output_tokens: int, reasoning_tokens: int = 0) -> None: ...


class ResponseRun(Generic[E]):
    def __init__(
        self,
        request: CanonicalRequest,
        assembler: Assembler[E],
        generation: Prepared,
        meter: UsageMeter,
        store: ResponseStore,
    ) -> None:
        self._request = request
        self._assembler = assembler
        self._generation = generation  # admitted and sent: its stream is read here
        self._deltas = generation.stream()
        self._meter = meter
        self._store = store
        self._settling: asyncio.Future[None] | None = None
        self._drained = False  # every Delta read: the backend has finished by itself
        self.settlement: Settlement | None = None
        self.conversations: ConversationStore | None = None

    @property
    def response(self) -> ResponseDict:
        return self._assembler.response

    @property
    def turn_state(self) -> str | None:
        """The upstream's `x-codex-turn-state` reply header, known once the run started."""
        return self._meter.turn_state

    async def batches(self) -> AsyncGenerator[Sequence[E], None]:
        """Every stream event in order, one list per read of the backend (the opening
        events first, on their own: they need not wait for the model); the response is
        stored before its terminal event."""
        try:
            yield self._assembler.start()
            assembler = self._assembler
            async for deltas in self._deltas:
                events: list[E] = []
                for delta in deltas:
                    events += assembler.feed(delta)
                    if assembler.finished:
                        if assembler.awaits_settling:
                            await self._settle()
                        else:
                            self._begin_settling()
                if events:
                    yield events
            self._drained = True
        except ThinkgateError as error:
            yield await self._fail(error)
        except Exception:
            log.exception("generation failed")
            yield await self._fail(ServerError(SERVER_ERROR_MESSAGE))
        finally:
            # drained and settled (or settling, left to the owner's `aclose`): nothing is
            # left here to wait for, or to shield
            if not (self._drained and (self._settled or not self._assembler.awaits_settling)):
                with anyio.CancelScope(shield=True):
                    await self._close()

    @property
    def _settled(self) -> bool:
        return self._settling is not None and self._settling.done()  # begun only once finished

    async def events(self) -> AsyncGenerator[E, None]:
        """`batches`, one event at a time (a background job, WebSocket mode)."""
        async with aclosing(self.batches()) as batches:
            async for batch in batches:
                for event in batch:
                    yield event

    async def collect(self) -> ResponseDict:
        """The non-streaming path: the same events, drained, and the run settled."""
        async for _ in self.batches():
            pass
        if not self._settled:
            await self.aclose()
        return self._assembler.response

    async def _fail(self, error: ThinkgateError) -> Sequence[E]:
        batch = self._assembler.fail(error)
        await self._settle()
        return batch

    async def aclose(self) -> None:
        """Settle a run whatever became of its events (never read: the client left before
        the first byte). Idempotent: a run already settled is left as it is."""
        if self._drained and self._settled:
            return  # read to its end and settled: nothing to wait for, or to shield
        with anyio.CancelScope(shield=True):
            await self._close()

    async def _close(self) -> None:
        await self._deltas.aclose()  # returns once the backend has stopped: the meter is final
        await self._generation.aclose()  # what `send` opened, if the stream never ran
        if not self._assembler.finished:
            self._assembler.cancel(
                output_tokens=self._meter.output_tokens,
                reasoning_tokens=self._meter.reasoning_tokens,
            )
        await self._settle()

    def _final_usage(self) -> dict[str, Any]:
        """The response's usage, or (a failed run has none) what the backend counted."""
        usage = self._assembler.response.get("usage")
        if usage is not None:
            return dict(usage)
        assembler, meter = self._assembler, self._meter
        return usage_object(
            assembler.input_tokens,
            assembler.cached_tokens,
            max(assembler.output_tokens, meter.output_tokens),
            max(assembler.reasoning_tokens, meter.reasoning_tokens),
        )

    async def _settle(self) -> None:
        """Store, extend the conversation, bill — once, in a task of its own, so nothing that
        cancels the caller stops it halfway: not a client leaving mid-store, not a native
        `Task.cancel()` of the task reading the events (a streaming reply whose client left, a
        background job), which an anyio shield does not stop. `aclose` waits for it."""
        await asyncio.shield(self._begin_settling())

    def _begin_settling(self) -> asyncio.Future[None]:
        if self._settling is None:
            if self._settled_now():
                self._settling = asyncio.get_running_loop().create_future()
                self._settling.set_result(None)
            else:
                self._settling = asyncio.ensure_future(self._store_and_bill())
        return self._settling

    def _settled_now(self) -> bool:
        """Settle on the spot when nothing is to be stored or appended and the bill needs no
        waiting (most chat requests): no task, no trips through the event loop for them."""
        if self._request.store or self._request.conversation_id is not None:
            return False
        if self.settlement is None:
            return True
        try:
            return self.settlement.settle_now(
                self._assembler.response, self._final_usage(), channel=self._meter.channel
            )
        except Exception:
            log.exception("could not bill response %s", self._assembler.response["id"])
            return True  # as in `_store_and_bill`: logged, never tried twice

    async def _store_and_bill(self) -> None:
        if self._request.store:
            try:
                await self._store.save(
                    self._assembler.response,
                    self._request.input_items,
                    owner=self._request.context.owner,
                    channel=self._meter.channel,
                )
            except Exception:
                log.exception("could not store response %s", self._assembler.response["id"])
        await self._extend_conversation()
        if self.settlement is not None:
            try:
                await self.settlement.settle(
                    self._assembler.response, self._final_usage(), channel=self._meter.channel
                )
            except Exception:
                log.exception("could not bill response %s", self._assembler.response["id"])

    async def _extend_conversation(self) -> None:
        """A finished turn's input and output items join its conversation, in order."""
        response = self._assembler.response
        conversation_id = self._request.conversation_id
        if conversation_id is None or self.conversations is None:
            return
        if response["status"] not in ("completed", "incomplete"):
            return
        try:
            items = [*self._request.input_items, *response["output"]]
            await self.conversations.append(conversation_id, items)
        except Exception:
            log.exception("could not extend conversation %s", conversation_id)
