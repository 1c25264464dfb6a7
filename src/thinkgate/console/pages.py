"""The member pages: dashboard, API tokens (add, show once, revoke), usage log.

Everything is scoped to the signed-in user (an admin may widen the dashboard and the
usage log to every user): a key of anyone else is a 404, as an unknown one is, so ids
cannot be probed. A token added here may not ask for more than the admin allows its user
(`gateway.user_limits.beyond`), and is held to the user's limits whatever it asks for.
"""

from __future__ import annotations

import time
from typing import Any

from fastapi import APIRouter, Request
from starlette.responses import RedirectResponse, Response

from thinkgate.console import views
from thinkgate.console.deps import ConsoleDep, FormDep, SessionDep, not_found
from thinkgate.console.i18n import _
from thinkgate.console.sessions import ConsoleSession
from thinkgate.console.templating import render
from thinkgate.errors import InvalidRequestError, NotFoundError
from thinkgate.gateway import audit
from thinkgate.gateway.admin import user_view
from thinkgate.store.ledger import LedgerFilter

router = APIRouter(prefix="/console", include_in_schema=False)

PAGE_SIZE = 25


def _base(session: ConsoleSession, page: str) -> dict[str, Any]:
    return {
        "session": session,
        "user": session.user,
        "csrf_token": session.csrf_token,
        "page": page,
    }


@router.get("")
async def console_root() -> Response:
    return RedirectResponse("/console/dashboard", status_code=303)


@router.get("/dashboard")
async def dashboard(
    request: Request, console: ConsoleDep, session: SessionDep, scope: str = ""
) -> Response:
    await console.services.gateway.ledger.flush()
    everyone = _everyone(session, scope)
    data = await views.dashboard(console.services.admin, None if everyone else session.user.id)
    context = {**_base(session, "dashboard"), **data, "everyone": everyone}
    return render(request, "dashboard.html", context)


@router.get("/keys")
async def keys_page(request: Request, console: ConsoleDep, session: SessionDep) -> Response:
    return await _keys(request, console, session)


@router.post("/keys")
async def add_key(
    request: Request, console: ConsoleDep, session: SessionDep, form: FormDep
) -> Response:
    fields = {k: v for k, v in form.items() if isinstance(v, str) and k != "models"}
    models = [m for m in form.getlist("models") if isinstance(m, str)]
    parsed = views.parse_key_form(fields, models, _model_ids(console), session.user.id)
    if parsed.spec is None:
        return await _keys(request, console, session, form=parsed, status=400)
    try:
        created = await console.services.admin.create_key(
            parsed.spec, default_user=None, within_user_limits=True
        )
    except InvalidRequestError as refused:  # past what the admin allows this user
        parsed.errors.append(refused.message)
        return await _keys(request, console, session, form=parsed, status=400)
    await audit.record(
        console.services.database,
        "key.created",
        actor=session.user.id,
        ip=audit.client_ip(request),
        target=created["id"],
        detail={"via": "console", "name": created["name"], "prefix": created["prefix"]},
    )
    # Rendered here, never stored: the only time the secret is seen.
    return await _keys(request, console, session, created=created, status=201)


@router.get("/keys/{key_id}")
async def key_page(
    key_id: str, request: Request, console: ConsoleDep, session: SessionDep
) -> Response:
    await console.services.gateway.ledger.flush()
    key = await _own_key(console, session, key_id)
    recent = await console.services.admin.search_requests(LedgerFilter(key_id=key_id), limit=20)
    usage = await console.services.admin.usage("day", key_id=key_id)
    context = {"key": key, "recent": recent, "usage": usage, "now": int(time.time())}
    return render(request, "key.html", {**_base(session, "keys"), **context})


@router.post("/keys/{key_id}/revoke")
async def revoke_key(
    key_id: str, request: Request, console: ConsoleDep, session: SessionDep, _form: FormDep
) -> Response:
    await _own_key(console, session, key_id)
    await console.services.gateway.revoke(key_id)
    await audit.record(
        console.services.database,
        "key.revoked",
        actor=session.user.id,
        ip=audit.client_ip(request),
        target=key_id,
        detail={"via": "console"},
    )
    return RedirectResponse("/console/keys", status_code=303)


@router.get("/usage")
async def usage_page(
    request: Request,
    console: ConsoleDep,
    session: SessionDep,
    key: str = "",
    model: str = "",
    status: str = "",
    since: str = "",
    until: str = "",
    page: int = 1,
    scope: str = "",
) -> Response:
    await console.services.gateway.ledger.flush()
    everyone = _everyone(session, scope)
    query = views.UsageQuery(key, model, status, since, until, max(1, min(page, 10_000)))
    query.scope = "all" if everyone else ""
    rows = await console.services.admin.search_requests(
        query.ledger_filter(None if everyone else session.user.id),
        limit=PAGE_SIZE + 1,
        offset=(query.page - 1) * PAGE_SIZE,
    )
    keys = await console.services.admin.list_keys(session.user.id)
    context = {
        "rows": rows[:PAGE_SIZE],
        "has_next": len(rows) > PAGE_SIZE,
        "query": query,
        "keys": keys,
        "key_names": {key["id"]: key["name"] for key in keys},
        "models": _model_ids(console),
        "statuses": views.STATUSES,
        "everyone": everyone,
    }
    return render(request, "usage.html", {**_base(session, "usage"), **context})


def _everyone(session: ConsoleSession, scope: str) -> bool:
    """Admins may look at every user's usage (`?scope=all`); members only ever at theirs."""
    return scope == "all" and session.is_admin


async def _keys(
    request: Request,
    console: ConsoleDep,
    session: ConsoleSession,
    *,
    form: views.KeyForm | None = None,
    created: dict[str, Any] | None = None,
    status: int = 200,
) -> Response:
    await console.services.gateway.ledger.flush()
    keys = await console.services.admin.list_keys(session.user.id)
    user = await console.services.admin.user(session.user.id)
    now = int(time.time())
    context = {
        "keys": [{**k, "status": views.key_status(k, now)} for k in reversed(keys)],
        "form": form or views.KeyForm(values={"models": []}),
        "created": created,
        "models": _model_ids(console),
        "user_limits": views.limits_line(user_view(user)) if user is not None else None,
    }
    return render(request, "keys.html", {**_base(session, "keys"), **context}, status)


async def _own_key(console: ConsoleDep, session: ConsoleSession, key_id: str) -> dict[str, Any]:
    try:
        key = await console.services.admin.show_key(key_id)
    except NotFoundError:
        raise not_found(_("No such API token.")) from None
    if key["user_id"] != session.user.id:
        raise not_found(_("No such API token."))
    return key


def _model_ids(console: ConsoleDep) -> list[str]:
    return sorted(info.id for info in console.services.registry.models())
