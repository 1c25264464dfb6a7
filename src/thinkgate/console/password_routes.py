"""Passwords: reset by mail (a one-time link), and the signed-in user's own page where they
change theirs (which signs out their other sessions).
"""

from __future__ import annotations

import time

from fastapi import APIRouter, Request
from starlette.responses import RedirectResponse, Response

from thinkgate.console.account_support import (
    EMAIL,
    MAX_EMAIL,
    anonymous_form,
    checked,
    field,
    message,
    new_password_error,
    password_is,
    send_link,
)
from thinkgate.console.deps import Console, ConsoleDep, ConsoleProblem, FormDep, SessionDep
from thinkgate.console.i18n import _
from thinkgate.console.mail import MailError
from thinkgate.console.sessions import ConsoleSession
from thinkgate.console.templating import render
from thinkgate.gateway import audit
from thinkgate.store.console_accounts import RESET

router = APIRouter(prefix="/console", include_in_schema=False)


@router.get("/reset")
async def reset_request_page(request: Request, console: ConsoleDep) -> Response:
    _mail_on(console)
    return anonymous_form(request, console, "reset.html", {"stage": "ask"})


@router.post("/reset")
async def reset_request(request: Request, console: ConsoleDep) -> Response:
    _mail_on(console)
    form = await request.form()
    checked(request, form)
    email = field(form, "email").lower()
    if not EMAIL.fullmatch(email) or len(email) > MAX_EMAIL:
        context = {
            "stage": "ask",
            "error": _("Enter a valid e-mail address (up to 320 characters)."),
        }
        return anonymous_form(request, console, "reset.html", context, status=400)
    address = audit.client_ip(request)
    verdict = await console.throttle.attempt(None, f"reset|{email}", address)
    if not verdict.allowed:
        context = {"stage": "ask", "error": throttled(verdict.retry_after_s)}
        response = anonymous_form(request, console, "reset.html", context, status=429)
        response.headers["retry-after"] = str(verdict.retry_after_s)
        return response
    user = await console.users.by_email(email)
    if user is not None and user.status != "pending_approval":
        try:
            await send_link(request, console, user, email, RESET)
        except MailError:
            context = {"stage": "ask", "error": _("The mail could not be sent. Try again later.")}
            return anonymous_form(request, console, "reset.html", context, status=503)
    # the same answer whether or not the address has an account: no one learns who has
    return message(
        request,
        _("Check your mail"),
        _("If an account has the address %(email)s, we sent it a link to choose a new password.")
        % {"email": email},
    )


@router.get("/reset/{token}")
async def reset_page(token: str, request: Request, console: ConsoleDep) -> Response:
    if await console.accounts.peek(RESET, token, int(time.time())) is None:
        raise ConsoleProblem(400, _("This password link is unknown, used or expired."))
    return anonymous_form(request, console, "reset.html", {"stage": "choose", "token": token})


@router.post("/reset/{token}")
async def reset_password(token: str, request: Request, console: ConsoleDep) -> Response:
    form = await request.form()
    checked(request, form)
    password = str(form.get("password") or "")
    error = new_password_error(password, str(form.get("password2") or ""))
    if error is not None:
        context = {"stage": "choose", "token": token, "error": error}
        return anonymous_form(request, console, "reset.html", context, status=400)
    now = int(time.time())
    taken = await console.accounts.take(RESET, token, now)
    if taken is None or taken.user_id is None:
        raise ConsoleProblem(400, _("This password link is unknown, used or expired."))
    await console.services.admin.set_password(taken.user_id, password)  # signs out everywhere
    user = await console.users.get(taken.user_id)
    if user is not None and user.status == "unverified":  # the link proved the address
        await console.users.update_account(user.id, email_verified_at=now, status="active")
    await audit.record(
        console.services.database,
        "user.password_reset",
        actor=taken.user_id,
        ip=audit.client_ip(request),
        target=taken.user_id,
    )
    return message(request, _("Password changed"), _("Sign in with your new password."), link=True)


@router.get("/account")
async def account_page(request: Request, console: ConsoleDep, session: SessionDep) -> Response:
    return _account(request, session)


@router.post("/account/password")
async def change_password(
    request: Request, console: ConsoleDep, session: SessionDep, form: FormDep
) -> Response:
    current = str(form.get("current") or "")
    password = str(form.get("password") or "")
    error = new_password_error(password, str(form.get("password2") or ""))
    if error is None and not await password_is(console, session.user.id, current):
        error = _("The current password is wrong.")
    if error is not None:
        return _account(request, session, error=error, status=400)
    await console.services.admin.set_password(session.user.id, password)  # every session ends
    await audit.record(
        console.services.database,
        "user.password_set",
        actor=session.user.id,
        ip=audit.client_ip(request),
        target=session.user.id,
        detail={"by": "self"},
    )
    response = RedirectResponse("/console/account?changed=1", status_code=303)
    await console.sessions.start(session.user, response, request)  # …but this one goes on
    return response


def _account(
    request: Request, session: ConsoleSession, *, error: str | None = None, status: int = 200
) -> Response:
    notice = (
        _("Your password was changed; your other sessions were signed out.")
        if (request.query_params.get("changed") == "1")
        else None
    )
    context = {
        "session": session,
        "user": session.user,
        "csrf_token": session.csrf_token,
        "page": "account",
        "error": error,
        "notice": notice,
    }
    return render(request, "account.html", context, status)


def _mail_on(console: Console) -> None:
    if console.services.settings.console.smtp is None:
        raise ConsoleProblem(
            404, _("Password reset by mail is not set up here: ask your administrator.")
        )


def throttled(seconds: int) -> str:
    return _("Too many attempts. Try again in %(num)s s.") % {"num": seconds}
