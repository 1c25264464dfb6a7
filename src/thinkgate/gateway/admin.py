"""What an administrator can do: users, keys, the ledger and usage, as JSON-ready dicts.

Shared by the admin API and the CLI (which opens the database of a data dir directly), so
both say the same thing. Money leaves here as decimal strings in USD.
"""

from __future__ import annotations

import asyncio
import secrets
import time
from collections.abc import Mapping
from dataclasses import dataclass, replace
from decimal import Decimal
from typing import Any

from thinkgate.errors import InvalidRequestError, NotFoundError
from thinkgate.gateway.keys import KeyRing, new_key_id
from thinkgate.gateway.passwords import hash_password, needs_rehash, verify_password
from thinkgate.gateway.pricing import usd
from thinkgate.gateway.user_limits import beyond, models_outside
from thinkgate.store.keys import KeyRecord, KeyRepository
from thinkgate.store.ledger import GroupBy, LedgerEntry, LedgerFilter, LedgerRepository
from thinkgate.store.users import NO_LIMITS, UserLimits, UserRecord, UserRepository

BOOTSTRAP_USER = "usr_admin"


@dataclass(slots=True, frozen=True)
class KeySpec:
    name: str
    user_id: str | None = None
    role: str | None = None  # the role the caller means the key to have (None: the user's)
    models: tuple[str, ...] | None = None
    budget_usd: Decimal | None = None
    budget_monthly_usd: Decimal | None = None
    rpm: int | None = None
    tpm: int | None = None
    expires_at: int | None = None
    ip_allow: tuple[str, ...] | None = None


class Admin:
    def __init__(
        self,
        keys: KeyRing,
        key_repository: KeyRepository,
        users: UserRepository,
        ledger: LedgerRepository,
    ) -> None:
        self._keys = keys
        self._key_repository = key_repository
        self._users = users
        self._ledger = ledger

    async def create_user(
        self, name: str, role: str, password: str | None, limits: UserLimits = NO_LIMITS
    ) -> dict[str, Any]:
        user = UserRecord(
            id="usr_" + secrets.token_hex(12),
            name=name,
            role=role,
            created_at=int(time.time()),
            limits=limits,
        )
        password_hash = await asyncio.to_thread(hash_password, password) if password else None
        await self._users.add(user, password_hash)
        return user_view(user)

    async def show_user(self, user_id: str) -> dict[str, Any]:
        """The user, their limits, and what all their keys have spent (total, this month)."""
        user = await self._users.get(user_id)
        if user is None:
            raise NotFoundError(f"No user found with id '{user_id}'.", param="user_id")
        month = time.strftime("%Y-%m-01", time.gmtime())
        total = await self._ledger.user_spend_pico(user_id)
        monthly = await self._ledger.user_spend_pico(user_id, since_day=month)
        return {**user_view(user), "spend_usd": usd(total), "spend_monthly_usd": usd(monthly)}

    async def update_user_limits(self, user_id: str, changes: Mapping[str, Any]) -> dict[str, Any]:
        """Change some of a user's limits (a field given as None: no limit); the rest stay.
        Running servers apply it within `user_limits.CACHE_S` (the one changed through: at
        once, by forgetting the user in its `UserBook`)."""
        user = await self._users.get(user_id)
        if user is None:
            raise NotFoundError(f"No user found with id '{user_id}'.", param="user_id")
        old, new = user.limits, replace(user.limits, **changes)
        started = (old.budget_usd is None and new.budget_usd is not None) or (
            old.budget_monthly_usd is None and new.budget_monthly_usd is not None
        )
        await self._users.set_limits(user_id, new, new_rev=started)
        return await self.show_user(user_id)

    async def list_users(self) -> list[dict[str, Any]]:
        return [user_view(user) for user in await self._users.listing()]

    async def set_password(self, user_id: str, password: str) -> None:
        """A new password, which signs the user out of every console session."""
        password_hash = await asyncio.to_thread(hash_password, password)
        if not await self._users.set_password_hash(user_id, password_hash):
            raise NotFoundError(f"No user found with id '{user_id}'.", param="user_id")

    async def ensure_password(self, user_id: str, password: str) -> bool:
        """Set the password unless it is the one already stored (THINKGATE_ADMIN_PASSWORD,
        applied at every start: an unchanged one keeps the sessions); True: it changed."""
        found = await self._users.by_login(user_id)
        stored = found[1] if found is not None and found[0].id == user_id else None
        if stored is not None and await asyncio.to_thread(verify_password, stored, password):
            if needs_rehash(stored):
                new_hash = await asyncio.to_thread(hash_password, password)
                await self._users.set_password_hash(user_id, new_hash, sign_out=False)
            return False
        await self.set_password(user_id, password)
        return True

    async def login_user_id(self, login: str) -> str | None:
        """The id of the user a sign-in names (by id, or by a name no other user has)."""
        found = await self._users.by_login(login)
        return found[0].id if found is not None else None

    async def check_password(self, login: str, password: str) -> UserRecord | None:
        """The user whose id (or unique name) and password these are, else None."""
        found = await self._users.by_login(login)
        stored = found[1] if found is not None else None
        # argon2 takes tens of milliseconds of CPU: off the event loop
        if not await asyncio.to_thread(verify_password, stored, password) or found is None:
            return None
        if stored is not None and needs_rehash(stored):
            new_hash = await asyncio.to_thread(hash_password, password)
            await self._users.set_password_hash(found[0].id, new_hash, sign_out=False)
        return found[0]

    async def user(self, user_id: str) -> UserRecord | None:
        return await self._users.get(user_id)

    async def ensure_bootstrap_admin(self) -> str:
        if await self._users.get(BOOTSTRAP_USER) is None:
            await self._users.add(
                UserRecord(BOOTSTRAP_USER, "admin", "admin", created_at=int(time.time()))
            )
        return BOOTSTRAP_USER

    async def create_key(
        self,
        spec: KeySpec,
        *,
        default_user: str | None,
        key: str | None = None,
        within_user_limits: bool = False,
    ) -> dict[str, Any]:
        """`within_user_limits`: refuse limits past the user's (a member's own token, made in
        the console). Either way the key's models must be among the user's, and every
        request on the key is held to the user's limits too."""
        user_id = spec.user_id or default_user
        user = await self._users.get(user_id) if user_id else None
        if user is None:
            raise InvalidRequestError(
                f"No user found with id '{user_id}'.", param="user_id", code="not_found"
            )
        if spec.role is not None and spec.role != user.role:
            raise InvalidRequestError(
                f"User '{user.id}' is {'an' if user.role == 'admin' else 'a'} {user.role}: "
                f"its keys are {user.role} keys, not {spec.role} keys.",
                param="role",
                code="invalid_value",
            )
        problems = beyond(spec, user.limits) if within_user_limits else []
        if problems:
            raise InvalidRequestError(" ".join(problems), code="invalid_value")
        outside = models_outside(spec.models, user.limits)
        if outside:
            raise InvalidRequestError(
                f"User '{user.id}' may not use {', '.join(outside)}: a key's models must be "
                f"among its user's ({', '.join(user.limits.models or ())}).",
                param="models",
                code="invalid_value",
            )
        template = KeyRecord(
            id=new_key_id(),
            name=spec.name,
            key_hash="",
            prefix="",
            user_id=user.id,
            role=user.role,
            created_at=int(time.time()),
            expires_at=spec.expires_at,
            models=spec.models,
            budget_usd=spec.budget_usd,
            budget_monthly_usd=spec.budget_monthly_usd,
            rpm=spec.rpm,
            tpm=spec.tpm,
            ip_allow=spec.ip_allow,
        )
        secret, record = await self._keys.create(template, key=key)
        return {**key_view(record, 0), "key": secret}

    async def list_keys(self, user_id: str | None = None) -> list[dict[str, Any]]:
        spend = {row["key"]: row["cost_pico"] for row in await self._ledger.usage("key")}
        records = await self._key_repository.listing(user_id)
        return [key_view(record, spend.get(record.id, 0)) for record in records]

    async def show_key(self, key_id: str) -> dict[str, Any]:
        record = await self._key_repository.get(key_id)
        if record is None:
            raise NotFoundError(f"No API key found with id '{key_id}'.", param="key_id")
        return key_view(record, await self._ledger.spend_pico(key_id))

    async def revoke_key(self, key_id: str) -> bool:
        """Refused on every replica once this returns (`KeyRing.revoke`)."""
        return await self._keys.revoke(key_id)

    async def requests(self, key_id: str | None, limit: int) -> list[dict[str, Any]]:
        return [
            ledger_view(entry) for entry in await self._ledger.requests(key_id=key_id, limit=limit)
        ]

    async def search_requests(
        self, where: LedgerFilter, *, limit: int, offset: int = 0
    ) -> list[dict[str, Any]]:
        entries = await self._ledger.search(where, limit=limit, offset=offset)
        return [ledger_view(entry) for entry in entries]

    async def service_key(self, user_id: str, name: str) -> KeyRecord:
        """A key of the user's whose secret nobody ever sees, for callers inside this
        process (the console playground): their requests are billed like any other."""
        for record in await self._key_repository.listing(user_id):
            if record.name == name and record.revoked_at is None:
                return record
        created = await self.create_key(KeySpec(name=name, user_id=user_id), default_user=None)
        stored = await self._key_repository.get(created["id"])
        assert stored is not None
        return stored

    async def usage(
        self, group_by: GroupBy, key_id: str | None = None, user_id: str | None = None
    ) -> list[dict[str, Any]]:
        rows = await self._ledger.usage(group_by, key_id=key_id, user_id=user_id)
        return [_money_row(row) for row in rows]


def user_view(user: UserRecord) -> dict[str, Any]:
    limits = user.limits
    return {
        "id": user.id,
        "object": "user",
        "name": user.name,
        "role": user.role,
        "created_at": user.created_at,
        "models": list(limits.models) if limits.models is not None else None,
        "budget_usd": _money(limits.budget_usd),
        "budget_monthly_usd": _money(limits.budget_monthly_usd),
        "rpm": limits.rpm,
        "tpm": limits.tpm,
    }


def key_view(record: KeyRecord, spend_pico: int) -> dict[str, Any]:
    return {
        "id": record.id,
        "object": "api_key",
        "name": record.name,
        "prefix": record.prefix,
        "user_id": record.user_id,
        "role": record.role,
        "created_at": record.created_at,
        "last_used_at": record.last_used_at,
        "expires_at": record.expires_at,
        "revoked_at": record.revoked_at,
        "models": list(record.models) if record.models is not None else None,
        "budget_usd": _money(record.budget_usd),
        "budget_monthly_usd": _money(record.budget_monthly_usd),
        "rpm": record.rpm,
        "tpm": record.tpm,
        "ip_allow": list(record.ip_allow) if record.ip_allow is not None else None,
        "spend_usd": usd(spend_pico),
    }


def ledger_view(entry: LedgerEntry) -> dict[str, Any]:
    return {
        "object": "ledger.request",
        "request_id": entry.request_id,
        "key_id": entry.key_id,
        "user_id": entry.user_id,
        "model": entry.model,
        "channel": entry.channel,
        "endpoint": entry.endpoint,
        "input_tokens": entry.input_tokens,
        "cached_tokens": entry.cached_tokens,
        "output_tokens": entry.output_tokens,
        "reasoning_tokens": entry.reasoning_tokens,
        "cost_usd": usd(entry.cost_pico),
        "tool_calls": entry.tool_calls,
        "tool_cost_usd": usd(entry.tool_cost_pico),
        "status": entry.status,
        "latency_ms": entry.latency_ms,
        "created_at": entry.created_at,
    }


def _money_row(row: dict[str, Any]) -> dict[str, Any]:
    cost, tools = row.pop("cost_pico"), row.pop("tool_cost_pico", 0)
    return {**row, "cost_usd": usd(cost), "tool_cost_usd": usd(tools)}


def _money(value: Decimal | None) -> str | None:
    return None if value is None else f"{value:f}"
