"""The gateway around the pipeline: who is calling, may they, and what it cost.

Built in the app's lifespan from the settings; the API layer asks it for an `Account`
per request and hands that to the pipeline as its `Admission`.
"""

from __future__ import annotations

import ipaddress
import logging
import time
from typing import TYPE_CHECKING

from thinkgate.backends.registry import ModelRegistry
from thinkgate.errors import AuthenticationError, PermissionDeniedError, ThinkgateError
from thinkgate.gateway.account import Account
from thinkgate.gateway.counters import Counters
from thinkgate.gateway.keys import KeyRing, mask_key
from thinkgate.gateway.ledger import LedgerWriter
from thinkgate.gateway.pricing import PriceTable, to_pico
from thinkgate.gateway.user_limits import UserBook, counter_user, user_budgets
from thinkgate.gateway.wallet import PREFIX as WALLET_PREFIX
from thinkgate.store.keys import KeyRecord
from thinkgate.store.ledger import LedgerRepository
from thinkgate.store.users import UserRecord

if TYPE_CHECKING:
    from thinkgate.gateway.billing import Billing
    from thinkgate.store.plans import PlanRecord

log = logging.getLogger(__name__)


class Gateway:
    def __init__(
        self,
        *,
        keys: KeyRing,
        ledger_repository: LedgerRepository,
        ledger: LedgerWriter,
        prices: PriceTable,
        counters: Counters,
        registry: ModelRegistry,
        users: UserBook,
        billing: Billing | None = None,
    ) -> None:
        self.keys = keys
        self.users = users
        self.ledger_repository = ledger_repository
        self.ledger = ledger
        self.prices = prices
        self.counters = counters
        self._registry = registry
        self.billing = billing  # wallets, plans, alerts (`gateway/billing.py`)

    async def authenticate(self, presented: str, client_ip: str | None) -> KeyRecord:
        key = await self.keys.authenticate(presented)
        if key is None:
            raise AuthenticationError(f"Incorrect API key provided: {mask_key(presented)}.")
        now = int(time.time())
        if key.expires_at is not None and key.expires_at <= now:
            raise AuthenticationError(
                f"The API key {mask_key(presented)} has expired.", code="expired_api_key"
            )
        if key.ip_allow is not None and not _ip_allowed(client_ip, key.ip_allow):
            raise PermissionDeniedError(
                "This API key cannot be used from your IP address.", code="ip_not_allowed"
            )
        self.ledger.touch(key.id, now)
        return key

    def account(self, key: KeyRecord, endpoint: str) -> Account:
        return Account(self, key, endpoint)

    async def owner(self, key: KeyRecord) -> UserRecord | None:
        """The key's user where an admin has limited that user (else None: nothing to check)."""
        if key.user_id is None:
            return None
        user = await self.users.get(key.user_id)
        return user if user is not None and user.limits.any else None

    def budget_counters(
        self, key: KeyRecord, user: UserRecord | None = None
    ) -> list[tuple[str, int]]:
        """(counter name, limit in picodollars) for each budget the key and its user have."""
        counters: list[tuple[str, int]] = []
        month = time.strftime("%Y-%m", time.gmtime())
        if key.budget_usd is not None:
            counters.append((f"{key.id}|total", to_pico(key.budget_usd)))
        if key.budget_monthly_usd is not None:
            counters.append((f"{key.id}|month|{month}", to_pico(key.budget_monthly_usd)))
        if user is not None:
            counters += user_budgets(user, month)
        wallet = self.billing.wallets.counter(key) if self.billing is not None else None
        if wallet is not None:
            counters.append(wallet)
        return counters

    async def plans(self, key: KeyRecord) -> list[tuple[str, PlanRecord]]:
        """The plans a request on this key counts against (its own, its user's)."""
        return await self.billing.plans.subjects(key) if self.billing is not None else []

    async def spent(self, counter: str) -> int:
        """A budget counter's starting value: the spend the ledger has recorded (a user's:
        of all the user's keys)."""
        subject, _, rest = counter.partition("|")
        await self.ledger.flush()
        if counter.startswith(WALLET_PREFIX) and self.billing is not None:
            return await self.billing.wallets.debt(counter)
        since = f"{rest.removeprefix('month|')}-01" if rest.startswith("month|") else None
        user_id = counter_user(subject)
        if user_id is not None:
            return await self.ledger_repository.user_spend_pico(user_id, since_day=since)
        return await self.ledger_repository.spend_pico(subject, since_day=since)

    def channel(self, model: str) -> str:
        try:
            info, _ = self._registry.resolve(model)
        except ThinkgateError:
            return "unknown"
        return f"{info.backend}:{info.id}"

    async def revoke(self, key_id: str) -> bool:
        """Refused on every replica once this returns (`KeyRing.revoke`)."""
        return await self.keys.revoke(key_id)

    async def aclose(self) -> None:
        await self.keys.aclose()
        if self.billing is not None:
            await self.billing.aclose()
        await self.ledger.aclose()
        await self.counters.aclose()


def _ip_allowed(client_ip: str | None, allowed: tuple[str, ...]) -> bool:
    if client_ip is None:
        return False
    try:
        address = ipaddress.ip_address(client_ip)
    except ValueError:
        return False
    return any(address in ipaddress.ip_network(net, strict=False) for net in allowed)
