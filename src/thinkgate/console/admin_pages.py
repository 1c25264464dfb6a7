"""Admin pages: users (add one, set a password), channels and their health, the price table.

Members get a 403 page. Users, keys and prices come from the same services as the admin
API (`gateway.admin.Admin`, the price table, the model registry).
"""

from __future__ import annotations

from collections import defaultdict
from decimal import Decimal
from typing import Any

from fastapi import APIRouter, Request
from starlette.responses import RedirectResponse, Response

from thinkgate.console import views
from thinkgate.console.deps import AdminSessionDep, ConsoleDep, FormDep
from thinkgate.console.sessions import ConsoleSession
from thinkgate.console.templating import render
from thinkgate.gateway.passwords import MAX_LENGTH, MIN_LENGTH
from thinkgate.gateway.pricing import usd

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
        error = "A user needs a name (1 to 200 characters)."
    elif role not in ("admin", "member"):
        error = "The role is admin or member."
    elif not MIN_LENGTH <= len(password) <= MAX_LENGTH:
        error = f"The password needs {MIN_LENGTH} to {MAX_LENGTH} characters."
    if error is not None:
        return await _page(request, console, session, error=error, status=400)
    created = await console.services.admin.create_user(name, role, password)
    return await _page(request, console, session, notice=f"Added user {created['id']}.")


@router.post("/users/{user_id}/password")
async def set_password(
    user_id: str, request: Request, console: ConsoleDep, session: AdminSessionDep, form: FormDep
) -> Response:
    password = str(form.get("password") or "")
    if not MIN_LENGTH <= len(password) <= MAX_LENGTH:
        error = f"The password needs {MIN_LENGTH} to {MAX_LENGTH} characters."
        return await _page(request, console, session, error=error, status=400)
    if await console.services.admin.user(user_id) is None:
        return await _page(request, console, session, error="No such user.", status=404)
    await console.services.admin.set_password(user_id, password)  # signs them out everywhere
    if user_id == session.user.id:
        return RedirectResponse("/console/login", status_code=303)
    return await _page(request, console, session, notice=f"Password of {user_id} changed.")


async def _page(
    request: Request,
    console: ConsoleDep,
    session: ConsoleSession,
    *,
    error: str | None = None,
    notice: str | None = None,
    status: int = 200,
) -> Response:
    await console.services.gateway.ledger.flush()
    context = {
        "session": session,
        "user": session.user,
        "csrf_token": session.csrf_token,
        "page": "admin",
        "users": await _users(console),
        "channels": _channels(console),
        "prices": _prices(console),
        "error": error,
        "notice": notice,
    }
    return render(request, "admin.html", context, status)


async def _users(console: ConsoleDep) -> list[dict[str, Any]]:
    keys = await console.services.admin.list_keys()
    count: dict[str | None, int] = defaultdict(int)
    spend: dict[str | None, Decimal] = defaultdict(Decimal)
    for key in keys:
        if key["revoked_at"] is None:
            count[key["user_id"]] += 1
        spend[key["user_id"]] += Decimal(key["spend_usd"])
    return [
        {
            **user,
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
        routes = getattr(backend, "routes", None)
        if routes is None:
            rows.append(
                {
                    "name": backend.name,
                    "kind": "embedded (llama.cpp)",
                    "target": backend.name,
                    "health": "ready",
                    "detail": f"context {backend.capabilities().context_window} tokens",
                }
            )
            continue
        for route in routes:
            channel = route.channel
            state = channel.breaker.state
            health = {"closed": "healthy", "half_open": "probing", "open": "failing"}[state]
            if health == "healthy" and channel.cooling_down:
                health = "backing off"
            rows.append(
                {
                    "name": channel.name,
                    "kind": channel.config.kind,
                    "target": f"{backend.name.removeprefix('upstream:')} → {route.upstream_model}",
                    "health": health,
                    "detail": f"{channel.config.base_url} · priority {channel.config.priority}",
                }
            )
    return rows


def _prices(console: ConsoleDep) -> list[dict[str, str]]:
    prices = console.services.gateway.prices
    return [
        {
            "model": info.id,
            "input": usd(prices.price(info.id).input * 1_000_000),
            "cached_input": usd(prices.price(info.id).cached_input * 1_000_000),
            "output": usd(prices.price(info.id).output * 1_000_000),
            "own_line": "yes" if info.id in console.services.settings.pricing else "no (gpt-5.1's)",
        }
        for info in sorted(console.services.registry.models(), key=lambda m: m.id)
    ]
