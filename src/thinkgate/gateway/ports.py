"""What an `Account` needs of the gateway, and no more: the `Gateway` provides it, and the
account never imports the service that makes it (no cycle; a test can hand in its own)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from thinkgate.gateway.billing import Billing
    from thinkgate.gateway.counters import Counters
    from thinkgate.gateway.ledger import LedgerWriter
    from thinkgate.gateway.pricing import PriceTable
    from thinkgate.store.keys import KeyRecord
    from thinkgate.store.plans import PlanRecord
    from thinkgate.store.users import UserRecord


class AccountPorts(Protocol):
    """Prices, counters and the ledger; the key's user, budgets and plans."""

    prices: PriceTable
    counters: Counters
    ledger: LedgerWriter
    billing: Billing | None

    async def owner(self, key: KeyRecord) -> UserRecord | None: ...

    def budget_counters(
        self, key: KeyRecord, user: UserRecord | None = None
    ) -> list[tuple[str, int]]: ...

    async def plans(self, key: KeyRecord) -> list[tuple[str, PlanRecord]]: ...

    async def spent(self, counter: str) -> int: ...

    def channel(self, model: str) -> str: ...
