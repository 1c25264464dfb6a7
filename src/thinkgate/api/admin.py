"""The admin API under /admin/v1: users and their limits, keys, the request ledger and usage
(admin keys only).

Thin handlers over `gateway.admin.Admin`, which the CLI uses too. Money is a decimal
string in USD, in and out.
"""

from __future__ import annotations

import ipaddress
from decimal import Decimal
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel, ConfigDict, Field, field_validator

from thinkgate.api.deps import AdminDep, KeyDep, Services, ServicesDep
from thinkgate.errors import InvalidRequestError
from thinkgate.gateway import audit
from thinkgate.gateway.admin import KeySpec
from thinkgate.protocol import parse_body
from thinkgate.store.keys import KeyRecord
from thinkgate.store.users import UserLimits

router = APIRouter(prefix="/admin/v1", tags=["admin"])
owner_router = APIRouter(tags=["usage"])

Money = Annotated[Decimal, Field(ge=0, max_digits=18, decimal_places=6)]


class UserLimitFields(BaseModel):
    """Limits for all of a user's keys together (each key's own limits apply as well)."""

    model_config = ConfigDict(extra="forbid")

    models: list[str] | None = None
    budget_usd: Money | None = None
    budget_monthly_usd: Money | None = None
    rpm: int | None = Field(default=None, ge=1)
    tpm: int | None = Field(default=None, ge=1)

    def limit_values(self, names: set[str]) -> dict[str, Any]:
        values = {name: getattr(self, name) for name in names & set(UserLimitFields.model_fields)}
        if values.get("models") is not None:
            values["models"] = tuple(values["models"])
        return values


class CreateUser(UserLimitFields):
    name: str = Field(min_length=1, max_length=200)
    role: Literal["admin", "member"] = "member"
    password: str | None = Field(default=None, min_length=8, max_length=200)

    def limits(self) -> UserLimits:
        return UserLimits(**self.limit_values(set(UserLimitFields.model_fields)))


class UpdateUser(UserLimitFields):
    """Only the limits given change; `null` removes that limit."""


class CreateKey(BaseModel):
    """Every limit is optional. The owner is explicit: `user_id` names the user (its role is
    the key's role), or `"role": "admin"` alone makes a key of the calling admin's user."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=200)
    user_id: str | None = None
    role: Literal["admin", "member"] | None = Field(
        default=None, description="The key's role: checked against the user's role."
    )
    models: list[str] | None = None
    budget_usd: Money | None = None
    budget_monthly_usd: Money | None = None
    rpm: int | None = Field(default=None, ge=1)
    tpm: int | None = Field(default=None, ge=1)
    expires_at: int | None = Field(default=None, ge=0, description="Unix seconds")
    ip_allow: list[str] | None = Field(default=None, description="IP addresses or CIDR ranges")

    @field_validator("ip_allow")
    @classmethod
    def _networks(cls, value: list[str] | None) -> list[str] | None:
        for network in value or []:
            ipaddress.ip_network(network, strict=False)  # ValueError: a 400 naming the field
        return value

    def owner(self, caller: KeyRecord) -> str | None:
        """The user a key without `user_id` is for: the caller's, when asked for explicitly."""
        if self.user_id is not None:
            return None
        if self.role != "admin":
            raise InvalidRequestError(
                "Say whose key this is: `user_id` names its owner (a member key needs one), "
                'or `"role": "admin"` without `user_id` makes an admin key of your own.',
                param="user_id",
                code="missing_required_parameter",
            )
        return caller.user_id

    def spec(self) -> KeySpec:
        return KeySpec(
            name=self.name,
            user_id=self.user_id,
            role=self.role,
            models=tuple(self.models) if self.models is not None else None,
            budget_usd=self.budget_usd,
            budget_monthly_usd=self.budget_monthly_usd,
            rpm=self.rpm,
            tpm=self.tpm,
            expires_at=self.expires_at,
            ip_allow=tuple(self.ip_allow) if self.ip_allow is not None else None,
        )


@router.post("/users", status_code=201)
async def create_user(request: Request, services: ServicesDep, admin: AdminDep) -> dict[str, Any]:
    body = parse_body(await request.body(), CreateUser)  # read after the key is checked
    user = await services.admin.create_user(body.name, body.role, body.password, body.limits())
    await admin_audit(
        services, request, admin, "user.created", user["id"], name=body.name, role=body.role
    )
    return user


@router.get("/users")
async def list_users(services: ServicesDep, _admin: AdminDep) -> dict[str, Any]:
    return {"object": "list", "data": await services.admin.list_users()}


@router.get("/users/{user_id}")
async def show_user(user_id: str, services: ServicesDep, _admin: AdminDep) -> dict[str, Any]:
    """The user, their limits, and what all their keys have spent."""
    await services.gateway.ledger.flush()
    return await services.admin.show_user(user_id)


@router.patch("/users/{user_id}")
async def update_user(
    user_id: str, request: Request, services: ServicesDep, admin: AdminDep
) -> dict[str, Any]:
    """Set limits that all of the user's keys draw from; a field left out stays as it is."""
    body = parse_body(await request.body(), UpdateUser)
    await services.gateway.ledger.flush()
    changes = body.limit_values(body.model_fields_set)
    updated = await services.admin.update_user_limits(user_id, changes)
    services.gateway.users.forget(user_id)  # here at once; other replicas within seconds
    shown = {k: str(v) if v is not None else None for k, v in changes.items()}
    await admin_audit(services, request, admin, "user.limits_changed", user_id, **shown)
    return updated


@router.post("/keys", status_code=201)
async def create_key(request: Request, services: ServicesDep, admin: AdminDep) -> dict[str, Any]:
    """The response's `key` is the only time the secret is shown."""
    body = parse_body(await request.body(), CreateKey)
    created = await services.admin.create_key(body.spec(), default_user=body.owner(admin))
    await admin_audit(
        services,
        request,
        admin,
        "key.created",
        created["id"],
        name=body.name,
        user_id=created["user_id"],
        prefix=created["prefix"],
    )
    return created


@router.get("/keys")
async def list_keys(
    services: ServicesDep, _admin: AdminDep, user_id: str | None = None
) -> dict[str, Any]:
    await services.gateway.ledger.flush()
    return {"object": "list", "data": await services.admin.list_keys(user_id)}


@router.get("/keys/{key_id}")
async def show_key(key_id: str, services: ServicesDep, _admin: AdminDep) -> dict[str, Any]:
    await services.gateway.ledger.flush()
    return await services.admin.show_key(key_id)


@router.delete("/keys/{key_id}")
async def revoke_key(
    key_id: str, request: Request, services: ServicesDep, admin: AdminDep
) -> dict[str, Any]:
    """Effective at once here, and on other replicas through Redis."""
    await services.admin.show_key(key_id)  # 404 for an unknown id
    await services.gateway.revoke(key_id)
    await admin_audit(services, request, admin, "key.revoked", key_id)
    return {"id": key_id, "object": "api_key", "deleted": True, "revoked": True}


@router.get("/requests")
async def list_requests(
    services: ServicesDep,
    _admin: AdminDep,
    key_id: str | None = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> dict[str, Any]:
    """Ledger rows, newest first."""
    await services.gateway.ledger.flush()
    return {"object": "list", "data": await services.admin.requests(key_id, limit)}


@router.get("/usage")
async def usage(
    services: ServicesDep,
    _admin: AdminDep,
    group_by: Literal["day", "model", "key"] = "day",
    key_id: str | None = None,
) -> dict[str, Any]:
    """Totals from the daily roll-up (tokens, requests, `cost_usd`)."""
    await services.gateway.ledger.flush()
    rows = await services.admin.usage(group_by, key_id)
    return {"object": "list", "group_by": group_by, "data": rows}


async def admin_audit(
    services: Services, request: Request, admin: KeyRecord, action: str, target: str, **detail: Any
) -> None:
    """The audit log's entry for an admin API call: the admin's user, key and address."""
    await audit.record(
        services.database,
        action,
        actor=admin.user_id,
        ip=audit.client_ip(request),
        target=target,
        detail={"via": "api", "key_id": admin.id, **detail},
    )


@owner_router.get("/v1/usage")
async def own_usage(
    services: ServicesDep,
    key: KeyDep,
    group_by: Literal["day", "model", "key"] = "day",
) -> dict[str, Any]:
    """A key owner's own usage: every key of the caller's user (or this key alone)."""
    await services.gateway.ledger.flush()
    if key.user_id is None:
        rows = await services.admin.usage(group_by, key_id=key.id)
    else:
        rows = await services.admin.usage(group_by, user_id=key.user_id)
    return {"object": "list", "group_by": group_by, "data": rows}
