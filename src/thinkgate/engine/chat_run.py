"""The `n` choices of one chat request, generated one after another on the shared pipeline.

Choice 0 is started by `ChatRun.start()`, so every client error (model rules, context
length) is a plain HTTP error before any byte is sent. Later choices start only when
the one before has finished: one model turn at a time, and a client that goes away
mid-stream stops the current choice and never starts the rest.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator
from contextlib import aclosing
from typing import Any

from thinkgate.engine.chat_render import (
    ChatHeader,
    Chunk,
    ChunkRenderer,
    chat_usage,
    completion_object,
)
from thinkgate.engine.chat_request import ChatCall
from thinkgate.engine.pipeline import Admission, ResponseRun, ResponsesPipeline
from thinkgate.engine.response_object import ResponseDict
from thinkgate.errors import ClientError, InvalidRequestError, ServerError, ThinkgateError


class ChatRun:
    """One chat completion: renders as a `chat.completion` or as chunks, not both."""

    def __init__(
        self,
        pipeline: ResponsesPipeline,
        call: ChatCall,
        first: ResponseRun,
        admission: Admission | None = None,
        header: ChatHeader | None = None,
    ) -> None:
        self._pipeline = pipeline
        self._admission = admission
        self._call = call
        self._first: ResponseRun | None = first
        self._header = header or ChatHeader.for_request(call.request)

    @classmethod
    async def start(
        cls, pipeline: ResponsesPipeline, call: ChatCall, admission: Admission | None = None
    ) -> ChatRun:
        header = ChatHeader.for_request(call.request)  # before the run may touch the request
        first = await pipeline.start(call.choice_request(0), admission)
        return cls(pipeline, call, first, admission, header)

    async def completion(self) -> dict[str, Any]:
        """The non-streaming answer; a failed choice raises (nothing was sent yet)."""
        responses: list[ResponseDict] = []
        for index in range(self._call.n):
            run = await self._run(index)
            failure: dict[str, Any] | None = None
            async with aclosing(run.events()) as events:
                async for event in events:
                    if event["type"] == "error":
                        failure = event["error"]
            if failure is not None:
                raise _error_from_payload(failure)
            responses.append(run.response)
        return completion_object(self._header, responses, logprobs=self._call.logprobs)

    async def chunks(self) -> AsyncGenerator[Chunk, None]:
        """Every chunk in order; closing this generator cancels the choice in progress."""
        renderer = ChunkRenderer(
            self._header,
            logprobs=self._call.logprobs,
            include_usage=self._call.include_usage,
            obfuscate=self._call.request.include_obfuscation,
        )
        responses: list[ResponseDict] = []
        for index in range(self._call.n):
            try:
                run = await self._run(index)
            except ThinkgateError as error:
                yield renderer.error(error.to_payload())
                return
            async with aclosing(run.events()) as events:
                async for event in events:
                    for chunk in renderer.render(index, event):
                        yield chunk
            if renderer.failed:
                return
            responses.append(run.response)
        if self._call.include_usage:
            yield renderer.usage_chunk(chat_usage(responses))

    async def aclose(self) -> None:
        """Settle the first choice if it was started but never streamed (client gone)."""
        if self._first is not None:
            first, self._first = self._first, None
            await first.aclose()

    async def _run(self, index: int) -> ResponseRun:
        if index == 0 and self._first is not None:
            first, self._first = self._first, None
            return first
        return await self._pipeline.start(self._call.choice_request(index), self._admission)


def _error_from_payload(payload: dict[str, Any]) -> ThinkgateError:
    """A choice that failed mid-generation, raised again in the shape it was reported."""
    message = str(payload.get("message") or "The server had an error.")
    error_class: type[ThinkgateError] = ServerError
    if payload.get("type") == ClientError.error_type:
        error_class = InvalidRequestError
    return error_class(message, param=payload.get("param"), code=payload.get("code"))
