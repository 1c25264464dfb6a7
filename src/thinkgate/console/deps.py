"""The console's dependencies: its services, the signed-in session, and the CSRF check.

Console pages answer in HTML: no session is a redirect to the sign-in page, a member on
an admin page is a 403 page, another user's key is a 404 page (exactly like an unknown
one), a form without the session's CSRF token is a 403 page.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request
from starlette.datastructures import FormData

from thinkgate.api.deps import Services, ServicesDep
from thinkgate.console import i18n
from thinkgate.console.i18n import _
from thinkgate.console.sessions import ConsoleSession, SessionManager, tokens_match
from thinkgate.console.throttle import LoginThrottle
from thinkgate.store.console_accounts import AccountRepository
from thinkgate.store.console_sessions import ConsoleSessionRepository
from thinkgate.store.users import UserRepository

CSRF_FIELD = "csrf_token"
CSRF_HEADER = "x-csrf-token"


class SignInRequired(Exception):
    """No valid session: the handler redirects to the sign-in page."""


class ConsoleProblem(Exception):
    """An HTML error page (403, 404) with a short message."""

    def __init__(self, status_code: int, message: str) -> None:
        super().__init__(message)
        self.status_code = status_code
        self.message = message


def forbidden(message: str | None = None) -> ConsoleProblem:
    return ConsoleProblem(403, message or _("You do not have access to this page."))


def not_found(message: str | None = None) -> ConsoleProblem:
    return ConsoleProblem(404, message or _("There is nothing here."))


@dataclass(slots=True)
class Console:
    services: Services
    sessions: SessionManager
    throttle: LoginThrottle
    users: UserRepository  # console account columns (language, e-mail, sign-up state)
    accounts: AccountRepository  # one-time tokens (invites, mail links, SSO), SSO identities


def get_console(request: Request, services: ServicesDep) -> Console:
    """Built on first use from the app's services (one per app)."""
    console: Console | None = getattr(request.app.state, "console", None)
    if console is None or console.services is not services:
        console = Console(
            services=services,
            sessions=SessionManager(
                ConsoleSessionRepository(services.database),
                services.settings.console_secure_cookies,
                lifetime_s=int(services.settings.console.session_hours * 3600),
                idle_s=int(services.settings.console.idle_minutes * 60),
            ),
            throttle=LoginThrottle(services.gateway.counters),
            users=UserRepository(services.database),
            accounts=AccountRepository(services.database),
        )
        request.app.state.console = console
    return console


ConsoleDep = Annotated[Console, Depends(get_console)]


async def current_session(request: Request, console: ConsoleDep) -> ConsoleSession:
    record = await console.sessions.load(request)
    if record is None:
        raise SignInRequired()
    user = await console.services.admin.user(record.user_id)
    if user is None or user.status != "active":
        raise SignInRequired()
    chosen = i18n.chosen(request)
    if chosen is not None and chosen != user.locale:  # the language switch: kept per user
        await console.users.update_account(user.id, locale=chosen)
    elif chosen is None and user.locale is not None:
        i18n.set_locale(user.locale)
    return ConsoleSession(user=user, csrf_token=record.csrf_token, session_id=record.id)


SessionDep = Annotated[ConsoleSession, Depends(current_session)]


def admin_session(session: SessionDep) -> ConsoleSession:
    if not session.is_admin:
        raise forbidden(_("This page is for administrators."))
    return session


AdminSessionDep = Annotated[ConsoleSession, Depends(admin_session)]


async def checked_form(request: Request, session: SessionDep) -> FormData:
    """The posted form, once its CSRF token matches the session's."""
    form = await request.form()
    presented = form.get(CSRF_FIELD)
    if not tokens_match(session.csrf_token, presented if isinstance(presented, str) else None):
        raise forbidden(_("The form's security token is missing or stale. Reload the page."))
    return form


FormDep = Annotated[FormData, Depends(checked_form)]


def checked_header(request: Request, session: SessionDep) -> ConsoleSession:
    """For the console's own fetch() calls: the CSRF token travels in a header."""
    if not tokens_match(session.csrf_token, request.headers.get(CSRF_HEADER)):
        raise forbidden(_("The request's security token is missing or stale. Reload the page."))
    return session


HeaderCheckedDep = Annotated[ConsoleSession, Depends(checked_header)]
