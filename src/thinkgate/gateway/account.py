"""One request's account with the gateway: admitted (limits, budget) before generation,
settled (cost, ledger) after, whatever the outcome. The key's limits and its user's both
apply (`gateway/user_limits.py`).

    Account.admit ──► model lists ──► RPM/TPM windows ──► budget reservation ──► Bill
    Bill.settle   ──► exact cost ──► counters to actual ──► ledger row

The account keeps what the API layer tells the client (the strictest rate window's state,
when to retry, the cost) and writes no HTTP itself: `api/gateway_headers.py` renders it.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, NamedTuple

from thinkgate.core.request import CanonicalRequest, ResponseDict
from thinkgate.errors import QuotaExceededError, RateLimitError, ThinkgateError, model_not_found
from thinkgate.gateway.counters import RateState, RateWindow, strictest
from thinkgate.gateway.plans import Hold
from thinkgate.gateway.user_limits import model_allowed, user_window
from thinkgate.gateway.wallet import PREFIX as WALLET_PREFIX
from thinkgate.protocol.hosted_costs import call_cap
from thinkgate.store.keys import KeyRecord
from thinkgate.store.ledger import LedgerEntry
from thinkgate.store.plans import PlanRecord
from thinkgate.store.users import UserRecord

if TYPE_CHECKING:
    from thinkgate.gateway.billing import Billing
    from thinkgate.gateway.ports import AccountPorts


@dataclass(slots=True)
class Account:
    gateway: AccountPorts
    key: KeyRecord
    endpoint: str
    cost_pico: int = 0
    billed: bool = False  # settled with a cost (the reply's cost header)
    rate: RateState | None = None  # the strictest of the request's rate windows
    retry_after_s: int | None = None  # refused (429): when a retry may pass
    started: float = field(default_factory=time.monotonic)
    model: str | None = None  # once admitted: the access log and /metrics label it

    @property
    def upstream_detail(self) -> bool:
        """Admins see which channel failed and what it said; members only the kind."""
        return self.key.is_admin

    async def admit(
        self, request: CanonicalRequest, input_tokens: int, max_output_tokens: int
    ) -> Bill:
        self.model = request.model
        user = await self.gateway.owner(self.key)  # None: the user has no limits
        if not model_allowed(request.model, self.key, user):
            raise model_not_found(request.model)
        windows: list[RateWindow] = []
        if self.key.rpm is not None or self.key.tpm is not None:  # no limits: no counting
            windows.append(RateWindow(self.key.id, self.key.rpm, self.key.tpm))
        shared = user_window(user) if user is not None else None
        if shared is not None:
            windows.append(shared)
        if windows:
            await self._count(windows, input_tokens + max_output_tokens)
        token_windows = [window.id for window in windows if window.tpm is not None]
        budgets = self.gateway.budget_counters(self.key, user)
        plans = await self.gateway.plans(self.key)
        reserved = 0
        if budgets or plans:
            reserved = self.gateway.prices.worst_case(
                request.model, input_tokens=input_tokens, max_output_tokens=max_output_tokens
            ) + self.gateway.prices.worst_tool_cost(
                request.context.hosted_price_keys, call_cap(request.max_tool_calls)
            )
        holds = await self._plan_holds(plans, input_tokens + max_output_tokens, reserved, windows)
        if budgets and not await self.gateway.counters.reserve(
            budgets, reserved, self.gateway.spent
        ):
            await self._refund(token_windows, input_tokens + max_output_tokens)
            if holds:
                await self._billing().plans.give_back(holds)
            wallet = any(name.startswith(WALLET_PREFIX) for name, _ in budgets)
            if wallet and self.gateway.billing is not None:  # its balance's 100% alert
                self.gateway.billing.alerts.touched(self.key, exhausted=True)
            raise QuotaExceededError(_quota_message(self.key, user, budgets))
        names = [name for name, _ in budgets]
        bill = Bill(self, request.model, reserved, names, max_output_tokens, token_windows)
        bill.plan_holds = holds
        return bill

    async def _plan_holds(
        self,
        plans: list[tuple[str, PlanRecord]],
        tokens: int,
        money: int,
        windows: list[RateWindow],
    ) -> list[Hold]:
        """The request taken from its plans' windows (refused: the token windows refunded)."""
        if not plans:
            return []
        try:
            return await self._billing().plans.admit(plans, tokens, money)
        except ThinkgateError as error:
            if isinstance(error, RateLimitError):
                self.retry_after_s = error.retry_after_s
            await self._refund([w.id for w in windows if w.tpm is not None], tokens)
            raise

    async def _refund(self, token_windows: list[str], tokens: int) -> None:
        for window in token_windows:
            await self.gateway.counters.refund_tokens(window, tokens)

    def _billing(self) -> Billing:
        assert self.gateway.billing is not None  # plans are found only through billing
        return self.gateway.billing

    async def _count(self, windows: list[RateWindow], tokens: int) -> None:
        """Count the request in its key's window and its user's, or refuse it (429)."""
        states = await self.gateway.counters.hit_all(windows, tokens)
        state = strictest(states)
        self.rate = state
        if state.allowed:
            return
        self.retry_after_s = state.retry_after_s
        window, refused = next(
            (w, s) for w, s in zip(windows, states, strict=True) if not s.allowed
        )
        whose = f"key {self.key.prefix}…" if window.id == self.key.id else "your user's keys"
        raise RateLimitError(
            _rate_message(whose, refused),
            code="rate_limit_exceeded",
            retry_after_s=state.retry_after_s,
        )

    def failed_early(
        self,
        request: CanonicalRequest,
        response_id: str,
        error: ThinkgateError,
        *,
        channel: str | None,
    ) -> None:
        """A request that failed before its first byte (upstreams exhausted: 502/503/504;
        an upstream's 4xx): a ledger row with nothing billed, its status `failed_<HTTP>`."""
        self.unbilled(request.model, response_id, f"failed_{error.status_code}", channel=channel)

    def unbilled(self, model: str, response_id: str, status: str, *, channel: str | None) -> None:
        """The ledger row of an attempt that generated nothing."""
        self.gateway.ledger.add(
            LedgerEntry(
                request_id=response_id,
                key_id=self.key.id,
                user_id=self.key.user_id,
                model=model,
                channel=channel or self.gateway.channel(model),
                endpoint=self.endpoint,
                input_tokens=0,
                cached_tokens=0,
                output_tokens=0,
                reasoning_tokens=0,
                cost_pico=0,
                status=status,
                latency_ms=int((time.monotonic() - self.started) * 1000),
                created_at=int(time.time()),
            )
        )


@dataclass(slots=True)
class Bill:
    account: Account
    model: str
    reserved: int
    budgets: list[str]
    max_output_tokens: int
    token_windows: list[str]  # the TPM windows it was counted in: unused output goes back
    plan_holds: list[Hold] = field(default_factory=list)  # what plan windows it took

    async def settle(
        self, response: ResponseDict, usage: dict[str, Any], *, channel: str | None = None
    ) -> None:
        """`channel`: the upstream channel that served (after failover), if one did."""
        priced = self._priced(usage, response)
        counters = self.account.gateway.counters
        if self.budgets:
            await counters.adjust(self.budgets, priced.cost - self.reserved, self.reserved)
        if priced.refund:
            for window in self.token_windows:
                await counters.refund_tokens(window, priced.refund)
        if self.plan_holds:
            tokens = priced.input_tokens + priced.output_tokens
            await self.account._billing().plans.settle(self.plan_holds, tokens, priced.cost)
        self._record(response, priced, channel)

    def settle_now(
        self, response: ResponseDict, usage: dict[str, Any], *, channel: str | None = None
    ) -> bool:
        """`settle` without waiting, where the counters allow (one replica's memory, or
        nothing to count): no task, no trip through the event loop. False: not settled."""
        if self.plan_holds:
            return False  # plan windows may be a round trip away
        priced = self._priced(usage, response)
        if self.budgets or priced.refund:
            counters = self.account.gateway.counters
            delta = priced.cost - self.reserved
            if not counters.settle_now(self.budgets, delta, self.token_windows, priced.refund):
                return False
        self._record(response, priced, channel)
        return True

    async def withdraw(
        self,
        response_id: str,
        error: ThinkgateError | None,
        *,
        channel: str | None,
    ) -> None:
        """Nothing was generated (the upstream failed before answering, or the request was
        cancelled while it was silent): the reservations go back, nothing is billed."""
        counters = self.account.gateway.counters
        if self.budgets:
            await counters.adjust(self.budgets, -self.reserved, self.reserved)
        for window in self.token_windows:  # the output reserved in the token windows
            await counters.refund_tokens(window, self.max_output_tokens)
        if self.plan_holds:
            await self.account._billing().plans.give_back(self.plan_holds)
        status = "cancelled" if error is None else f"failed_{error.status_code}"
        self.account.unbilled(self.model, response_id, status, channel=channel)

    def _priced(self, usage: dict[str, Any], response: ResponseDict) -> _Priced:
        """Tokens at the model's prices, plus each completed hosted tool call's price."""
        input_tokens = int(usage.get("input_tokens") or 0)
        cached = int((usage.get("input_tokens_details") or {}).get("cached_tokens") or 0)
        output = int(usage.get("output_tokens") or 0)
        reasoning = int((usage.get("output_tokens_details") or {}).get("reasoning_tokens") or 0)
        prices = self.account.gateway.prices
        cost = prices.cost(
            self.model, input_tokens=input_tokens, cached_tokens=cached, output_tokens=output
        )
        tool_calls, tool_cost = prices.tool_calls(response.get("output") or ())
        unused = max(0, self.max_output_tokens - output)  # reserved in the token window
        refund = unused if self.token_windows else 0
        return _Priced(
            input_tokens, cached, output, reasoning, cost + tool_cost, refund, tool_calls, tool_cost
        )

    def _record(self, response: ResponseDict, priced: _Priced, channel: str | None) -> None:
        """The cost header and the ledger row, once the counters are settled."""
        gateway, key = self.account.gateway, self.account.key
        if gateway.billing is not None:
            gateway.billing.alerts.touched(key)  # a set insert: checked off the request path
        self.account.cost_pico += priced.cost
        self.account.billed = True
        gateway.ledger.add(
            LedgerEntry(
                request_id=str(response.get("id", "")),
                key_id=key.id,
                user_id=key.user_id,
                model=self.model,
                channel=channel or gateway.channel(self.model),
                endpoint=self.account.endpoint,
                input_tokens=priced.input_tokens,
                cached_tokens=priced.cached_tokens,
                output_tokens=priced.output_tokens,
                reasoning_tokens=priced.reasoning_tokens,
                cost_pico=priced.cost,
                tool_calls=priced.tool_calls,
                tool_cost_pico=priced.tool_cost,
                status=str(response.get("status") or "failed"),
                latency_ms=int((time.monotonic() - self.account.started) * 1000),
                created_at=int(time.time()),
            )
        )


class _Priced(NamedTuple):
    input_tokens: int
    cached_tokens: int
    output_tokens: int
    reasoning_tokens: int
    cost: int  # picodollars
    refund: int  # reserved output tokens not used, back to the token windows
    tool_calls: int = 0  # completed hosted tool calls (web search…)
    tool_cost: int = 0  # their part of `cost`


def _rate_message(whose: str, state: RateState) -> str:
    return (
        f"Rate limit reached for {whose} (limit {state.limit_requests} requests "
        f"and {state.limit_tokens} tokens per minute). Please try again in "
        f"{state.retry_after_s}s."
    )


def _quota_message(key: KeyRecord, user: UserRecord | None, counters: list[tuple[str, int]]) -> str:
    if any(name.startswith(WALLET_PREFIX) for name, _ in counters):
        return (
            "You exceeded your current quota: your balance cannot cover this request's "
            "worst-case cost (or a budget is reached). Top up with a redemption code in the "
            "console, or lower max_output_tokens."
        )
    own = key.budget_usd is not None or key.budget_monthly_usd is not None
    limits = user.limits if user is not None else None
    shared = limits is not None and (
        limits.budget_usd is not None or limits.budget_monthly_usd is not None
    )
    whose = "this key's budget"
    if shared:
        whose = "this key's budget or its user's" if own else "the budget of this key's user"
    return (
        f"You exceeded your current quota: {whose} cannot cover this request's worst-case "
        "cost. Raise the budget or lower max_output_tokens."
    )
