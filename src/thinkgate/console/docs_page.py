"""The API docs page (what a new customer reads first) and the offline OpenAPI explorer.

`/docs` is FastAPI's Swagger UI, but its script and stylesheet come from this server
(`static/vendor/swagger-ui`), not a CDN, so it works without internet access.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.openapi.docs import get_swagger_ui_html
from starlette.responses import HTMLResponse, Response

from thinkgate.console.deps import ConsoleDep, SessionDep
from thinkgate.console.examples import KEY_ENV, examples
from thinkgate.console.templating import render
from thinkgate.errors import ThinkgateError
from thinkgate.gateway.pricing import usd

router = APIRouter(include_in_schema=False)

_VENDOR = "/console/static/vendor/swagger-ui"


@router.get("/docs")
async def swagger_ui(request: Request) -> HTMLResponse:
    return get_swagger_ui_html(
        openapi_url=request.app.openapi_url or "/openapi.json",
        title=f"{request.app.title} – API explorer",
        swagger_js_url=f"{_VENDOR}/swagger-ui-bundle.js",
        swagger_css_url=f"{_VENDOR}/swagger-ui.css",
        swagger_favicon_url=f"{_VENDOR}/favicon-32x32.png",
    )


@router.get("/console/docs")
async def api_docs(request: Request, console: ConsoleDep, session: SessionDep) -> Response:
    base = str(request.base_url).rstrip("/") + "/v1"
    registry, prices = console.services.registry, console.services.gateway.prices
    models = []
    for info in sorted(registry.models(), key=lambda m: m.id):
        try:
            _, backend = registry.resolve(info.id)
            window: int | None = backend.capabilities().context_window
        except ThinkgateError:
            window = None
        price = prices.price(info.id)
        models.append(
            {
                "id": info.id,
                "owned_by": info.owned_by,
                "efforts": info.reasoning_efforts,
                "context_window": window,
                # USD per 1M tokens (the table holds picodollars per token)
                "input": usd(price.input * 1_000_000),
                "cached_input": usd(price.cached_input * 1_000_000),
                "output": usd(price.output * 1_000_000),
            }
        )
    default_model = "gpt-5.1" if any(m["id"] == "gpt-5.1" for m in models) else models[0]["id"]
    context = {
        "session": session,
        "user": session.user,
        "csrf_token": session.csrf_token,
        "page": "docs",
        "base_url": base,
        "key_env": KEY_ENV,
        "models": models,
        "examples": examples(base, str(default_model)),
    }
    return render(request, "docs.html", context)
