"""URLs inside input items (`input_image.image_url`, `input_file.file_url`) pass the SSRF
guard before a request runs: the embedded model never fetches them, but an upstream
channel would, from inside our network (a vLLM next to the gateway fetches image URLs).
`data:` URLs carry their content and are not fetched."""

from __future__ import annotations

from typing import Any

from starlette.requests import HTTPConnection

from thinkgate.net.guard import UrlPolicy, check_url

_URL_FIELDS = {"input_image": "image_url", "input_file": "file_url"}


async def check_item_urls(request: HTTPConnection, items: list[dict[str, Any]], where: str) -> None:
    """Refuse (400, `invalid_url`) any fetchable URL the policy forbids; `where` names the
    field the items came from (`input`, `items`; chat's `messages` are named as a whole)."""
    policy: UrlPolicy = request.app.state.url_policy
    for index, item in enumerate(items):
        for key in ("content", "output"):
            parts = item.get(key)
            if not isinstance(parts, list):
                continue
            for position, part in enumerate(parts):
                field = _URL_FIELDS.get(str(part.get("type"))) if isinstance(part, dict) else None
                url = part.get(field) if field is not None else None
                if not isinstance(url, str) or url.startswith("data:"):
                    continue
                param = f"{where}[{index}].{key}[{position}].{field}"
                await check_url(url, policy, param="messages" if where == "messages" else param)
