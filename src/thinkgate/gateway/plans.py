"""Plans: rolling-window limits on requests, tokens and money per 5 hours, week or month,
for a user (all their keys together) or one key — "coding plans" as resellers sell them.

    Account.admit ──► Plans.admit(key) ──► windows of "key:ID" and "user:ID" ──► Hold
    Bill.settle   ──► Plans.settle(hold, actual tokens, actual cost)

Money is reserved at its worst case like a budget and corrected when the request settles.
Who is on which plan is read from the database at most every `CACHE_S` (a change made
through this replica: at once). Time is `gateway.clock` (a test may move it).
"""

from __future__ import annotations

import contextlib
import math
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

from redis.exceptions import RedisError

from thinkgate.errors import RateLimitError, ServiceUnavailableError
from thinkgate.gateway.clock import Clock
from thinkgate.gateway.plan_windows import Limits, Used, WindowStore
from thinkgate.gateway.pricing import to_pico, usd
from thinkgate.store.keys import KeyRecord
from thinkgate.store.plans import PlanRecord, PlanRepository

CACHE_S = 5.0
PERIODS = {"5h": 5 * 3600, "day": 86400, "week": 7 * 86400, "month": 30 * 86400}
PERIOD_WORDS = {"5h": "5 hours", "day": "day", "week": "week", "month": "30 days"}
WINDOW_WORDS = {"5h": "5-hour", "day": "daily", "week": "weekly", "month": "30-day"}


def parse_windows(raw: Any) -> list[dict[str, Any]]:
    """A plan's windows as the API and console send them, checked; ValueError says what is
    wrong. Each: `period` (5h, day, week, month) and at least one of `requests`, `tokens`
    (whole numbers from 1) and `usd` (a decimal string, at most 6 decimals)."""
    if not isinstance(raw, list) or not 1 <= len(raw) <= len(PERIODS):
        raise ValueError(f"A plan has 1 to {len(PERIODS)} windows.")
    out: list[dict[str, Any]] = []
    for window in raw:
        if not isinstance(window, Mapping) or set(window) - {"period", "requests", "tokens", "usd"}:
            raise ValueError("A window is {period, requests?, tokens?, usd?}.")
        period = window.get("period")
        if not isinstance(period, str) or period not in PERIODS:
            raise ValueError(f"A window's period is one of {', '.join(PERIODS)}.")
        if any(w["period"] == period for w in out):
            raise ValueError(f"Two windows of {period}.")
        clean: dict[str, Any] = {"period": period, "requests": None, "tokens": None, "usd": None}
        for name in ("requests", "tokens"):
            value = window.get(name)
            if value is not None:
                if (
                    isinstance(value, bool)
                    or not isinstance(value, int)
                    or not 1 <= value <= 10**12
                ):
                    raise ValueError(f"{name} is a whole number from 1.")
                clean[name] = value
        if window.get("usd") is not None:
            clean["usd"] = _money(window["usd"])
        if clean["requests"] is None and clean["tokens"] is None and clean["usd"] is None:
            raise ValueError(f"The {period} window limits nothing: give requests, tokens or usd.")
        out.append(clean)
    return out


def _money(value: Any) -> str:
    try:
        amount = Decimal(str(value))
    except InvalidOperation:
        raise ValueError('usd is an amount such as "2.50".') from None
    if not amount.is_finite() or not 0 < amount <= 10**6 or int(amount.as_tuple().exponent) < -6:
        raise ValueError("usd is an amount above 0, up to 1000000, at most 6 decimals.")
    return f"{amount:f}"


def limits_of(plan: PlanRecord) -> list[Limits]:
    return [
        Limits(
            w["period"],
            PERIODS[w["period"]],
            w.get("requests"),
            w.get("tokens"),
            to_pico(Decimal(w["usd"])) if w.get("usd") is not None else None,
        )
        for w in plan.windows
    ]


@dataclass(slots=True)
class Hold:
    """What one request took from the windows of one subject, to settle or give back."""

    subject: str
    held: list[tuple[str, int]]  # (period, window start)
    tokens: int
    money: int


@dataclass(slots=True)
class Plans:
    repository: PlanRepository
    store: WindowStore
    clock: Clock = field(default_factory=Clock.from_environment)
    ttl_s: float = CACHE_S
    monotonic: Callable[[], float] = time.monotonic
    _cache: dict[str, tuple[float, PlanRecord | None]] = field(default_factory=dict)

    async def plan_of(self, subject: str) -> PlanRecord | None:
        cached = self._cache.get(subject)
        if cached is not None and cached[0] > self.monotonic():
            return cached[1]
        plan = await self.repository.plan_of(subject)
        self._cache[subject] = (self.monotonic() + self.ttl_s, plan)
        return plan

    def forget(self) -> None:
        """A plan or an assignment changed here: read them again."""
        self._cache.clear()

    async def subjects(self, key: KeyRecord) -> list[tuple[str, PlanRecord]]:
        found = []
        for subject in (f"key:{key.id}", f"user:{key.user_id}" if key.user_id else None):
            if subject is not None and (plan := await self.plan_of(subject)) is not None:
                found.append((subject, plan))
        return found

    async def admit(
        self,
        on: Sequence[tuple[str, PlanRecord]],
        tokens: int,
        money: int,
    ) -> list[Hold]:
        """Take the request from every plan window it falls in, or refuse it (429, with
        when the full window refills) having taken nothing."""
        now = int(self.clock.now())
        holds: list[Hold] = []
        for subject, plan in on:
            limits = limits_of(plan)
            try:
                ok, used = await self.store.take(subject, limits, tokens, money, now)
            except (RedisError, OSError) as error:
                await self.give_back(holds)
                raise _unavailable() from error
            if not ok:
                await self.give_back(holds)
                raise _refusal(plan, limits, used, tokens, money, now)
            held = [(u.period, u.start) for u in used if u.start is not None]
            holds.append(Hold(subject, held, tokens, money))
        return holds

    async def settle(self, holds: Sequence[Hold], tokens: int, money: int) -> None:
        for hold in holds:
            await self._correct(hold, 0, tokens - hold.tokens, money - hold.money)

    async def give_back(self, holds: Sequence[Hold]) -> None:
        for hold in holds:
            await self._correct(hold, -1, -hold.tokens, -hold.money)

    async def _correct(self, hold: Hold, requests: int, tokens: int, money: int) -> None:
        # Redis gone: the window keeps the worst case, erring on the side of the limit
        with contextlib.suppress(RedisError, OSError):
            await self.store.correct(hold.subject, hold.held, requests, tokens, money)

    async def status(self, subjects: Sequence[str]) -> list[dict[str, Any]]:
        """Each subject's plan and windows: used, limits and when each refills."""
        now = int(self.clock.now())
        out = []
        for subject in subjects:
            plan = await self.repository.plan_of(subject)
            if plan is None:
                continue
            limits = limits_of(plan)
            try:
                used = await self.store.used(subject, limits, now)
            except (RedisError, OSError):
                used = [Used(w.period, None, 0, 0, 0) for w in limits]
            out.append(
                {
                    "subject": subject,
                    "plan_id": plan.id,
                    "plan": plan.name,
                    "windows": [_window_view(w, u, now) for w, u in zip(limits, used, strict=True)],
                }
            )
        return out


def _window_view(limits: Limits, used: Used, now: int) -> dict[str, Any]:
    refills = None if used.start is None else used.start + limits.seconds
    return {
        "period": limits.period,
        "requests": {"used": used.requests, "limit": limits.requests},
        "tokens": {"used": used.tokens, "limit": limits.tokens},
        "usd": {
            "used": usd(used.money),
            "limit": usd(limits.money) if limits.money is not None else None,
        },
        "started_at": used.start,
        "refills_at": refills,
        "refills_in_s": None if refills is None else max(0, refills - now),
    }


def _refusal(
    plan: PlanRecord,
    limits: Sequence[Limits],
    used: Sequence[Used],
    tokens: int,
    money: int,
    now: int,
) -> RateLimitError:
    full = [(w, u) for w, u in zip(limits, used, strict=True) if not _room(w, u, tokens, money)]
    wait = max(((u.start or now) + w.seconds - now for w, u in full), default=1)
    window, state = full[0]
    refills = (state.start or now) + window.seconds
    what = _what(window, state)
    when = time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(refills))
    return RateLimitError(
        f"Your plan “{plan.name}” is used up for its {WINDOW_WORDS[window.period]} window "
        f"({what}). It refills at {when} (in {_span(wait)}).",
        code="plan_limit_exceeded",
        retry_after_s=max(1, wait),
    )


def _room(w: Limits, u: Used, tokens: int, money: int) -> bool:
    return (
        (w.requests is None or u.requests + 1 <= w.requests)
        and (w.tokens is None or u.tokens + tokens <= w.tokens)
        and (w.money is None or u.money + money <= w.money)
    )


def _what(w: Limits, u: Used) -> str:
    parts = []
    if w.requests is not None:
        parts.append(f"{u.requests} of {w.requests} requests")
    if w.tokens is not None:
        parts.append(f"{u.tokens} of {w.tokens} tokens")
    if w.money is not None:
        parts.append(f"${usd(u.money)} of ${usd(w.money)}")
    return ", ".join(parts)


def _span(seconds: int) -> str:
    hours, rest = divmod(max(0, seconds), 3600)
    minutes = math.ceil(rest / 60) if hours == 0 else rest // 60
    return f"{hours}h {minutes}m" if hours else f"{minutes}m"


def _unavailable() -> ServiceUnavailableError:
    return ServiceUnavailableError(
        "Plan limits are shared through Redis, which this server cannot reach now. "
        "Try again shortly.",
        code="shared_counters_unavailable",
    )
