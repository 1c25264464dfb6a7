"""Wiring the console into the API app: routers, static files, HTML error pages."""

from __future__ import annotations

from urllib.parse import quote

from fastapi import FastAPI, Request
from starlette.responses import RedirectResponse, Response
from starlette.staticfiles import StaticFiles

from thinkgate.console import (
    account_routes,
    admin_billing_pages,
    admin_pages,
    auth_routes,
    docs_page,
    pages,
    password_routes,
    playground,
    prompt_pages,
    sso_routes,
    wallet_pages,
)
from thinkgate.console.deps import ConsoleProblem, SignInRequired
from thinkgate.console.i18n import LocaleMiddleware
from thinkgate.console.templating import STATIC, render


async def _on_sign_in_required(request: Request, _exc: Exception) -> Response:
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    if request.method != "GET":
        target = "/console"
    return RedirectResponse(f"/console/login?next={quote(target)}", status_code=303)


async def _on_problem(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, ConsoleProblem)
    return render(
        request,
        "problem.html",
        {"status": exc.status_code, "message": exc.message},
        status_code=exc.status_code,
    )


def install_console(app: FastAPI) -> None:
    """Routes are left out of the OpenAPI schema: they are not part of the API."""
    for module in (auth_routes, account_routes, password_routes, sso_routes, pages, playground):
        app.include_router(module.router)
    for module in (admin_pages, prompt_pages, docs_page, wallet_pages, admin_billing_pages):
        app.include_router(module.router)
    app.mount("/console/static", StaticFiles(directory=STATIC), name="console-static")
    app.add_exception_handler(SignInRequired, _on_sign_in_required)
    app.add_exception_handler(ConsoleProblem, _on_problem)
    app.add_middleware(LocaleMiddleware)  # the language of /console requests
