"""Wallets, plans and alerts, built once at boot and held by the `Gateway`.

`open_billing` picks the stores: Redis when configured (replicas share plan windows and,
through the budget counters, wallets), else this process's memory.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from decimal import Decimal

from redis.asyncio import Redis

from thinkgate.config import Settings
from thinkgate.gateway.alerts import Alerts, percent, usd_percent
from thinkgate.gateway.counters import Counters
from thinkgate.gateway.plan_windows import MemoryWindows, RedisWindows, WindowStore
from thinkgate.gateway.plans import PERIOD_WORDS, Plans
from thinkgate.gateway.pricing import to_pico
from thinkgate.gateway.user_limits import UserBook
from thinkgate.gateway.wallet import Wallets
from thinkgate.store.database import Database
from thinkgate.store.keys import KeyRecord
from thinkgate.store.ledger import LedgerRepository
from thinkgate.store.plans import PlanRepository
from thinkgate.store.wallet import WalletRepository


@dataclass(slots=True)
class Billing:
    wallets: Wallets
    plans: Plans
    alerts: Alerts
    _redis: Redis | None = None

    async def aclose(self) -> None:
        await self.alerts.aclose()
        if self._redis is not None:
            await self._redis.aclose()


def open_billing(
    settings: Settings,
    database: Database,
    counters: Counters,
    users: UserBook,
    ledger: LedgerRepository,
    channels: Callable[[], list[tuple[str, str]]],
    flush: Callable[[], Awaitable[None]],
) -> Billing:
    """`flush`: the ledger writer's, so alert checks read the requests that moved a figure."""
    redis = (
        Redis.from_url(settings.redis_url, decode_responses=True) if settings.redis_url else None
    )
    store: WindowStore = RedisWindows(redis) if redis is not None else MemoryWindows()
    wallets = Wallets(WalletRepository(database), settings.wallet, counters)
    plans = Plans(PlanRepository(database), store)
    figures = _Figures(wallets, plans, users, ledger, flush)
    alerts = Alerts(settings.alerts, database, figures, channels)
    alerts.start()
    return Billing(wallets, plans, alerts, redis)


@dataclass(slots=True)
class _Figures:
    """What a key's requests move, in percent of each limit, for the alert thresholds."""

    wallets: Wallets
    plans: Plans
    users: UserBook
    ledger: LedgerRepository
    flush: Callable[[], Awaitable[None]]

    async def __call__(
        self, key: KeyRecord, exhausted: bool
    ) -> list[tuple[str, str, str, float, str]]:
        out: list[tuple[str, str, str, float, str]] = []
        await self.flush()  # the rows of the requests that touched the key: in the ledger
        month = time.strftime("%Y-%m", time.gmtime())
        if self.wallets.counter(key) is not None and key.user_id is not None:
            balance = await self.wallets.balance(key.user_id)
            if balance.credit_pico > 0:
                used = 100.0 if exhausted else percent(balance.spent_pico, balance.credit_pico)
                period = f"credit-{balance.credit_pico}"  # a top-up starts a new period
                out.append(("balance", f"user:{key.user_id}", period, used, "balance"))
        budgets = [("key", key.id, key.budget_usd, key.budget_monthly_usd)]
        user = await self.users.get(key.user_id) if key.user_id else None
        if user is not None:
            budgets.append(
                ("user", user.id, user.limits.budget_usd, user.limits.budget_monthly_usd)
            )
        for kind, subject, total, monthly in budgets:
            for limit, since, period in ((total, None, "total"), (monthly, f"{month}-01", month)):
                if limit is None:
                    continue
                if kind == "key":
                    spent = await self.ledger.spend_pico(subject, since_day=since)
                else:
                    spent = await self.ledger.user_spend_pico(subject, since_day=since)
                words = f"{kind} {subject}'s {'monthly ' if since else ''}budget"
                out.append(
                    ("budget", f"{kind}:{subject}", period, usd_percent(spent, limit), words)
                )
        subjects = [f"key:{key.id}"] + ([f"user:{key.user_id}"] if key.user_id else [])
        for status in await self.plans.status(subjects):
            for window in status["windows"]:
                if window["started_at"] is None:
                    continue
                used = max(_share(window[name]) for name in ("requests", "tokens", "usd"))
                span = PERIOD_WORDS[window["period"]]
                words = f"{status['subject']}'s plan {status['plan']} ({span})"
                period = f"{window['period']}-{window['started_at']}"
                out.append(("plan", status["subject"], period, used, words))
        return out


def _share(figure: dict[str, object]) -> float:
    limit = figure["limit"]
    if limit is None:
        return 0.0
    used = figure["used"]
    if isinstance(used, str):
        return percent(to_pico(Decimal(used)), to_pico(Decimal(str(limit))))
    return percent(int(str(used)), int(str(limit)))
