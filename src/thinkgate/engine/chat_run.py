"""The `n` choices of one chat request, generated one after another on the shared pipeline.

Choice 0 is started by `ChatRun.start()`, so every client error (model rules, context
length) is a plain HTTP error before any byte is sent. Later choices start only when
the one before has finished: one model turn at a time, and a client that goes away
mid-stream stops the current choice and never starts the rest.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, Sequence
from contextlib import aclosing
from typing import Any

from thinkgate.core.admission import Admission
from thinkgate.engine.chat_render import (
    ChatAssembler,
    ChatHeader,
    Chunk,
    chat_usage,
    completion_object,
)
from thinkgate.engine.chat_request import ChatCall
from thinkgate.engine.pipeline import ResponsesPipeline
from thinkgate.engine.response_run import ResponseRun
from thinkgate.errors import ClientError, InvalidRequestError, ServerError, ThinkgateError


class ChatRun:
    """One chat completion: renders as a `chat.completion` or as chunks, not both."""

    def __init__(
        self,
        pipeline: ResponsesPipeline,
        call: ChatCall,
        header: ChatHeader,
        admission: Admission | None = None,
    ) -> None:
        self._pipeline = pipeline
        self._admission = admission
        self._call = call
        self._header = header
        self._started: list[tuple[ResponseRun[Chunk], ChatAssembler]] = []  # the choices, in order

    @classmethod
    async def start(
        cls, pipeline: ResponsesPipeline, call: ChatCall, admission: Admission | None = None
    ) -> ChatRun:
        header = ChatHeader.for_request(call.request)  # before the run may touch the request
        run = cls(pipeline, call, header, admission)
        await run._run(0)
        return run

    async def completion(self) -> dict[str, Any]:
        """The non-streaming answer; a failed choice raises (nothing was sent yet)."""
        for index in range(self._call.n):
            run, choice = await self._run(index)
            await run.collect()
            if choice.error is not None:
                raise _error_from_payload(choice.error)
        return completion_object(self._header, self._assemblers)

    def batches(self) -> AsyncGenerator[Sequence[Chunk], None]:
        """Every chunk in order, one list per read of the backend; closing this generator
        cancels the choice in progress."""
        if self._call.n == 1 and not self._call.include_usage:
            run, _ = self._started[0]
            return run.batches()  # one choice and nothing after it: its events are the chunks
        return self._every_batch()

    async def _every_batch(self) -> AsyncGenerator[Sequence[Chunk], None]:
        for index in range(self._call.n):
            try:
                run, choice = await self._run(index)
            except ThinkgateError as error:
                yield [{"error": error.to_payload()}]  # the SDK raises on it: the stream ends
                return
            async with aclosing(run.batches()) as batches:
                async for batch in batches:
                    yield batch
            if choice.error is not None:
                return
        if self._call.include_usage:
            yield [choice.usage_chunk(chat_usage(self._assemblers))]

    async def aclose(self) -> None:
        """Settle every choice started, streamed or not (the client may be gone): chunks
        go out without waiting for the bill, which is awaited here."""
        for run, _ in self._started:
            await run.aclose()

    @property
    def _assemblers(self) -> list[ChatAssembler]:
        return [choice for _, choice in self._started]

    async def _run(self, index: int) -> tuple[ResponseRun[Chunk], ChatAssembler]:
        """Choice `index`: started already (choice 0, by `start`) or started now."""
        if index < len(self._started):
            return self._started[index]
        choice = ChatAssembler(
            self._header,
            index,
            stream=self._call.stream,
            logprobs=self._call.logprobs,
            include_usage=self._call.include_usage,
            obfuscate=self._call.request.include_obfuscation,
        )
        run = await self._pipeline.start_with(
            self._call.choice_request(index),
            self._admission,
            response_id=self._header.id,  # the completion's id, shared by its choices
            assembler_for=lambda request, response_id: choice,
        )
        self._started.append((run, choice))
        return run, choice


def _error_from_payload(payload: dict[str, Any]) -> ThinkgateError:
    """A choice that failed mid-generation, raised again in the shape it was reported."""
    message = str(payload.get("message") or "The server had an error.")
    error_class: type[ThinkgateError] = ServerError
    if payload.get("type") == ClientError.error_type:
        error_class = InvalidRequestError
    return error_class(message, param=payload.get("param"), code=payload.get("code"))
