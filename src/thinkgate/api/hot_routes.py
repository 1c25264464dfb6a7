"""The two generation routes without FastAPI's per-request machinery (the overhead budget).

`POST /v1/chat/completions` and `POST /v1/responses` are most of a gateway's traffic. For
them this pure ASGI middleware, innermost of ours, calls the very route functions with the
very dependency functions, by hand: the same key check, account, parsing, errors and
headers, without walking the route table, solving the dependency graph per request or the
exception-middleware and exit-stack layers (together about a third of the proxy's own
time per request, measured with bench/overhead).

Anything else, a query string (the app-wide repeated-parameter check reads it) or a route
whose dependencies are no longer the ones written here (someone added one), goes through
FastAPI as before, so nothing is ever skipped.
"""

from __future__ import annotations

import inspect
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import FastAPI
from fastapi.routing import APIRoute
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Receive, Scope, Send

from thinkgate.api import chat as chat_api
from thinkgate.api import responses as responses_api
from thinkgate.api.deps import Services, account_for, get_services, owner_of, require_key
from thinkgate.api.query import single_valued_query

log = logging.getLogger(__name__)

Handler = Callable[[Request, Services], Awaitable[Response]]


async def _chat(request: Request, services: Services) -> Response:
    key = await require_key(request, services)
    account = await account_for(request, services, key)
    return await chat_api.create_chat_completion(request, services, account)


async def _responses(request: Request, services: Services) -> Response:
    key = await require_key(request, services)
    owner = await owner_of(key)
    account = await account_for(request, services, key)
    return await responses_api.create_response(request, services, owner, account)


# path → (the route function, our handler, the dependencies it resolves by hand)
_HOT: dict[str, tuple[Callable[..., Any], Handler, frozenset[Callable[..., Any]]]] = {
    "/v1/chat/completions": (
        chat_api.create_chat_completion,
        _chat,
        frozenset({get_services, require_key, account_for}),
    ),
    "/v1/responses": (
        responses_api.create_response,
        _responses,
        frozenset({get_services, require_key, account_for, owner_of}),
    ),
}
_APP_DEPENDENCIES = frozenset({single_valued_query})  # only reads a query string


class HotRoutes:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self._routes: dict[str, tuple[APIRoute, Handler]] | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "POST" or scope["query_string"]:
            await self.app(scope, receive, send)
            return
        routes = self._routes
        if routes is None:
            routes = self._routes = _verified(scope["app"])
        hot = routes.get(scope["path"])
        if hot is None:
            await self.app(scope, receive, send)
            return
        route, handler = hot
        scope["route"] = route  # what routing would have set (metrics label the template)
        request = Request(scope, receive, send)
        try:
            response = await handler(request, scope["app"].state.services)
        except Exception as error:  # answered by the app's own handler, as through FastAPI
            response = await _handled(scope["app"], request, error)
        await response(scope, receive, send)


async def _handled(app: FastAPI, request: Request, error: Exception) -> Response:
    """The app's exception handler for `error` (nearest class first): a database outage is
    its 503, a client gone its 499, our errors their bodies. The catch-all `Exception`
    handler is not used here: like FastAPI's, it belongs to the outermost layer, so the
    middlewares between (the body limit's own signal) still see what they raised."""
    for cls in type(error).__mro__:
        if cls is Exception:
            break
        handler = app.exception_handlers.get(cls)
        if handler is not None:
            answer = handler(request, error)
            response: Response = await answer if inspect.isawaitable(answer) else answer
            return response
    raise error


def _verified(app: FastAPI) -> dict[str, tuple[APIRoute, Handler]]:
    """The hot routes whose dependencies are still exactly those resolved here."""
    app_dependencies = {d.dependency for d in app.router.dependencies}
    if not app_dependencies <= _APP_DEPENDENCIES:
        log.warning("app-wide dependencies changed: generation routes go through FastAPI")
        return {}
    found: dict[str, tuple[APIRoute, Handler]] = {}
    for route in _api_routes(app.router.routes):
        hot = _HOT.get(route.path)
        if hot is None or "POST" not in (route.methods or ()) or route.endpoint is not hot[0]:
            continue
        if _dependency_calls(route) != hot[2]:
            log.warning("%s has new dependencies: it goes through FastAPI", route.path)
            continue
        found[route.path] = (route, hot[1])
    return found


def _api_routes(routes: list[Any]) -> list[APIRoute]:
    """Every APIRoute, looking into included routers."""
    found: list[APIRoute] = []
    for route in routes:
        if isinstance(route, APIRoute):
            found.append(route)
        else:
            router = getattr(route, "original_router", None)  # FastAPI's included router
            inner = getattr(router, "routes", None)
            if inner:
                found += _api_routes(list(inner))
    return found


def _dependency_calls(route: APIRoute) -> frozenset[Callable[..., Any]]:
    calls: set[Callable[..., Any]] = set()
    pending = list(route.dependant.dependencies)
    while pending:
        dependant = pending.pop()
        if dependant.call is not None:
            calls.add(dependant.call)
        pending += dependant.dependencies
    return frozenset(calls)
