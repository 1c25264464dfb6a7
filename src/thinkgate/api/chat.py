"""The Chat Completions route: parse, translate to the canonical request, run, render."""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.responses import Response

from thinkgate.api.deps import AccountDep, ServicesDep
from thinkgate.api.json import JSONResponse
from thinkgate.api.sse import ChatFraming, sse_response
from thinkgate.api.urls import check_item_urls
from thinkgate.engine.chat_request import chat_call_from_body
from thinkgate.engine.chat_run import ChatRun
from thinkgate.protocol import parse_body
from thinkgate.protocol.chat import ChatCompletionRequest

router = APIRouter()


@router.post("/v1/chat/completions")
async def create_chat_completion(
    request: Request, services: ServicesDep, account: AccountDep
) -> Response:
    body = parse_body(await request.body(), ChatCompletionRequest)
    call = chat_call_from_body(body)
    await check_item_urls(request, call.request.input_items, "messages")
    run = await ChatRun.start(services.pipeline, call, account)
    if call.stream:
        return sse_response(
            run.chunks(), on_close=run.aclose, framing=ChatFraming(), with_first_batch=True
        )
    return JSONResponse(await run.completion())
