"""The admin API for wallets, redemption codes, plans and the audit log (admin keys
only), and a key owner's own wallet and plan (`GET /v1/wallet`).

Every change here is written to the audit log with the calling admin, their address and
what changed. Money is a decimal string in USD, in and out.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel, ConfigDict, Field
from starlette.responses import Response

from thinkgate.api.admin import admin_audit as _audit
from thinkgate.api.deps import AdminDep, KeyDep, Services, ServicesDep
from thinkgate.errors import InvalidRequestError, NotFoundError
from thinkgate.gateway import audit
from thinkgate.gateway import billing_admin as ops
from thinkgate.gateway.billing import Billing
from thinkgate.gateway.pricing import to_pico, usd
from thinkgate.protocol import parse_body
from thinkgate.store.audit import AuditFilter
from thinkgate.store.keys import KeyRecord

router = APIRouter(prefix="/admin/v1", tags=["admin"])
owner_router = APIRouter(tags=["usage"])

MAX_UNIX = 2**31 - 1  # the columns' integer range
Amount = Annotated[Decimal, Field(ge=-(10**6), le=10**6, max_digits=18, decimal_places=6)]
_CSV: dict[str, Any] = {"content": {"text/csv": {}}}  # documented: `?format=csv`


class Adjustment(BaseModel):
    model_config = ConfigDict(extra="forbid")

    amount_usd: Amount = Field(description="Signed: a credit above 0, a debit below")
    reason: str = Field(min_length=1, max_length=500)


class CodeBatch(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=200)
    value_usd: Annotated[Decimal, Field(gt=0, le=10**6, max_digits=18, decimal_places=6)]
    count: int = Field(ge=1, le=ops.MAX_CODES)
    expires_at: int | None = Field(default=None, ge=0, le=MAX_UNIX, description="Unix seconds")


class PlanBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=200)
    windows: list[dict[str, Any]] = Field(
        description='[{"period": "5h"|"day"|"week"|"month", "requests"?, "tokens"?, "usd"?}]'
    )


class Assignment(BaseModel):
    model_config = ConfigDict(extra="forbid")

    plan_id: str | None = Field(max_length=64)


def _billing(services: Services) -> Billing:
    assert services.gateway.billing is not None  # built at every start (`open_gateway`)
    return services.gateway.billing


@router.get("/users/{user_id}/wallet")
async def show_wallet(user_id: str, services: ServicesDep, _admin: AdminDep) -> dict[str, Any]:
    await services.admin.show_user(user_id)  # 404 for an unknown user
    await services.gateway.ledger.flush()
    return await ops.balance_view(_billing(services), user_id)


@router.post("/users/{user_id}/wallet/adjustments", status_code=201)
async def adjust_wallet(
    user_id: str, request: Request, services: ServicesDep, admin: AdminDep
) -> dict[str, Any]:
    """Credit or debit a user's balance, recorded with the reason (and audited)."""
    body = parse_body(await request.body(), Adjustment)
    await services.admin.show_user(user_id)
    await _billing(services).wallets.adjust(
        user_id, to_pico(body.amount_usd), reason=body.reason, actor=admin.user_id or admin.id
    )
    amount = usd(to_pico(body.amount_usd))
    await _audit(
        services,
        request,
        admin,
        "wallet.adjusted",
        f"user:{user_id}",
        amount_usd=amount,
        reason=body.reason,
    )
    await services.gateway.ledger.flush()
    return await ops.balance_view(_billing(services), user_id)


@router.post("/redemption_codes", status_code=201, response_model=None, responses={201: _CSV})
async def create_codes(
    request: Request,
    services: ServicesDep,
    admin: AdminDep,
    format: Literal["json", "csv"] = "json",
) -> dict[str, Any] | Response:
    """A batch of codes, shown only in this response (`?format=csv`: as a CSV file)."""
    body = parse_body(await request.body(), CodeBatch)
    created = await ops.create_codes(
        _billing(services), body.name, body.value_usd, body.count, body.expires_at, admin.user_id
    )
    await _audit(
        services,
        request,
        admin,
        "codes.created",
        created["id"],
        name=body.name,
        value_usd=created["value_usd"],
        count=body.count,
        expires_at=body.expires_at,
    )
    if format == "csv":
        return _csv(ops.plain_codes_csv(created), f"{created['id']}.csv", 201)
    return created


@router.get("/redemption_codes")
async def list_batches(services: ServicesDep, _admin: AdminDep) -> dict[str, Any]:
    return {"object": "list", "data": await ops.batches(_billing(services))}


@router.get("/redemption_codes/{batch_id}", response_model=None, responses={200: _CSV})
async def show_batch(
    batch_id: str, services: ServicesDep, _admin: AdminDep, format: Literal["json", "csv"] = "json"
) -> dict[str, Any] | Response:
    """The batch's codes by prefix and state (never the codes themselves)."""
    codes = await ops.batch_codes(_billing(services), batch_id)
    if format == "csv":
        return _csv(ops.codes_csv(batch_id, codes), f"{batch_id}-status.csv")
    return {"object": "list", "batch_id": batch_id, "data": codes}


@router.delete("/redemption_codes/{batch_id}")
async def revoke_batch(
    batch_id: str,
    request: Request,
    services: ServicesDep,
    admin: AdminDep,
    code_id: str | None = None,
) -> dict[str, Any]:
    """Revoke the batch's codes not yet redeemed (`?code_id=`: one of them)."""
    revoked = await ops.revoke_codes(_billing(services), batch_id, code_id)
    await _audit(
        services, request, admin, "codes.revoked", batch_id, code_id=code_id, revoked=revoked
    )
    return {"object": "redemption_batch", "id": batch_id, "revoked": revoked}


@router.post("/plans", status_code=201)
async def create_plan(request: Request, services: ServicesDep, admin: AdminDep) -> dict[str, Any]:
    body = parse_body(await request.body(), PlanBody)
    plan = await ops.create_plan(_billing(services), body.name, body.windows)
    await _audit(services, request, admin, "plan.created", plan["id"], **plan)
    return plan


@router.get("/plans")
async def list_plans(services: ServicesDep, _admin: AdminDep) -> dict[str, Any]:
    return {"object": "list", "data": await ops.plans(_billing(services))}


@router.put("/plans/{plan_id}")
async def update_plan(
    plan_id: str, request: Request, services: ServicesDep, admin: AdminDep
) -> dict[str, Any]:
    body = parse_body(await request.body(), PlanBody)
    plan = await ops.update_plan(_billing(services), plan_id, body.name, body.windows)
    await _audit(services, request, admin, "plan.changed", plan_id, **plan)
    return plan


@router.put("/users/{user_id}/plan")
async def assign_user_plan(
    user_id: str, request: Request, services: ServicesDep, admin: AdminDep
) -> dict[str, Any]:
    """Put the user (all their keys together) on a plan; `{"plan_id": null}`: off it."""
    await services.admin.show_user(user_id)
    return await _assign(f"user:{user_id}", request, services, admin)


@router.put("/keys/{key_id}/plan")
async def assign_key_plan(
    key_id: str, request: Request, services: ServicesDep, admin: AdminDep
) -> dict[str, Any]:
    await services.admin.show_key(key_id)
    return await _assign(f"key:{key_id}", request, services, admin)


async def _assign(
    subject: str, request: Request, services: Services, admin: KeyRecord
) -> dict[str, Any]:
    body = parse_body(await request.body(), Assignment)
    await ops.assign_plan(_billing(services), subject, body.plan_id)
    await _audit(services, request, admin, "plan.assigned", subject, plan_id=body.plan_id)
    status = await _billing(services).plans.status([subject])
    return {
        "object": "plan.assignment",
        "subject": subject,
        "plan_id": body.plan_id,
        "status": status[0] if status else None,
    }


@router.get("/audit", response_model=None, responses={200: _CSV})
async def audit_log(
    services: ServicesDep,
    _admin: AdminDep,
    action: Annotated[str | None, Query(max_length=64)] = None,
    actor_id: Annotated[str | None, Query(max_length=64)] = None,
    target: Annotated[str | None, Query(max_length=200)] = None,
    since: Annotated[int | None, Query(ge=0, le=MAX_UNIX)] = None,
    until: Annotated[int | None, Query(ge=0, le=MAX_UNIX)] = None,
    limit: Annotated[int, Query(ge=1, le=10_000)] = 100,
    offset: Annotated[int, Query(ge=0, le=10**9)] = 0,
    format: Literal["json", "csv"] = "json",
) -> dict[str, Any] | Response:
    """Newest first; `action` ending in `.` is a prefix (`key.`: every key event)."""
    where = AuditFilter(action, actor_id, target, since, until)
    events = await audit.search(services.database, where, limit=limit, offset=offset)
    if format == "csv":
        return _csv(audit.to_csv(events), "audit.csv")
    return {"object": "list", "data": events}


@owner_router.get("/v1/wallet")
async def own_wallet(services: ServicesDep, key: KeyDep) -> dict[str, Any]:
    """The caller's user's balance, and the plan windows the key counts against."""
    if key.user_id is None:
        raise NotFoundError("This key has no user, so no wallet.")
    await services.gateway.ledger.flush()
    billing = _billing(services)
    view = await ops.balance_view(billing, key.user_id)
    view["plans"] = await billing.plans.status([f"key:{key.id}", f"user:{key.user_id}"])
    view["wallet_enabled"] = billing.wallets.counter(key) is not None
    return view


class Redeem(BaseModel):
    model_config = ConfigDict(extra="forbid")

    code: str = Field(min_length=1, max_length=100)


@owner_router.post("/v1/wallet/redeem")
async def redeem_code(request: Request, services: ServicesDep, key: KeyDep) -> dict[str, Any]:
    """Top up the caller's user's balance with a code (each code works once, ever)."""
    body = parse_body(await request.body(), Redeem)
    if key.user_id is None:
        raise NotFoundError("This key has no user, so no wallet.")
    detail = {"via": "api", "key_id": key.id, "code_prefix": body.code.strip()[:7]}
    try:
        amount = await ops.redeem(_billing(services), body.code, key.user_id)
    except InvalidRequestError as refused:
        await audit.record(
            services.database,
            "wallet.redeem_failed",
            actor=key.user_id,
            ip=audit.client_ip(request),
            detail={**detail, "reason": refused.code},
        )
        raise
    await audit.record(
        services.database,
        "wallet.redeemed",
        actor=key.user_id,
        ip=audit.client_ip(request),
        target=f"user:{key.user_id}",
        detail={**detail, "amount_usd": usd(amount)},
    )
    return {"object": "wallet.redemption", "amount_usd": usd(amount)}


def _csv(text: str, filename: str, status: int = 200) -> Response:
    return Response(
        text,
        status_code=status,
        media_type="text/csv; charset=utf-8",
        headers={"content-disposition": f'attachment; filename="{filename}"'},
    )
