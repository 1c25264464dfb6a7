"""The Chat Completions route: parse, translate to the canonical request, run, render."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from thinkgate.api.generation import generation_caller
from thinkgate.api.json import JSONResponse
from thinkgate.api.sse import ChatFraming, sse_response
from thinkgate.api.urls import check_item_urls
from thinkgate.engine.chat_request import chat_call_from_body
from thinkgate.engine.chat_run import ChatRun
from thinkgate.protocol import parse_body
from thinkgate.protocol.chat import ChatCompletionRequest


async def create_chat_completion(request: Request) -> Response:
    """`POST /v1/chat/completions`: a plain route (`api.generation`, registered in app.py)."""
    caller = await generation_caller(request)
    body = parse_body(await request.body(), ChatCompletionRequest)
    call = chat_call_from_body(body)
    await check_item_urls(request, call.request.input_items, "messages")
    run = await ChatRun.start(caller.services.pipeline, call, caller.account)
    if call.stream:
        return sse_response(
            run.batches(), on_close=run.aclose, framing=ChatFraming(), with_first_batch=True
        )
    return JSONResponse(await run.completion())
