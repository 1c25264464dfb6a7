"""Admin pages: users (add one, set a password), channels and their health, the price table.

Members get a 403 page. Users, keys and prices come from the same services as the admin
API (`gateway.admin.Admin`, the price table, the model registry).
"""

from __future__ import annotations

import secrets
import time
from collections import defaultdict
from decimal import Decimal
from typing import Any

from fastapi import APIRouter, Request
from starlette.responses import RedirectResponse, Response

from thinkgate.console import views
from thinkgate.console.deps import AdminSessionDep, ConsoleDep, FormDep
from thinkgate.console.i18n import _
from thinkgate.console.sessions import ConsoleSession
from thinkgate.console.templating import render
from thinkgate.console.wallet_pages import tool_prices
from thinkgate.gateway import audit
from thinkgate.gateway.passwords import MAX_LENGTH, MIN_LENGTH
from thinkgate.gateway.pricing import usd
from thinkgate.store.console_accounts import INVITE

router = APIRouter(prefix="/console/admin", include_in_schema=False)


@router.get("")
async def admin_page(request: Request, console: ConsoleDep, session: AdminSessionDep) -> Response:
    return await _page(request, console, session)


@router.post("/users")
async def add_user(
    request: Request, console: ConsoleDep, session: AdminSessionDep, form: FormDep
) -> Response:
    name = str(form.get("name") or "").strip()
    role = str(form.get("role") or "member")
    password = str(form.get("password") or "")
    error = None
    if not 1 <= len(name) <= 200:
        error = _("A user needs a name (1 to 200 characters).")
    elif role not in ("admin", "member"):
        error = _("The role is admin or member.")
    elif not MIN_LENGTH <= len(password) <= MAX_LENGTH:
        error = views.password_rule()
    if error is not None:
        return await _page(request, console, session, error=error, status=400)
    created = await console.services.admin.create_user(name, role, password)
    return await _page(
        request, console, session, notice=_("Added user %(id)s.") % {"id": created["id"]}
    )


@router.post("/users/{user_id}/approve")
async def approve_user(
    user_id: str, request: Request, console: ConsoleDep, session: AdminSessionDep, form: FormDep
) -> Response:
    """Sign-up by approval: let a waiting user in, or turn them away (the account goes)."""
    user = await console.users.get(user_id)
    if user is None or user.status != "pending_approval":
        error = _("No user waits for approval with this id.")
        return await _page(request, console, session, error=error, status=404)
    approve = form.get("decision") == "approve"
    if approve:
        await console.users.update_account(user_id, status="active")
    else:
        await console.accounts.remove_user(user_id)
    await audit.record(
        console.services.database,
        "user.approved" if approve else "user.rejected",
        actor=session.user.id,
        ip=audit.client_ip(request),
        target=user_id,
    )
    notice = (_("%(name)s may sign in now.") if approve else _("%(name)s was turned away.")) % {
        "name": user.name
    }
    return await _page(request, console, session, notice=notice)


@router.post("/invites")
async def create_invite(
    request: Request, console: ConsoleDep, session: AdminSessionDep, form: FormDep
) -> Response:
    note = str(form.get("note") or "").strip()
    days = str(form.get("days") or "").strip()
    if len(note) > 200:
        error = _("A note has at most 200 characters.")
        return await _page(request, console, session, error=error, status=400)
    if not days.isdigit() or not 1 <= int(days) <= 365:
        error = _("An invite code is valid for 1 to 365 days.")
        return await _page(request, console, session, error=error, status=400)
    code = "inv-" + secrets.token_urlsafe(18)
    await console.accounts.issue(
        INVITE,
        now=int(time.time()),
        ttl_s=int(days) * 86400,
        user_id=session.user.id,
        data={"note": note, "prefix": code[:10]},
        token=code,
    )
    await audit.record(
        console.services.database,
        "invite.created",
        actor=session.user.id,
        ip=audit.client_ip(request),
        detail={"prefix": code[:10], "days": int(days), "note": note},
    )
    return await _page(request, console, session, invite_code=code, status=201)


@router.post("/invites/{id_prefix}/revoke")
async def revoke_invite(
    id_prefix: str, request: Request, console: ConsoleDep, session: AdminSessionDep, form: FormDep
) -> Response:
    if not await console.accounts.revoke_invite(id_prefix[:64], int(time.time())):
        error = _("No unused invite code matches.")
        return await _page(request, console, session, error=error, status=404)
    await audit.record(
        console.services.database,
        "invite.revoked",
        actor=session.user.id,
        ip=audit.client_ip(request),
        target=id_prefix[:64],
    )
    return await _page(request, console, session, notice=_("The invite code was revoked."))


@router.post("/users/{user_id}/password")
async def set_password(
    user_id: str, request: Request, console: ConsoleDep, session: AdminSessionDep, form: FormDep
) -> Response:
    password = str(form.get("password") or "")
    if not MIN_LENGTH <= len(password) <= MAX_LENGTH:
        error = views.password_rule()
        return await _page(request, console, session, error=error, status=400)
    if await console.services.admin.user(user_id) is None:
        return await _page(request, console, session, error=_("No such user."), status=404)
    await console.services.admin.set_password(user_id, password)  # signs them out everywhere
    if user_id == session.user.id:
        return RedirectResponse("/console/login", status_code=303)
    return await _page(
        request, console, session, notice=_("Password of %(id)s changed.") % {"id": user_id}
    )


async def _page(
    request: Request,
    console: ConsoleDep,
    session: ConsoleSession,
    *,
    error: str | None = None,
    notice: str | None = None,
    invite_code: str | None = None,
    status: int = 200,
) -> Response:
    await console.services.gateway.ledger.flush()
    now = int(time.time())
    settings = console.services.settings.console
    context = {
        "session": session,
        "user": session.user,
        "csrf_token": session.csrf_token,
        "page": "admin",
        "users": await _users(console),
        "channels": _channels(console),
        "prices": _prices(console),
        "tool_prices": tool_prices(console),  # [tool_pricing]: USD per hosted call
        "error": error,
        "notice": notice,
        "invite_code": invite_code,
        "signup_label": _signup_label(settings.signup),
        "verify_email": settings.verify_email,
        "invites": [
            {
                "prefix": invite.data.get("prefix", "inv-"),
                "id_prefix": invite.id[:16],
                "note": invite.data.get("note"),
                "created_at": invite.created_at,
                "expires_at": invite.expires_at,
                "status": invite.status(now),
            }
            for invite in await console.accounts.invites()
        ],
    }
    return render(request, "admin.html", context, status)


def _signup_label(mode: str) -> str:
    return {
        "closed": _("closed (administrators add users)"),
        "open": _("open (anyone may register)"),
        "invite": _("by invite code"),
        "approval": _("open, approved by an administrator"),
    }[mode]


async def _users(console: ConsoleDep) -> list[dict[str, Any]]:
    keys = await console.services.admin.list_keys()
    count: dict[str | None, int] = defaultdict(int)
    spend: dict[str | None, Decimal] = defaultdict(Decimal)
    for key in keys:
        if key["revoked_at"] is None:
            count[key["user_id"]] += 1
        spend[key["user_id"]] += Decimal(key["spend_usd"])
    accounts = {record.id: record for record in await console.users.listing()}
    return [
        {
            **user,
            "email": accounts[user["id"]].email if user["id"] in accounts else None,
            "status": accounts[user["id"]].status if user["id"] in accounts else "active",
            "active_keys": count[user["id"]],
            "spend_usd": f"{spend[user['id']]:f}",
            "limits": views.limits_line(user),
        }
        for user in await console.services.admin.list_users()
    ]


def _channels(console: ConsoleDep) -> list[dict[str, Any]]:
    """Each backend and, for upstream ones, each channel's breaker state."""
    rows: list[dict[str, Any]] = []
    for backend in console.services.registry.backends():
        channels = backend.channels()
        if not channels:
            rows.append(
                {
                    "name": backend.name,
                    "kind": _("embedded (llama.cpp)"),
                    "target": backend.name,
                    "health": "ready",
                    "detail": _("context %(num)s tokens")
                    % {"num": backend.capabilities().context_window},
                }
            )
            continue
        for channel in channels:
            state = channel.breaker
            health = {"closed": "healthy", "half_open": "probing", "open": "failing"}[state]
            if health == "healthy" and channel.cooling_down:
                health = "backing off"
            model = backend.name.removeprefix("upstream:")
            rows.append(
                {
                    "name": channel.name,
                    "kind": channel.kind,
                    "target": f"{model} → {channel.upstream_model}",
                    "health": health,
                    "detail": _("%(url)s · priority %(num)s")
                    % {"url": channel.base_url, "num": channel.priority},
                }
            )
    return rows


def _prices(console: ConsoleDep) -> list[dict[str, Any]]:
    prices = console.services.gateway.prices
    return [
        {
            "model": info.id,
            "input": usd(prices.price(info.id).input * 1_000_000),
            "cached_input": usd(prices.price(info.id).cached_input * 1_000_000),
            "output": usd(prices.price(info.id).output * 1_000_000),
            "own_line": info.id in console.services.settings.pricing,
        }
        for info in sorted(console.services.registry.models(), key=lambda m: m.id)
    ]
