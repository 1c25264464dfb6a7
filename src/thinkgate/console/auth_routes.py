"""Sign in and sign out.

The sign-in form has no session yet, so its CSRF token is a double submit: a random value
in an HttpOnly SameSite=Strict cookie and in the form, which must match.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.responses import RedirectResponse, Response

from thinkgate.console.account_support import anonymous_form, safe_next
from thinkgate.console.deps import CSRF_FIELD, ConsoleDep, FormDep, SessionDep
from thinkgate.console.i18n import _
from thinkgate.console.sessions import LOGIN_COOKIE, tokens_match
from thinkgate.gateway import audit

router = APIRouter(prefix="/console", include_in_schema=False)


@router.get("/login")
async def login_page(request: Request, console: ConsoleDep, next: str = "") -> Response:
    return _login_form(request, console, next=next)


@router.post("/login")
async def login(request: Request, console: ConsoleDep) -> Response:
    form = await request.form()
    login_name = str(form.get("login") or "").strip()[:400]
    password = str(form.get("password") or "")[:1000]
    next_page = safe_next(str(form.get("next") or ""))
    if not tokens_match(request.cookies.get(LOGIN_COOKIE), str(form.get(CSRF_FIELD) or "")):
        return _login_form(request, console, error=_("The form expired. Try again."), status=403)
    # the TCP peer, or what a trusted proxy says it is (`trusted_proxies`; uvicorn)
    address = request.client.host if request.client is not None else None
    user_id = await console.services.admin.login_user_id(login_name)
    verdict = await console.throttle.attempt(user_id, login_name, address)
    if not verdict.allowed:
        response = _login_form(
            request,
            console,
            error=_("Too many sign-in attempts. Try again in %(num)s s.")
            % {"num": verdict.retry_after_s},
            status=429,
            login=login_name,
        )
        response.headers["retry-after"] = str(verdict.retry_after_s)
        return response
    user = await console.services.admin.check_password(login_name, password)
    if user is None:
        await audit.record(
            console.services.database,
            "auth.sign_in_failed",
            actor=user_id,
            ip=address,
            detail={"login": login_name[:200], "method": "password"},
        )
        error = _("Wrong user or password.")
        return _login_form(request, console, error=error, status=401, login=login_name)
    if user.status != "active":
        return _login_form(
            request, console, error=inactive_message(user.status), status=403, login=login_name
        )
    response = RedirectResponse(next_page, status_code=303)
    await console.sessions.start(user, response, request)
    await audit.record(
        console.services.database,
        "auth.sign_in",
        actor=user.id,
        ip=address,
        detail={"method": "password"},
    )
    response.delete_cookie(LOGIN_COOKIE, path="/console")
    return response


def inactive_message(status: str) -> str:
    if status == "pending_approval":
        return _("Your account waits for an administrator's approval.")
    if status == "unverified":
        return _("Confirm your e-mail address first: open the link we sent you.")
    return _("This account is disabled.")


@router.post("/logout")
async def logout(
    request: Request, console: ConsoleDep, _session: SessionDep, _form: FormDep
) -> Response:
    response = RedirectResponse("/console/login", status_code=303)
    await console.sessions.end(request, response)
    await audit.record(
        console.services.database,
        "auth.sign_out",
        actor=_session.user.id,
        ip=audit.client_ip(request),
    )
    return response


def _login_form(
    request: Request,
    console: ConsoleDep,
    *,
    next: str = "",
    error: str | None = None,
    status: int = 200,
    login: str = "",
    notice: str | None = None,
) -> Response:
    settings = console.services.settings.console
    context = {
        "error": error,
        "notice": notice,
        "next": safe_next(next),
        "login": login,
        "signup": settings.signup,
        "can_reset": settings.smtp is not None,
        "sso": [
            {"name": p.name, "label": p.label or ("GitHub" if p.kind == "github" else p.name)}
            for p in settings.sso
        ],
    }
    return anonymous_form(request, console, "login.html", context, status)
