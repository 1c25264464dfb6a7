"""Headers of what the gateway decided during a request (x-ratelimit-*, retry-after, the
cost) and the API's own (unavailable tools, Codex's turn state), added to whatever
response goes out, errors included.

The gateway's `Account` keeps its decisions as values (rate state, retry time, cost);
this module alone names them as HTTP headers. A pure ASGI middleware: the request scope
holds the API's own headers and the request's account, rendered into
`http.response.start`. A non-streaming response is settled before it starts, so it
carries `x-thinkgate-cost-usd`; a stream starts before its cost is known.
"""

from __future__ import annotations

from collections.abc import MutableMapping
from dataclasses import dataclass, field
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from thinkgate.gateway.account import Account
from thinkgate.gateway.counters import RateState
from thinkgate.gateway.pricing import usd

COST_HEADER = "x-thinkgate-cost-usd"
_STATE_KEY = "thinkgate.gateway_headers"


@dataclass(slots=True)
class _ReplyHeaders:
    own: dict[str, str] = field(default_factory=dict)
    account: Account | None = None


def gateway_headers(scope: MutableMapping[str, Any]) -> dict[str, str]:
    """The API's own headers for this request's reply (add to it)."""
    return _reply(scope).own


def attach_account(scope: MutableMapping[str, Any], account: Account) -> None:
    """The request's account: its decisions become the reply's headers."""
    _reply(scope).account = account


def account_headers(account: Account) -> dict[str, str]:
    """What the account decided, as OpenAI's header names and formats."""
    headers = rate_headers(account.rate) if account.rate is not None else {}
    if account.retry_after_s is not None:
        headers["retry-after"] = str(account.retry_after_s)
    if account.billed:
        headers[COST_HEADER] = usd(account.cost_pico)
    return headers


def rate_headers(state: RateState) -> dict[str, str]:
    headers: dict[str, str] = {}
    if state.limit_requests is not None:
        headers["x-ratelimit-limit-requests"] = str(state.limit_requests)
        headers["x-ratelimit-remaining-requests"] = str(state.remaining_requests)
        headers["x-ratelimit-reset-requests"] = _duration(state.reset_requests_s)
    if state.limit_tokens is not None:
        headers["x-ratelimit-limit-tokens"] = str(state.limit_tokens)
        headers["x-ratelimit-remaining-tokens"] = str(state.remaining_tokens)
        headers["x-ratelimit-reset-tokens"] = _duration(state.reset_tokens_s)
    return headers


def _duration(seconds: float) -> str:
    """OpenAI's reset format: `1s`, `6m0s`, `120ms`."""
    if seconds <= 0:
        return "0s"
    if seconds < 1:
        return f"{round(seconds * 1000)}ms"
    whole = round(seconds)
    minutes, rest = divmod(whole, 60)
    return f"{minutes}m{rest}s" if minutes else f"{rest}s"


def _reply(scope: MutableMapping[str, Any]) -> _ReplyHeaders:
    reply: _ReplyHeaders = scope.setdefault(_STATE_KEY, _ReplyHeaders())
    return reply


class GatewayHeaders:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        reply = _reply(scope)

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = dict(reply.own)
                if reply.account is not None:
                    headers.update(account_headers(reply.account))
                if headers:
                    raw = list(message.get("headers", []))
                    raw += [(k.encode("latin-1"), v.encode("latin-1")) for k, v in headers.items()]
                    message = {**message, "headers": raw}
            await send(message)

        await self.app(scope, receive, send_with_headers)
