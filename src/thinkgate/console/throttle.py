"""Sign-in throttling, per account and per client address, on the gateway's own sliding-
window counters (in-process, or shared through Redis across replicas).

Every attempt counts, successful or not: a form that allows a handful of tries a minute
costs a person nothing and a password guesser nearly everything.
"""

from __future__ import annotations

from dataclasses import dataclass

from thinkgate.gateway.counters import Counters

PER_ACCOUNT_PER_MINUTE = 5
PER_ADDRESS_PER_MINUTE = 30


@dataclass(slots=True, frozen=True)
class Verdict:
    allowed: bool
    retry_after_s: int


class LoginThrottle:
    def __init__(
        self,
        counters: Counters,
        per_account: int = PER_ACCOUNT_PER_MINUTE,
        per_address: int = PER_ADDRESS_PER_MINUTE,
    ) -> None:
        self._counters = counters
        self._per_account = per_account
        self._per_address = per_address

    async def attempt(self, login: str, address: str | None) -> Verdict:
        account = await self._counters.hit(
            f"console-login|account|{login.strip().lower()}", self._per_account, None, 0
        )
        client = await self._counters.hit(
            f"console-login|address|{address or 'unknown'}", self._per_address, None, 0
        )
        retry = max(account.retry_after_s, client.retry_after_s, 1)
        return Verdict(account.allowed and client.allowed, retry)
