"""The member's wallet page: balance, redeem a code, the credits so far, the plan windows
with the time each refills, and the prices (tokens and hosted tool calls) requests pay."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from starlette.responses import Response

from thinkgate.console.deps import ConsoleDep, FormDep, SessionDep
from thinkgate.console.i18n import N_
from thinkgate.console.i18n import gettext as _
from thinkgate.console.sessions import ConsoleSession
from thinkgate.console.templating import render
from thinkgate.errors import InvalidRequestError
from thinkgate.gateway import audit
from thinkgate.gateway import billing_admin as ops
from thinkgate.gateway.billing import Billing
from thinkgate.gateway.pricing import usd

router = APIRouter(prefix="/console", include_in_schema=False)

# Messages made outside the console (gateway/wallet.py, gateway/billing_admin.py) and
# translated here: marked so that the catalogue keeps them.
_CATALOGUED = (
    N_("This code does not exist. Check it and try again."),
    N_("This code has already been redeemed."),
    N_("This code has been revoked."),
    N_("This code has expired."),
    N_("Enter a redemption code."),
)


def billing_of(console: ConsoleDep) -> Billing:
    assert console.services.gateway.billing is not None  # built at every start
    return console.services.gateway.billing


@router.get("/wallet")
async def wallet_page(request: Request, console: ConsoleDep, session: SessionDep) -> Response:
    return await _page(request, console, session)


@router.post("/wallet/redeem")
async def redeem(
    request: Request, console: ConsoleDep, session: SessionDep, form: FormDep
) -> Response:
    code = str(form.get("code") or "")
    user_id = session.user.id
    try:
        amount = await ops.redeem(billing_of(console), code, user_id)
    except InvalidRequestError as refused:
        await audit.record(
            console.services.database,
            "wallet.redeem_failed",
            actor=user_id,
            ip=audit.client_ip(request),
            detail={"reason": refused.code, "code_prefix": code.strip()[:7]},
        )
        return await _page(request, console, session, error=_(refused.message), status=400)
    await audit.record(
        console.services.database,
        "wallet.redeemed",
        actor=user_id,
        ip=audit.client_ip(request),
        target=f"user:{user_id}",
        detail={"amount_usd": usd(amount), "code_prefix": code.strip()[:7]},
    )
    notice = _("Redeemed: %(amount)s added to your balance.") % {"amount": "$" + usd(amount)}
    return await _page(request, console, session, notice=notice)


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
    billing = billing_of(console)
    user_id = session.user.id
    keys = await console.services.admin.list_keys(user_id)
    subjects = [f"user:{user_id}"] + [f"key:{k['id']}" for k in keys if k["revoked_at"] is None]
    context = {
        "session": session,
        "user": session.user,
        "csrf_token": session.csrf_token,
        "page": "wallet",
        "wallet": await ops.balance_view(billing, user_id),
        "wallet_enabled": console.services.settings.wallet.enabled,
        "plans": await billing.plans.status(subjects),
        "key_names": {f"key:{k['id']}": k["name"] for k in keys},
        "tool_prices": tool_prices(console),
        "error": error,
        "notice": notice,
    }
    return render(request, "wallet.html", context, status)


def tool_prices(console: ConsoleDep) -> list[dict[str, Any]]:
    """USD per completed hosted tool call (`[tool_pricing]`)."""
    table = console.services.settings.tool_pricing
    return [{"tool": name, "usd": f"{price:f}"} for name, price in sorted(table.items())]
