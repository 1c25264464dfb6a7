"""What the account pages share: the double-submit form for people not signed in, the
mail links (verification, reset), the message page, password rules.
"""

from __future__ import annotations

import re
import secrets
import time
from typing import Any

from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import Response

from thinkgate.console import views
from thinkgate.console.deps import CSRF_FIELD, Console, ConsoleProblem
from thinkgate.console.i18n import _
from thinkgate.console.mail import send
from thinkgate.console.sessions import LOGIN_COOKIE, tokens_match
from thinkgate.console.templating import render
from thinkgate.gateway.passwords import MAX_LENGTH, MIN_LENGTH
from thinkgate.store.console_accounts import VERIFY
from thinkgate.store.users import UserRecord

FORM_TOKEN_AGE_S = 3600
MAX_NAME = 200
MAX_EMAIL = 320
MAX_CODE = 200
EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")


def safe_next(value: str) -> str:
    """Only a console path: never an open redirect to another site."""
    if value.startswith("/console") and not value.startswith("//") and "\\" not in value:
        return value
    return "/console"


def public_base(console: Console, request: Request) -> str:
    configured = console.services.settings.console.public_url
    return (configured or str(request.base_url)).rstrip("/")


def anonymous_form(
    request: Request, console: Console, template: str, context: dict[str, Any], status: int = 200
) -> Response:
    """A page with a form for someone not signed in: double-submit CSRF token (kept while
    the cookie lives, so two such tabs do not spoil each other)."""
    token = request.cookies.get(LOGIN_COOKIE) or secrets.token_urlsafe(32)
    response = render(request, template, {"csrf_token": token, **context}, status_code=status)
    console.sessions.set_cookie(response, request, LOGIN_COOKIE, token, FORM_TOKEN_AGE_S)
    return response


def checked(request: Request, form: FormData) -> None:
    if not tokens_match(request.cookies.get(LOGIN_COOKIE), str(form.get(CSRF_FIELD) or "")):
        raise ConsoleProblem(403, _("The form expired. Reload the page and try again."))


def field(form: FormData, name: str) -> str:
    value = form.get(name)
    return value.strip() if isinstance(value, str) else ""


async def password_is(console: Console, user_id: str, password: str) -> bool:
    if not password or len(password) > MAX_LENGTH:
        return False
    found = await console.services.admin.check_password(user_id, password)
    return found is not None and found.id == user_id


def new_password_error(password: str, again: str) -> str | None:
    if not MIN_LENGTH <= len(password) <= MAX_LENGTH:
        return views.password_rule()
    if password != again:
        return _("The two passwords differ.")
    return None


async def send_link(
    request: Request, console: Console, user: UserRecord, email: str, purpose: str
) -> None:
    settings = console.services.settings.console
    assert settings.smtp is not None
    now = int(time.time())
    ttl = int(settings.token_hours * 3600)
    token = await console.accounts.issue(
        purpose, now=now, ttl_s=ttl, user_id=user.id, data={"email": email}
    )
    base = public_base(console, request)
    if purpose == VERIFY:
        link = f"{base}/console/verify/{token}"
        subject = _("Confirm your e-mail address for thinkgate")
        body = _(
            "Hello %(name)s,\n\nopen this link to confirm your e-mail address:\n\n"
            "%(link)s\n\nIt works once, for %(hours)s hours.\n"
        )
    else:
        link = f"{base}/console/reset/{token}"
        subject = _("Choose a new thinkgate password")
        body = _(
            "Hello %(name)s,\n\nopen this link to choose a new password:\n\n%(link)s\n\n"
            "It works once, for %(hours)s hours. If you did not ask for it, ignore this mail.\n"
        )
    text = body % {"name": user.name, "link": link, "hours": f"{settings.token_hours:g}"}
    await send(settings.smtp, email, subject, text)


def message(request: Request, title: str, text: str, *, link: bool = False) -> Response:
    return render(request, "message.html", {"title": title, "text": text, "sign_in_link": link})
