"""Who calls a generation route, resolved by plain calls.

`POST /v1/responses` and `POST /v1/chat/completions` are most of a gateway's traffic. They
are plain Starlette routes (registered first in `app.py`), not FastAPI routes, so no
dependency graph is solved per request on the path that sets the gateway's overhead
(bench/overhead). Their endpoints take the request alone and begin with
`generation_caller`, which does, in FastAPI's order, what the dependencies do for every
other `/v1` route, with the very same functions: the app-wide repeated-query check, the
key, the account. One code path serves every request to these routes, odd ones included
(a query string, a wrong method, an unparseable body); `api/openapi.py` documents them as
FastAPI documents its own routes.
"""

from __future__ import annotations

from dataclasses import dataclass

from starlette.requests import Request
from starlette.routing import Match, Route
from starlette.types import Scope

from thinkgate.api.deps import Services, account_for, require_key
from thinkgate.api.query import single_valued_query
from thinkgate.gateway.account import Account
from thinkgate.store.keys import KeyRecord


class PlainRoute(Route):
    """A Starlette route that names itself in the scope when it matches, as FastAPI's own
    routes do: the metrics label requests by `scope["route"]`'s template (`api.observe`),
    a 405 included."""

    def matches(self, scope: Scope) -> tuple[Match, Scope]:
        match, child_scope = super().matches(scope)
        if match is not Match.NONE:
            child_scope["route"] = self
        return match, child_scope


@dataclass(frozen=True, slots=True)
class Caller:
    services: Services
    key: KeyRecord
    account: Account


async def generation_caller(request: Request) -> Caller:
    """The services, the caller's key (a 401 in OpenAI's words if missing or wrong) and
    its account; a repeated query parameter is a 400 once the key is known."""
    services: Services = request.app.state.services
    if request.scope["query_string"]:  # the check builds a URL: only when there is a query
        await single_valued_query(request)
    key = await require_key(request, services)
    return Caller(services, key, await account_for(request, services, key))
