"""`prompt` on a create request, shared by `POST /v1/responses` and its WebSocket mode:
the stored template resolved (engine.prompt_templates) and its URLs checked like input's."""

from __future__ import annotations

from starlette.requests import HTTPConnection

from thinkgate.api.deps import Services
from thinkgate.api.urls import check_item_urls
from thinkgate.core.request import CanonicalRequest
from thinkgate.engine.prompt_templates import apply_prompt
from thinkgate.protocol.responses import CreateResponseRequest
from thinkgate.store.prompts import PromptRepository


async def use_stored_prompt(
    connection: HTTPConnection,
    services: Services,
    body: CreateResponseRequest,
    canonical: CanonicalRequest,
) -> None:
    """No-op without `prompt`; else 404 for an unknown template or version, 400 for a
    variable missing, unknown or not allowed where it stands, or a forbidden URL in one."""
    if body.prompt is None:
        return
    await apply_prompt(canonical, body.prompt, PromptRepository(services.database))
    await check_item_urls(connection, canonical.context.prompt_items, "prompt")
