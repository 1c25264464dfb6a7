"""What an admin (or a user, redeeming) does with wallets, codes and plans, as JSON-ready
dicts; shared by the admin API and the console, each of which writes the audit event."""

from __future__ import annotations

import csv
import io
import time
from decimal import Decimal
from typing import Any

from thinkgate.errors import InvalidRequestError, NotFoundError
from thinkgate.gateway.audit import safe_cell
from thinkgate.gateway.billing import Billing
from thinkgate.gateway.plans import parse_windows
from thinkgate.gateway.pricing import to_pico, usd
from thinkgate.gateway.wallet import REFUSALS

MAX_CODES = 10_000


async def balance_view(billing: Billing, user_id: str) -> dict[str, Any]:
    balance = await billing.wallets.balance(user_id)
    entries = await billing.wallets.repository.entries(user_id)
    return {
        "object": "wallet",
        "user_id": user_id,
        "balance_usd": usd(balance.balance_pico),
        "credited_usd": usd(balance.credit_pico),
        "spent_usd": usd(balance.spent_pico),
        "started_at": balance.started_at,
        "entries": [
            {
                **{k: v for k, v in e.items() if k != "amount_pico"},
                "amount_usd": usd(e["amount_pico"]),
            }
            for e in entries
        ],
    }


async def redeem(billing: Billing, code: str, user_id: str) -> int:
    """The amount credited (picodollars); a code that cannot be redeemed is a 400 saying why."""
    if not 1 <= len(code.strip()) <= 100:
        raise InvalidRequestError("Enter a redemption code.", param="code", code="invalid_code")
    redeemed = await billing.wallets.redeem(code, user_id)
    if redeemed.amount_pico is None:
        why = redeemed.refusal or "unknown"
        raise InvalidRequestError(REFUSALS[why], param="code", code=f"code_{why}")
    return redeemed.amount_pico


async def create_codes(
    billing: Billing,
    name: str,
    value_usd: Decimal,
    count: int,
    expires_at: int | None,
    actor: str | None,
) -> dict[str, Any]:
    if not 1 <= count <= MAX_CODES:
        raise InvalidRequestError(f"count is 1 to {MAX_CODES}.", param="count")
    if value_usd <= 0:
        raise InvalidRequestError("value_usd must be above 0.", param="value_usd")
    if expires_at is not None and expires_at <= time.time():
        raise InvalidRequestError("expires_at is in the past.", param="expires_at")
    batch_id, codes = await billing.wallets.repository.create_batch(
        name, to_pico(value_usd), count, expires_at, actor
    )
    return {
        "object": "redemption_batch",
        "id": batch_id,
        "name": name,
        "value_usd": usd(to_pico(value_usd)),
        "count": count,
        "expires_at": expires_at,
        "codes": codes,  # the only time they are shown: stored as SHA-256 hashes
    }


async def batches(billing: Billing) -> list[dict[str, Any]]:
    return [_batch_view(b) for b in await billing.wallets.repository.batches()]


async def batch_codes(billing: Billing, batch_id: str) -> list[dict[str, Any]]:
    codes = await billing.wallets.repository.codes(batch_id)
    if codes is None:
        raise NotFoundError(f"No redemption batch found with id '{batch_id}'.", param="batch_id")
    return [
        {
            **{k: v for k, v in c.items() if k != "value_pico"},
            "value_usd": usd(c["value_pico"]),
            "status": code_status(c),
        }
        for c in codes
    ]


def codes_csv(batch_id: str, codes: list[dict[str, Any]]) -> str:
    out = io.StringIO()
    writer = csv.writer(out)
    columns = ("id", "prefix", "value_usd", "status", "expires_at", "redeemed_at", "redeemed_by")
    writer.writerow(("batch_id", *columns))
    for code in codes:
        writer.writerow([safe_cell(batch_id), *(safe_cell(code[c]) for c in columns)])
    return out.getvalue()


def plain_codes_csv(created: dict[str, Any]) -> str:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(("batch_id", "code", "value_usd", "expires_at"))
    for code in created["codes"]:
        writer.writerow((created["id"], code, created["value_usd"], created["expires_at"] or ""))
    return out.getvalue()


def code_status(code: dict[str, Any]) -> str:
    if code["redeemed_at"] is not None:
        return "redeemed"
    if code["revoked_at"] is not None:
        return "revoked"
    if code["expires_at"] is not None and code["expires_at"] <= time.time():
        return "expired"
    return "open"


async def revoke_codes(billing: Billing, batch_id: str, code_id: str | None = None) -> int:
    await batch_codes(billing, batch_id)  # 404 for an unknown batch
    return await billing.wallets.repository.revoke(batch_id, code_id)


async def create_plan(billing: Billing, name: str, windows: Any) -> dict[str, Any]:
    record = await billing.plans.repository.create(_name(name), _windows(windows))
    billing.plans.forget()
    return plan_view(record.id, record.name, list(record.windows))


async def update_plan(billing: Billing, plan_id: str, name: str, windows: Any) -> dict[str, Any]:
    clean = _windows(windows)
    if not await billing.plans.repository.update(plan_id, _name(name), clean):
        raise NotFoundError(f"No plan found with id '{plan_id}'.", param="plan_id")
    billing.plans.forget()
    return plan_view(plan_id, name, clean)


async def plans(billing: Billing) -> list[dict[str, Any]]:
    assigned = await billing.plans.repository.assignments()
    out = []
    for plan in await billing.plans.repository.listing():
        view = plan_view(plan.id, plan.name, list(plan.windows))
        view["subjects"] = sorted(s for s, p in assigned.items() if p == plan.id)
        out.append(view)
    return out


async def assign_plan(billing: Billing, subject: str, plan_id: str | None) -> None:
    if plan_id is not None and await billing.plans.repository.get(plan_id) is None:
        raise NotFoundError(f"No plan found with id '{plan_id}'.", param="plan_id")
    await billing.plans.repository.assign(subject, plan_id)
    billing.plans.forget()


def plan_view(plan_id: str, name: str, windows: list[dict[str, Any]]) -> dict[str, Any]:
    return {"object": "plan", "id": plan_id, "name": name, "windows": windows}


def _name(name: str) -> str:
    if not 1 <= len(name.strip()) <= 200:
        raise InvalidRequestError("A plan needs a name (1 to 200 characters).", param="name")
    return name.strip()


def _windows(windows: Any) -> list[dict[str, Any]]:
    try:
        return parse_windows(windows)
    except ValueError as error:
        raise InvalidRequestError(str(error), param="windows", code="invalid_value") from None


def _batch_view(batch: dict[str, Any]) -> dict[str, Any]:
    return {
        "object": "redemption_batch",
        "id": batch["id"],
        "name": batch["name"],
        "value_usd": usd(batch["value_pico"]),
        "count": batch["count"],
        "redeemed": batch["redeemed"],
        "revoked": batch["revoked"],
        "created_at": batch["created_at"],
        "expires_at": batch["expires_at"],
        "created_by": batch["created_by"],
    }
