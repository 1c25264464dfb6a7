"""Sign in and sign out.

The sign-in form has no session yet, so its CSRF token is a double submit: a random value
in an HttpOnly SameSite=Strict cookie and in the form, which must match.
"""

from __future__ import annotations

import secrets

from fastapi import APIRouter, Request
from starlette.responses import RedirectResponse, Response

from thinkgate.console.deps import CSRF_FIELD, ConsoleDep, FormDep, SessionDep
from thinkgate.console.sessions import LOGIN_COOKIE, tokens_match
from thinkgate.console.templating import render

router = APIRouter(prefix="/console", include_in_schema=False)

_LOGIN_TOKEN_AGE_S = 3600
_BAD_LOGIN = "Wrong user or password."


@router.get("/login")
async def login_page(request: Request, console: ConsoleDep, next: str = "") -> Response:
    return _login_form(request, console, next=next)


@router.post("/login")
async def login(request: Request, console: ConsoleDep) -> Response:
    form = await request.form()
    login_name = str(form.get("login") or "").strip()
    password = str(form.get("password") or "")
    next_page = _safe_next(str(form.get("next") or ""))
    if not tokens_match(request.cookies.get(LOGIN_COOKIE), str(form.get(CSRF_FIELD) or "")):
        return _login_form(request, console, error="The form expired. Try again.", status=403)
    # the TCP peer, or what a trusted proxy says it is (`trusted_proxies`; uvicorn)
    address = request.client.host if request.client is not None else None
    user_id = await console.services.admin.login_user_id(login_name)
    verdict = await console.throttle.attempt(user_id, login_name, address)
    if not verdict.allowed:
        response = _login_form(
            request,
            console,
            error=f"Too many sign-in attempts. Try again in {verdict.retry_after_s} s.",
            status=429,
            login=login_name,
        )
        response.headers["retry-after"] = str(verdict.retry_after_s)
        return response
    user = await console.services.admin.check_password(login_name, password)
    if user is None:
        return _login_form(request, console, error=_BAD_LOGIN, status=401, login=login_name)
    response = RedirectResponse(next_page, status_code=303)
    await console.sessions.start(user, response, request)
    response.delete_cookie(LOGIN_COOKIE, path="/console")
    return response


@router.post("/logout")
async def logout(
    request: Request, console: ConsoleDep, _session: SessionDep, _form: FormDep
) -> Response:
    response = RedirectResponse("/console/login", status_code=303)
    await console.sessions.end(request, response)
    return response


def _login_form(
    request: Request,
    console: ConsoleDep,
    *,
    next: str = "",
    error: str | None = None,
    status: int = 200,
    login: str = "",
) -> Response:
    token = secrets.token_urlsafe(32)
    response = render(
        request,
        "login.html",
        {"csrf_token": token, "error": error, "next": _safe_next(next), "login": login},
        status_code=status,
    )
    console.sessions.set_cookie(response, request, LOGIN_COOKIE, token, _LOGIN_TOKEN_AGE_S)
    return response


def _safe_next(value: str) -> str:
    """Only a console path: never an open redirect to another site."""
    if value.startswith("/console") and not value.startswith("//") and "\\" not in value:
        return value
    return "/console"
