"""Single sign-on routes: `/console/sso/<name>/start` sends the browser to the provider,
`/console/sso/<name>/callback` signs it in.

The round trip's state, nonce and PKCE verifier are kept server-side (a one-time token,
10 minutes, only its hash at rest) and the state also in a cookie of this browser: a
callback with a forged or replayed state, from another browser, or for another provider is
refused before the code is exchanged. A user is found by the identity's link, else by a
verified e-mail address, else created as the sign-up mode allows; every check happens
before anything is written.
"""

from __future__ import annotations

import secrets
import time

from fastapi import APIRouter, Request
from starlette.responses import RedirectResponse, Response

from thinkgate.config_console import SsoProviderConfig
from thinkgate.console import i18n, sso
from thinkgate.console.account_support import MAX_NAME, message, public_base, safe_next
from thinkgate.console.auth_routes import inactive_message
from thinkgate.console.deps import Console, ConsoleDep, ConsoleProblem
from thinkgate.console.i18n import _
from thinkgate.console.sessions import COOKIE_PATH, tokens_match
from thinkgate.gateway import audit
from thinkgate.store.console_accounts import SSO, EmailTaken
from thinkgate.store.users import UserRecord

router = APIRouter(prefix="/console/sso", include_in_schema=False)

STATE_COOKIE = "tg_sso_state"
STATE_TTL_S = 600
BOOTSTRAP_ADMIN = "usr_admin"  # its role is never taken away by a claim


def _provider(console: Console, name: str) -> SsoProviderConfig:
    for provider in console.services.settings.console.sso:
        if provider.name == name:
            return provider
    raise ConsoleProblem(404, _("There is no sign-in provider named so."))


def _redirect_uri(console: Console, request: Request, name: str) -> str:
    return f"{public_base(console, request)}/console/sso/{name}/callback"


@router.get("/{name}/start")
async def start(name: str, request: Request, console: ConsoleDep, next: str = "") -> Response:
    provider = _provider(console, name)
    state, nonce = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
    verifier = secrets.token_urlsafe(64)
    try:
        url = await sso.authorization_url(
            provider, _redirect_uri(console, request, name), state, nonce, verifier
        )
    except sso.ProviderError as failed:
        raise ConsoleProblem(failed.status_code, failed.message) from failed
    await console.accounts.issue(
        SSO,
        now=int(time.time()),
        ttl_s=STATE_TTL_S,
        data={"provider": name, "nonce": nonce, "verifier": verifier, "next": safe_next(next)},
        token=state,
    )
    response = RedirectResponse(url, status_code=303)
    # Lax, not Strict: the provider's redirect back is a cross-site navigation
    response.set_cookie(
        STATE_COOKIE,
        state,
        max_age=STATE_TTL_S,
        path=f"{COOKIE_PATH}/sso",
        secure=request.url.scheme == "https",
        httponly=True,
        samesite="lax",
    )
    return response


@router.get("/{name}/callback")
async def callback(
    name: str,
    request: Request,
    console: ConsoleDep,
    code: str = "",
    state: str = "",
    error: str = "",
) -> Response:
    provider = _provider(console, name)
    if error:
        raise ConsoleProblem(
            400, _("The identity provider refused the sign-in (%(why)s).") % {"why": error[:200]}
        )
    if not code or not tokens_match(request.cookies.get(STATE_COOKIE), state):
        raise ConsoleProblem(
            400, _("This sign-in was not started here or has expired (state). Start again.")
        )
    now = int(time.time())
    pending = await console.accounts.take(SSO, state, now)
    if pending is None or pending.data.get("provider") != name:
        raise ConsoleProblem(
            400, _("This sign-in was not started here or has expired (state). Start again.")
        )
    try:
        found = await sso.identity(
            provider,
            code[:2000],
            _redirect_uri(console, request, name),
            str(pending.data["nonce"]),
            str(pending.data["verifier"]),
        )
    except sso.ProviderError as failed:
        await audit.record(
            console.services.database,
            "auth.sign_in_failed",
            ip=audit.client_ip(request),
            detail={"method": f"sso:{name}", "why": failed.message[:300]},
        )
        raise ConsoleProblem(failed.status_code, failed.message) from failed
    user = await _user_for(console, provider, found, now)
    if user.status != "active":
        return message(request, _("Not yet"), inactive_message(user.status))
    response = RedirectResponse(str(pending.data.get("next") or "/console"), status_code=303)
    response.delete_cookie(STATE_COOKIE, path=f"{COOKIE_PATH}/sso")
    await console.sessions.start(user, response, request)
    await audit.record(
        console.services.database,
        "auth.sign_in",
        actor=user.id,
        ip=audit.client_ip(request),
        detail={"method": f"sso:{name}"},
    )
    return response


async def _user_for(
    console: Console, provider: SsoProviderConfig, found: sso.Identity, now: int
) -> UserRecord:
    """The linked user, or the one with this verified e-mail, or a new one (sign-up mode)."""
    role = sso.role_for(provider, found.roles)
    user_id = await console.accounts.identity(provider.name, found.subject)
    user = await console.users.get(user_id) if user_id is not None else None
    if user is None and found.email is not None:
        user = await console.users.by_email(found.email)
        if user is not None and user.email_verified_at is None:
            # an address nobody proved here: linking it would hand the account over
            raise ConsoleProblem(
                409, _("This identity or e-mail address already belongs to another account.")
            )
        if user is not None:
            await _link(console, provider, found, user.id, now)
    if user is None:
        user = await _create(console, provider, found, role or "member", now)
    elif role is not None and role != user.role and user.id != BOOTSTRAP_ADMIN:
        await console.users.update_account(user.id, role=role)
        user = await console.users.get(user.id) or user
    return user


async def _create(
    console: Console, provider: SsoProviderConfig, found: sso.Identity, role: str, now: int
) -> UserRecord:
    mode = console.services.settings.console.signup
    if mode in ("closed", "invite"):
        who = found.email or found.name[:MAX_NAME]
        raise ConsoleProblem(
            403,
            _(
                "There is no account here for %(who)s, and sign-up is closed: "
                "ask your administrator."
            )
            % {"who": who},
        )
    name = " ".join(found.name.split())[:MAX_NAME] or found.subject[:MAX_NAME]
    if await console.services.admin.login_user_id(name) is not None or name.startswith("usr_"):
        name = f"{name[: MAX_NAME - 6]}-{secrets.token_hex(2)}"
    user = UserRecord(
        id="usr_" + secrets.token_hex(12),
        name=name,
        role=role,
        created_at=now,
        locale=i18n.current_locale(),
        email=found.email,
        email_verified_at=now if found.email else None,
        status="pending_approval" if mode == "approval" else "active",
    )
    try:
        await console.accounts.link(
            provider.name, found.subject, user.id, found.email, now, new_user=user
        )
    except EmailTaken:
        raise ConsoleProblem(
            409, _("This identity or e-mail address already belongs to another account.")
        ) from None
    return user


async def _link(
    console: Console, provider: SsoProviderConfig, found: sso.Identity, user_id: str, now: int
) -> None:
    try:
        await console.accounts.link(provider.name, found.subject, user_id, found.email, now)
    except EmailTaken:
        raise ConsoleProblem(
            409, _("This identity or e-mail address already belongs to another account.")
        ) from None
