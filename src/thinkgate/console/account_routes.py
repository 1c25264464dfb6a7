"""Accounts: the language switch, sign-up (per `[console] signup`), e-mail verification,
password reset by mail, and the user's own page (change password).

Forms shown before anyone is signed in carry the same double-submit CSRF token as the
sign-in form. Every field is checked on the server (lengths included) before anything is
written, and each step writes in one transaction: a refused form leaves nothing behind.
"""

from __future__ import annotations

import asyncio
import secrets
import time
from typing import Any

from fastapi import APIRouter, Request
from starlette.responses import RedirectResponse, Response

from thinkgate.config_console import ConsoleConfig
from thinkgate.console import i18n
from thinkgate.console.account_support import (
    EMAIL,
    MAX_CODE,
    MAX_EMAIL,
    MAX_NAME,
    anonymous_form,
    checked,
    field,
    message,
    new_password_error,
    safe_next,
    send_link,
)
from thinkgate.console.deps import Console, ConsoleDep, ConsoleProblem
from thinkgate.console.i18n import _
from thinkgate.console.mail import MailError
from thinkgate.gateway import audit
from thinkgate.gateway.passwords import hash_password
from thinkgate.store.console_accounts import VERIFY, EmailTaken
from thinkgate.store.users import UserRecord

router = APIRouter(prefix="/console", include_in_schema=False)


@router.get("/language")
async def choose_language(request: Request, console: ConsoleDep, next: str = "") -> Response:
    """The switch on every page: `?lang=` (the middleware keeps it in a cookie) and, for a
    signed-in user, in their account."""
    response = RedirectResponse(safe_next(next), status_code=303)
    code = i18n.chosen(request)
    record = await console.sessions.load(request)
    if code is not None and record is not None:
        await console.users.update_account(record.user_id, locale=code)
    i18n.remember_choice(request, response)
    return response


@router.get("/register")
async def register_page(request: Request, console: ConsoleDep) -> Response:
    _open(console)
    return anonymous_form(request, console, "register.html", _register_context(console, {}))


@router.post("/register")
async def register(request: Request, console: ConsoleDep) -> Response:
    settings = _open(console)
    form = await request.form()
    checked(request, form)
    values = {k: field(form, k) for k in ("name", "email", "invite")}
    password = str(form.get("password") or "")
    errors = _register_errors(console, values, password, str(form.get("password2") or ""))
    if not errors and await console.services.admin.login_user_id(values["name"]) is not None:
        errors.append(_("This name is taken. Choose another."))
    email = values["email"].lower() or None
    if not errors and email is not None and await console.users.by_email(email) is not None:
        errors.append(
            _("An account with this e-mail address exists. Sign in or reset its password.")
        )
    if errors:
        context = _register_context(console, values, errors=errors)
        return anonymous_form(request, console, "register.html", context, status=400)
    now = int(time.time())
    status = "active"
    if settings.verify_email:
        status = "unverified"
    elif settings.signup == "approval":
        status = "pending_approval"
    user = UserRecord(
        id="usr_" + secrets.token_hex(12),
        name=values["name"],
        role="member",
        created_at=now,
        locale=i18n.current_locale(),
        email=email,
        status=status,
    )
    password_hash = await asyncio.to_thread(hash_password, password)
    invite = values["invite"] if settings.signup == "invite" else None
    try:
        registered = await console.accounts.register(user, password_hash, invite, now)
    except EmailTaken:
        registered, errors = False, [_("This name or e-mail address is taken.")]
    if not registered:
        errors = errors or [_("This invite code is unknown, used or expired.")]
        context = _register_context(console, values, errors=errors)
        return anonymous_form(request, console, "register.html", context, status=400)
    address = audit.client_ip(request)
    await audit.record(
        console.services.database,
        "user.registered",
        actor=user.id,
        ip=address,
        target=user.id,
        detail={"mode": settings.signup, "status": status},
    )
    if status == "unverified":
        assert email is not None
        try:
            await send_link(request, console, user, email, VERIFY)
        except MailError:
            await console.accounts.remove_user(user.id)  # nothing half-done: register again
            context = _register_context(
                console,
                values,
                errors=[_("The confirmation mail could not be sent. Try again later.")],
            )
            return anonymous_form(request, console, "register.html", context, status=503)
        return message(
            request,
            _("Check your mail"),
            _("We sent a link to %(email)s. Open it to confirm your address, then sign in.")
            % {"email": email},
        )
    if status == "pending_approval":
        return message(
            request,
            _("Thank you"),
            _(
                "Your account waits for an administrator's approval. "
                "You can sign in once it is approved."
            ),
        )
    response = RedirectResponse("/console/dashboard", status_code=303)
    await console.sessions.start(user, response, request)
    return response


@router.get("/verify/{token}")
async def verify_email(token: str, request: Request, console: ConsoleDep) -> Response:
    now = int(time.time())
    taken = await console.accounts.take(VERIFY, token, now)
    if taken is None or taken.user_id is None:
        raise ConsoleProblem(400, _("This confirmation link is unknown, used or expired."))
    user = await console.users.get(taken.user_id)
    if user is None or user.email != taken.data.get("email"):
        raise ConsoleProblem(400, _("This confirmation link is unknown, used or expired."))
    status = user.status
    if status == "unverified":
        approval = console.services.settings.console.signup == "approval"
        status = "pending_approval" if approval else "active"
    await console.users.update_account(user.id, email_verified_at=now, status=status)
    if status == "pending_approval":
        text = _(
            "Your e-mail address is confirmed. "
            "Your account now waits for an administrator's approval."
        )
    else:
        text = _("Your e-mail address is confirmed. You can sign in now.")
    return message(request, _("E-mail address confirmed"), text, link=True)


def _register_errors(
    console: Console, values: dict[str, str], password: str, again: str
) -> list[str]:
    settings = console.services.settings.console
    errors: list[str] = []
    if not 1 <= len(values["name"]) <= MAX_NAME:
        errors.append(_("A user needs a name (1 to 200 characters)."))
    elif values["name"].startswith("usr_") or "@" in values["name"]:
        errors.append(_("A name may not start with “usr_” or contain “@”."))
    email = values["email"]
    if email and (len(email) > MAX_EMAIL or not EMAIL.fullmatch(email)):
        errors.append(_("Enter a valid e-mail address (up to 320 characters)."))
    elif not email and settings.verify_email:
        errors.append(_("Enter your e-mail address: we send a link to confirm it."))
    if settings.signup == "invite" and not 1 <= len(values["invite"]) <= MAX_CODE:
        errors.append(_("Enter the invite code you were given."))
    error = new_password_error(password, again)
    if error is not None:
        errors.append(error)
    return errors


def _register_context(
    console: Console, values: dict[str, str], errors: list[str] | None = None
) -> dict[str, Any]:
    settings = console.services.settings.console
    return {
        "values": values,
        "errors": errors or [],
        "signup": settings.signup,
        "verify_email": settings.verify_email,
    }


def _open(console: Console) -> ConsoleConfig:
    settings = console.services.settings.console
    if settings.signup == "closed":
        raise ConsoleProblem(
            404, _("Sign-up is closed here: ask your administrator for an account.")
        )
    return settings
