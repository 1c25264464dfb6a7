"""The playground: a page, and a streaming endpoint that runs the Responses pipeline for
the signed-in user.

The browser never holds an API key. It posts to this endpoint with its session cookie
(SameSite=Strict) and the session's CSRF token in a header; the request runs under the
user's playground key, a key whose secret was never shown to anyone (see
`Admin.service_key`), so it is limited, billed and logged like any other of theirs.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from pydantic import BaseModel, ConfigDict, Field
from starlette.responses import Response

from thinkgate.api.gateway_headers import attach_account
from thinkgate.api.sse import EventFraming, sse_response
from thinkgate.console.deps import ConsoleDep, HeaderCheckedDep, SessionDep
from thinkgate.console.templating import render
from thinkgate.engine.responses_request import canonical_from_responses
from thinkgate.protocol import parse_body
from thinkgate.protocol.parsing import validate
from thinkgate.protocol.responses import CreateResponseRequest

router = APIRouter(prefix="/console", include_in_schema=False)

PLAYGROUND_KEY = "console playground"


class PlaygroundRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    model: str = Field(min_length=1, max_length=200)
    input: str = Field(min_length=1, max_length=20_000)
    effort: str | None = None
    max_output_tokens: int = Field(default=256, ge=16, le=4096)


@router.get("/playground")
async def playground_page(request: Request, console: ConsoleDep, session: SessionDep) -> Response:
    prices = console.services.gateway.prices
    models = [
        {
            "id": info.id,
            "efforts": list(info.reasoning_efforts),
            "default_effort": info.default_effort,
            # picodollars per token, for the live cost readout
            "price": {
                "input": prices.price(info.id).input,
                "cached_input": prices.price(info.id).cached_input,
                "output": prices.price(info.id).output,
            },
        }
        for info in sorted(console.services.registry.models(), key=lambda m: m.id)
    ]
    context = {
        "session": session,
        "user": session.user,
        "csrf_token": session.csrf_token,
        "page": "playground",
        "models": models,
    }
    return render(request, "playground.html", context)


@router.post("/playground/responses")
async def playground_stream(
    request: Request, console: ConsoleDep, session: HeaderCheckedDep
) -> Response:
    asked = parse_body(await request.body(), PlaygroundRequest)
    body = validate(_responses_body(asked), CreateResponseRequest)
    canonical = canonical_from_responses(body)
    canonical.context.owner = session.user.id
    services = console.services
    key = await services.admin.service_key(session.user.id, PLAYGROUND_KEY)
    account = services.gateway.account(key, "responses")
    attach_account(request.scope, account)
    run = await services.pipeline.start(canonical, account)
    return sse_response(run.batches(), on_close=run.aclose, framing=EventFraming())


def _responses_body(asked: PlaygroundRequest) -> dict[str, Any]:
    body: dict[str, Any] = {
        "model": asked.model,
        "input": asked.input,
        "stream": True,
        "store": False,
        "max_output_tokens": asked.max_output_tokens,
    }
    if asked.effort:
        body["reasoning"] = {"effort": asked.effort, "summary": "auto"}
    return body
