"""Sign-in throttling, per account and per client address, on the gateway's own sliding-
window counters (in-process, or shared through Redis across replicas).

Every attempt counts, successful or not: a form that allows a handful of tries a minute
costs a person nothing and a password guesser nearly everything.

An account is counted by the user it resolves to, so its name and its id share one
allowance; a login that names nobody is counted by its text, throttled just the same, so
the answers do not tell who exists. The address is the TCP peer's, or the one a trusted
proxy reports (`trusted_proxies`), never a header a client chose.
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

    async def attempt(self, user_id: str | None, login: str, address: str | None) -> Verdict:
        """One sign-in attempt as `login`, which names the user `user_id` (None: nobody)."""
        account_key = f"user|{user_id}" if user_id is not None else f"login|{login.strip().lower()}"
        account = await self._counters.hit(
            f"console-login|account|{account_key}", self._per_account, None, 0
        )
        client = await self._counters.hit(
            f"console-login|address|{address or 'unknown'}", self._per_address, None, 0
        )
        retry = max(account.retry_after_s, client.retry_after_s, 1)
        return Verdict(account.allowed and client.allowed, retry)
