"""Limits an admin sets on a user, which all of the user's keys draw from together.

A request is admitted only if its key's limits *and* its user's allow it (the stricter
wins): the model must be on both allow-lists, the request is counted in the key's RPM/TPM
window and in the user's (in both or in neither), and its worst case is reserved on the
key's budgets and the user's in one atomic step. A user's budget counters start from the
ledger's spend of every key the user has had, revoked ones included.

    Account.admit ──► UserBook.get(user) ──► RateWindow(key), RateWindow("user:…")
                                        └──► budgets "key_…|total", "user:…@rev|total", …

A key made in the console may not ask for more than its user is allowed (`beyond`); a key
made by an admin may (the user's limits still bind it), but its models must be among the
user's.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from decimal import Decimal
from typing import Protocol

from sqlalchemy.exc import SQLAlchemyError

from thinkgate.gateway.counters import RateWindow
from thinkgate.gateway.pricing import to_pico
from thinkgate.store.keys import KeyRecord
from thinkgate.store.users import UserLimits, UserRecord, UserRepository

log = logging.getLogger(__name__)

CACHE_S = 5.0  # how soon another replica's (or the CLI's) change of a user's limits applies
USER_PREFIX = "user:"


class Limited(Protocol):
    """A key's requested limits (`KeySpec`, `KeyRecord`) or a user's (`UserLimits`)."""

    @property
    def models(self) -> tuple[str, ...] | None: ...
    @property
    def budget_usd(self) -> Decimal | None: ...
    @property
    def budget_monthly_usd(self) -> Decimal | None: ...
    @property
    def rpm(self) -> int | None: ...
    @property
    def tpm(self) -> int | None: ...


class UserBook:
    """Users' limits as admission reads them: from memory, read again from the database once
    `ttl_s` has passed (a change made on another replica, or with the CLI, applies within
    that), at once for a change made here (`forget`). While the database cannot be read,
    the limits last read stay in force."""

    def __init__(
        self,
        users: UserRepository,
        ttl_s: float = CACHE_S,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._users = users
        self._ttl = ttl_s
        self._clock = clock
        self._cache: dict[str, tuple[float, UserRecord | None]] = {}
        self._loading: dict[str, asyncio.Future[UserRecord | None]] = {}
        self._generation: dict[str, int] = {}

    async def get(self, user_id: str) -> UserRecord | None:
        cached = self._cache.get(user_id)
        if cached is not None and cached[0] > self._clock():
            return cached[1]
        loading = self._loading.get(user_id)
        if loading is None:
            loading = asyncio.ensure_future(self._load(user_id, cached))
            self._loading[user_id] = loading
            loading.add_done_callback(lambda done: self._done(user_id, done))
        return await asyncio.shield(loading)  # one caller leaving does not stop the read

    def forget(self, user_id: str) -> None:
        """The user's limits changed here: read them again at the next request."""
        self._cache.pop(user_id, None)
        self._loading.pop(user_id, None)
        self._generation[user_id] = self._generation.get(user_id, 0) + 1

    async def _load(
        self, user_id: str, cached: tuple[float, UserRecord | None] | None
    ) -> UserRecord | None:
        generation = self._generation.get(user_id, 0)
        try:
            user = await self._users.get(user_id)
        except (SQLAlchemyError, OSError):
            if cached is None:
                raise
            log.warning("could not read user %s's limits; keeping the last ones", user_id)
            user = cached[1]
        if self._generation.get(user_id, 0) == generation:  # not changed while reading
            self._cache[user_id] = (self._clock() + self._ttl, user)
        return user

    def _done(self, user_id: str, done: asyncio.Future[UserRecord | None]) -> None:
        if self._loading.get(user_id) is done:
            del self._loading[user_id]
        if not done.cancelled():
            done.exception()  # retrieved: a failed read is the waiting callers' to raise


def user_window(user: UserRecord) -> RateWindow | None:
    """The user's RPM/TPM window, shared by all of the user's keys (None: no such limits)."""
    limits = user.limits
    if limits.rpm is None and limits.tpm is None:
        return None
    return RateWindow(USER_PREFIX + user.id, limits.rpm, limits.tpm)


def user_budgets(user: UserRecord, month: str) -> list[tuple[str, int]]:
    """(counter name, limit in picodollars) for each budget the user has. Named by the
    limits' revision: a budget removed and set again starts again from the ledger."""
    owner = f"{USER_PREFIX}{user.id}@{user.limits_rev}"
    counters: list[tuple[str, int]] = []
    if user.limits.budget_usd is not None:
        counters.append((f"{owner}|total", to_pico(user.limits.budget_usd)))
    if user.limits.budget_monthly_usd is not None:
        counters.append((f"{owner}|month|{month}", to_pico(user.limits.budget_monthly_usd)))
    return counters


def counter_user(subject: str) -> str | None:
    """The user id of a user's budget counter's subject (`user:ID@REV`), else None."""
    if not subject.startswith(USER_PREFIX):
        return None
    return subject.removeprefix(USER_PREFIX).rpartition("@")[0]


def model_allowed(model: str, key: KeyRecord, user: UserRecord | None) -> bool:
    if key.models is not None and model not in key.models:
        return False
    return user is None or user.limits.models is None or model in user.limits.models


def models_outside(models: tuple[str, ...] | None, limits: UserLimits) -> list[str]:
    """A key's models its user may not use (a key without a list is bound by the user's)."""
    if models is None or limits.models is None:
        return []
    return [model for model in models if model not in limits.models]


def beyond(key: Limited, limits: UserLimits) -> list[str]:
    """What of a key's limits goes past its user's, in words (empty: nothing). A limit the
    key leaves unset is not past the user's: the user's binds it anyway."""
    problems: list[str] = []
    outside = models_outside(key.models, limits)
    if outside:
        allowed = ", ".join(limits.models or ())
        problems.append(f"Not among your allowed models ({allowed}): {', '.join(outside)}.")
    money = (
        ("Budget", key.budget_usd, limits.budget_usd),
        ("Monthly budget", key.budget_monthly_usd, limits.budget_monthly_usd),
    )
    for label, asked, allowed_usd in money:
        if asked is not None and allowed_usd is not None and asked > allowed_usd:
            problems.append(f"{label} ${asked} is above your limit of ${allowed_usd:f}.")
    counts = (
        ("Requests per minute", key.rpm, limits.rpm),
        ("Tokens per minute", key.tpm, limits.tpm),
    )
    for label, wanted, cap in counts:
        if wanted is not None and cap is not None and wanted > cap:
            problems.append(f"{label} {wanted} is above your limit of {cap}.")
    return problems
