"""Prepaid balances: a user's requests drawn from their wallet, never below zero.

The wallet is one more budget counter, `wallet:USER`, in the same store as the budgets
(in-process, or Redis across replicas) and reserved in the same atomic step: it holds
`spend + reservations − credits` and its limit is 0, so a request is admitted only while
its worst case fits in what is left. A credit (a redeemed code, an admin's adjustment) is
written to the database first, then lowers the counter; a counter not seeded yet is seeded
from the database (credits − the ledger's spend since the wallet began).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from thinkgate.config_billing import WalletConfig
from thinkgate.gateway.counters import Counters
from thinkgate.store.keys import KeyRecord
from thinkgate.store.wallet import Balance, Redeemed, WalletRepository

log = logging.getLogger(__name__)

PREFIX = "wallet:"

REFUSALS = {
    "unknown": "This code does not exist. Check it and try again.",
    "used": "This code has already been redeemed.",
    "revoked": "This code has been revoked.",
    "expired": "This code has expired.",
}


@dataclass(slots=True)
class Wallets:
    repository: WalletRepository
    config: WalletConfig
    counters: Counters

    def counter(self, key: KeyRecord) -> tuple[str, int] | None:
        """The key's user's wallet counter, if wallets bind this key (else None)."""
        if not self.config.enabled or key.user_id is None:
            return None
        if self.config.exempt_admins and key.is_admin:
            return None
        return (PREFIX + key.user_id, 0)

    async def debt(self, counter: str) -> int:
        """A wallet counter's seed: minus the balance the database shows."""
        balance = await self.repository.balance(counter.removeprefix(PREFIX))
        return -balance.balance_pico

    async def balance(self, user_id: str) -> Balance:
        return await self.repository.balance(user_id)

    async def redeem(self, code: str, user_id: str) -> Redeemed:
        redeemed = await self.repository.redeem(code, user_id)
        if redeemed.amount_pico is not None:
            await self._credited(user_id, redeemed.amount_pico)
        return redeemed

    async def adjust(self, user_id: str, amount_pico: int, *, reason: str, actor: str) -> None:
        await self.repository.adjust(user_id, amount_pico, reason=reason, actor=actor)
        await self._credited(user_id, amount_pico)

    async def _credited(self, user_id: str, amount_pico: int) -> None:
        """A seeded counter learns of the credit; an unseeded one reads it when seeded.
        Shared counters out of reach: the credit is stored, the counter learns it when it
        is next seeded (until then the wallet admits less, never more)."""
        try:
            await self.counters.adjust([PREFIX + user_id], -amount_pico)
        except Exception:
            log.warning("wallet %s: credit stored, counter not updated (Redis?)", user_id)
