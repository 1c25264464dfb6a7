"""Admin pages for money and the record: redemption code batches (create, export as CSV,
revoke), balance adjustments with a reason, plans (create, assign), and the audit log
(filter, export as CSV). Every change is written to the audit log."""

from __future__ import annotations

import calendar
import time
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Any

from fastapi import APIRouter, Request
from starlette.responses import Response

from thinkgate.console.deps import AdminSessionDep, ConsoleDep, FormDep, not_found
from thinkgate.console.i18n import gettext as _
from thinkgate.console.sessions import ConsoleSession
from thinkgate.console.templating import render
from thinkgate.console.wallet_pages import billing_of
from thinkgate.errors import InvalidRequestError, NotFoundError
from thinkgate.gateway import audit
from thinkgate.gateway import billing_admin as ops
from thinkgate.gateway.pricing import to_pico, usd
from thinkgate.store.audit import AuditFilter

router = APIRouter(prefix="/console/admin", include_in_schema=False)
AUDIT_PAGE = 50


@router.get("/billing")
async def billing_page(request: Request, console: ConsoleDep, session: AdminSessionDep) -> Response:
    return await _page(request, console, session)


@router.post("/codes", response_model=None)
async def create_codes(
    request: Request, console: ConsoleDep, session: AdminSessionDep, form: FormDep
) -> Response:
    name = str(form.get("name") or "").strip()
    try:
        value = _amount(str(form.get("value_usd") or ""), positive=True)
        count = int(str(form.get("count") or "0"))
        expires = _expiry(str(form.get("expires") or ""))
        if not 1 <= len(name) <= 200:
            raise InvalidRequestError(_("A batch needs a name (1 to 200 characters)."))
        created = await ops.create_codes(
            billing_of(console), name, value, count, expires, session.user.id
        )
    except (InvalidRequestError, ValueError) as bad:
        return await _page(request, console, session, error=_message(bad), status=400)
    await _audit(
        console,
        request,
        session,
        "codes.created",
        created["id"],
        name=name,
        value_usd=created["value_usd"],
        count=count,
        expires_at=expires,
    )
    if form.get("as") == "csv":
        return _csv(ops.plain_codes_csv(created), f"{created['id']}.csv")
    return await _page(request, console, session, created=created, status=201)


@router.get("/codes/{batch_id}.csv")
async def batch_csv(batch_id: str, console: ConsoleDep, _session: AdminSessionDep) -> Response:
    try:
        codes = await ops.batch_codes(billing_of(console), batch_id)
    except NotFoundError:
        raise not_found(_("No such batch.")) from None
    return _csv(ops.codes_csv(batch_id, codes), f"{batch_id}-status.csv")


@router.post("/codes/{batch_id}/revoke")
async def revoke_codes(
    batch_id: str, request: Request, console: ConsoleDep, session: AdminSessionDep, _form: FormDep
) -> Response:
    try:
        revoked = await ops.revoke_codes(billing_of(console), batch_id)
    except NotFoundError:
        raise not_found(_("No such batch.")) from None
    await _audit(console, request, session, "codes.revoked", batch_id, revoked=revoked)
    notice = _("Revoked %(n)s codes not yet redeemed.") % {"n": revoked}
    return await _page(request, console, session, notice=notice)


@router.post("/wallet")
async def adjust(
    request: Request, console: ConsoleDep, session: AdminSessionDep, form: FormDep
) -> Response:
    user_id = str(form.get("user_id") or "")
    reason = str(form.get("reason") or "").strip()
    try:
        amount = _amount(str(form.get("amount_usd") or ""), positive=False)
        if not 1 <= len(reason) <= 500:
            raise InvalidRequestError(_("Give a reason (1 to 500 characters)."))
        if await console.services.admin.user(user_id) is None:
            raise InvalidRequestError(_("No such user."))
    except (InvalidRequestError, ValueError) as bad:
        return await _page(request, console, session, error=_message(bad), status=400)
    pico = to_pico(amount)
    await billing_of(console).wallets.adjust(user_id, pico, reason=reason, actor=session.user.id)
    await _audit(
        console,
        request,
        session,
        "wallet.adjusted",
        f"user:{user_id}",
        amount_usd=usd(pico),
        reason=reason,
    )
    notice = _("Balance of %(user)s adjusted by %(amount)s.") % {
        "user": user_id,
        "amount": usd(pico),
    }
    return await _page(request, console, session, notice=notice)


@router.post("/plans")
async def create_plan(
    request: Request, console: ConsoleDep, session: AdminSessionDep, form: FormDep
) -> Response:
    windows = []
    for period in ("5h", "day", "week", "month"):
        fields = {
            f: str(form.get(f"{period}_{f}") or "").strip() for f in ("requests", "tokens", "usd")
        }
        if any(fields.values()):
            try:
                windows.append(
                    {
                        "period": period,
                        "requests": int(fields["requests"]) if fields["requests"] else None,
                        "tokens": int(fields["tokens"]) if fields["tokens"] else None,
                        "usd": fields["usd"] or None,
                    }
                )
            except ValueError:
                error = _("Requests and tokens are whole numbers.")
                return await _page(request, console, session, error=error, status=400)
    try:
        plan = await ops.create_plan(billing_of(console), str(form.get("name") or ""), windows)
    except InvalidRequestError as bad:
        return await _page(request, console, session, error=_message(bad), status=400)
    await _audit(console, request, session, "plan.created", plan["id"], **plan)
    return await _page(request, console, session, notice=_("Plan %(name)s created.") % plan)


@router.post("/plans/assign")
async def assign_plan(
    request: Request, console: ConsoleDep, session: AdminSessionDep, form: FormDep
) -> Response:
    subject = str(form.get("subject") or "").strip()
    plan_id = str(form.get("plan_id") or "") or None
    kind, _sep, ident = subject.partition(":")
    found = (
        await console.services.admin.user(ident) is not None
        if kind == "user"
        else kind == "key" and ident != "" and await _key_exists(console, ident)
    )
    if not found:
        error = _("Name a user (user:ID) or a token (key:ID) that exists.")
        return await _page(request, console, session, error=error, status=400)
    try:
        await ops.assign_plan(billing_of(console), subject, plan_id)
    except NotFoundError:
        return await _page(request, console, session, error=_("No such plan."), status=400)
    await _audit(console, request, session, "plan.assigned", subject, plan_id=plan_id)
    return await _page(request, console, session, notice=_("Plan assignment saved."))


@router.get("/audit")
async def audit_page(
    request: Request,
    console: ConsoleDep,
    session: AdminSessionDep,
    action: str = "",
    actor: str = "",
    since: str = "",
    until: str = "",
    page: int = 1,
    format: str = "",
) -> Response:
    page = max(1, min(page, 10_000))
    end = day_start(until)
    where = AuditFilter(
        action[:64] or None,
        actor[:64] or None,
        None,
        day_start(since),
        None if end is None else end + 86400,
    )
    if format == "csv":
        events = await audit.search(console.services.database, where, limit=100_000)
        return _csv(audit.to_csv(events), "audit.csv")
    events = await audit.search(
        console.services.database, where, limit=AUDIT_PAGE + 1, offset=(page - 1) * AUDIT_PAGE
    )
    query = {"action": action, "actor": actor, "since": since, "until": until}
    context = {
        **_base(session),
        "page": "admin",
        "events": events[:AUDIT_PAGE],
        "has_next": len(events) > AUDIT_PAGE,
        "query": query,
        "page_number": page,
        "link": {k: v for k, v in query.items() if v},
    }
    return render(request, "audit.html", context)


async def _key_exists(console: ConsoleDep, key_id: str) -> bool:
    try:
        await console.services.admin.show_key(key_id)
    except NotFoundError:
        return False
    return True


def _base(session: ConsoleSession) -> dict[str, Any]:
    return {"session": session, "user": session.user, "csrf_token": session.csrf_token}


async def _page(
    request: Request,
    console: ConsoleDep,
    session: ConsoleSession,
    *,
    error: str | None = None,
    notice: str | None = None,
    created: dict[str, Any] | None = None,
    status: int = 200,
) -> Response:
    billing = billing_of(console)
    context = {
        **_base(session),
        "page": "admin",
        "batches": await ops.batches(billing),
        "plans": await ops.plans(billing),
        "users": await console.services.admin.list_users(),
        "created": created,
        "error": error,
        "notice": notice,
    }
    return render(request, "admin_billing.html", context, status)


async def _audit(
    console: ConsoleDep,
    request: Request,
    session: ConsoleSession,
    action: str,
    target: str,
    **detail: Any,
) -> None:
    await audit.record(
        console.services.database,
        action,
        actor=session.user.id,
        ip=audit.client_ip(request),
        target=target,
        detail={"via": "console", **detail},
    )


def _amount(raw: str, *, positive: bool) -> Decimal:
    try:
        value = Decimal(raw.strip())
    except InvalidOperation:
        raise ValueError(_("Amounts are in USD, such as 5 or 0.50.")) from None
    exponent = value.as_tuple().exponent
    if not value.is_finite() or abs(value) > 10**9 or int(exponent) < -6:
        raise ValueError(_("Amounts are in USD up to 1000000000, at most 6 decimals."))
    if (positive and value <= 0) or value == 0:
        raise ValueError(
            _("The amount must be above 0.") if positive else _("The amount is not 0.")
        )
    return value


def _expiry(raw: str) -> int | None:
    if not raw.strip():
        return None
    start = day_start(raw.strip())
    if start is None or start + 86400 <= time.time():
        raise ValueError(_("The expiry must be a date from today on."))
    return start + 86400


def day_start(value: str) -> int | None:
    """A YYYY-MM-DD day's first second (UTC); None for anything else."""
    try:
        return calendar.timegm(date.fromisoformat(value).timetuple()) if value else None
    except ValueError:
        return None


def _message(error: Exception) -> str:
    text = error.message if isinstance(error, InvalidRequestError) else str(error)
    return _(text)


def _csv(text: str, filename: str) -> Response:
    return Response(
        text,
        media_type="text/csv; charset=utf-8",
        headers={
            "content-disposition": f'attachment; filename="{filename}"',
            "cache-control": "no-store",
        },
    )
