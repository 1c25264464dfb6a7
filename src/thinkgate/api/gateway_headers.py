"""Headers the gateway decides during a request (x-ratelimit-*, retry-after, the cost),
added to whatever response goes out, errors included.

A pure ASGI middleware: it puts one dict in the request scope, and copies its entries
into `http.response.start`. A non-streaming response is settled before it starts, so it
carries `x-thinkgate-cost-usd`; a stream starts before its cost is known.
"""

from __future__ import annotations

from collections.abc import MutableMapping
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

_STATE_KEY = "thinkgate.gateway_headers"


def gateway_headers(scope: MutableMapping[str, Any]) -> dict[str, str]:
    headers: dict[str, str] = scope.setdefault(_STATE_KEY, {})
    return headers


class GatewayHeaders:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = gateway_headers(scope)

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start" and headers:
                raw = list(message.get("headers", []))
                raw += [(k.encode("latin-1"), v.encode("latin-1")) for k, v in headers.items()]
                message = {**message, "headers": raw}
            await send(message)

        await self.app(scope, receive, send_with_headers)
