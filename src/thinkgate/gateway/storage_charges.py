"""Storage on the ledger: each owner's finished UTC day of storage (counted by
`files/usage.py`, priced per GB-day by `[files]`) becomes one ledger row, charged once.

    every `storage_charge_seconds`, on every replica (and POST /admin/v1/storage_usage/charge)
      owners with a finished day not charged ─► accrue to now (the day is then complete)
      ─► the owner's budget counters loaded from the ledger (before the charge is on it)
      ─► per day, one transaction: mark `charged_pico` WHERE it is still NULL, and only if
         that marked the row, the ledger row + daily roll-up ─► budget counters adjusted

Two replicas (or a timer and an admin) at once: the mark is a conditional update, so one of
them wins each day and the other finds it charged; the ledger's unique index on storage rows'
`request_id` (`st_DAY_OWNER`, migration 0023) refuses a second row even so. The row counts
like any other spend: per key and user budgets, the wallet, usage and the admin ledger.
A user's storage is billed to the user (`key_id` is the user's id); a key without a user's
to that key.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError

from thinkgate.files.rows import StorageUsageRow
from thinkgate.files.usage import StorageUsage
from thinkgate.gateway.service import Gateway
from thinkgate.gateway.user_limits import user_budgets
from thinkgate.gateway.wallet import PREFIX as WALLET_PREFIX
from thinkgate.store.database import Database
from thinkgate.store.ledger import LedgerEntry
from thinkgate.store.tables import UserRow

log = logging.getLogger(__name__)

STORAGE = "storage"  # the ledger rows' model, channel and endpoint
UNLIMITED = 2**62  # a limit no counter reaches: loading one is not a check


def _day(at: float) -> str:
    return datetime.fromtimestamp(at, UTC).strftime("%Y-%m-%d")


def _last_second(day: str) -> int:
    start = datetime.strptime(day, "%Y-%m-%d").replace(tzinfo=UTC)
    return int((start + timedelta(days=1)).timestamp()) - 1


class StorageCharges:
    def __init__(
        self,
        database: Database,
        usage: StorageUsage,
        gateway: Gateway,
        *,
        every_s: float,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._db = database
        self._usage = usage
        self._gateway = gateway
        self._every = every_s
        self._clock = clock
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="storage charges")

    async def aclose(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _run(self) -> None:
        while True:
            try:
                await self.charge_due()
            except Exception:
                log.warning("storage charges: run failed (tried again later)", exc_info=True)
            await asyncio.sleep(self._every)

    async def charge_due(self) -> int:
        """Charge every finished day not charged yet; the days this call charged."""
        cutoff = _day(self._clock())
        async with self._db.session() as session:
            owners = (
                await session.scalars(
                    select(StorageUsageRow.owner)
                    .where(StorageUsageRow.charged_pico.is_(None), StorageUsageRow.day < cutoff)
                    .distinct()
                )
            ).all()
        charged = 0
        for owner in owners:
            await self._complete(owner, cutoff)
            await self._seed_counters(owner, cutoff)
            try:
                entries = await self._charge(owner, cutoff)
            except IntegrityError:  # another replica's row for the day is already there
                log.info("storage of %s: already charged elsewhere", owner)
                continue
            charged += len(entries)
            for entry in entries:
                await self._count(entry)
        return charged

    async def _complete(self, owner: str, cutoff: str) -> None:
        """Accrue the owner to now, unless nothing was held since the last accrual (then
        the finished days are complete already, and no empty day is added)."""
        async with self._db.session() as session:
            last = await session.scalar(
                select(StorageUsageRow)
                .where(StorageUsageRow.owner == owner)
                .order_by(StorageUsageRow.day.desc())
                .limit(1)
            )
        if last is not None and last.day < cutoff and last.vector_bytes == last.file_bytes == 0:
            return
        await self._usage.accrue(owner)

    async def _charge(self, owner: str, cutoff: str) -> list[LedgerEntry]:
        entries: list[LedgerEntry] = []
        async with self._db.session() as session, session.begin():
            is_user = await session.get(UserRow, owner) is not None
            days = (
                await session.scalars(
                    select(StorageUsageRow).where(
                        StorageUsageRow.owner == owner,
                        StorageUsageRow.day < cutoff,
                        StorageUsageRow.charged_pico.is_(None),
                    )
                )
            ).all()
            for row in days:
                cost = self._usage.cost_pico(row)
                marked = await session.execute(
                    update(StorageUsageRow)
                    .where(
                        StorageUsageRow.owner == owner,
                        StorageUsageRow.day == row.day,
                        StorageUsageRow.charged_pico.is_(None),
                    )
                    .values(charged_pico=cost)
                    .execution_options(synchronize_session=False)
                )
                if getattr(marked, "rowcount", 0) != 1 or cost == 0:  # charged by another, or free
                    continue
                entries.append(
                    LedgerEntry(
                        request_id=f"st_{row.day}_{owner}",
                        key_id=owner,
                        user_id=owner if is_user else None,
                        model=STORAGE,
                        channel=STORAGE,
                        endpoint=STORAGE,
                        input_tokens=0,
                        cached_tokens=0,
                        output_tokens=0,
                        reasoning_tokens=0,
                        cost_pico=cost,
                        status="completed",
                        latency_ms=0,
                        created_at=_last_second(row.day),  # the day it was held
                    )
                )
            if entries:
                await self._gateway.ledger_repository.write_in(session, entries)
        return entries

    async def _seed_counters(self, owner: str, cutoff: str) -> None:
        """Load the owner's budget counters from the ledger before the charge commits. A
        counter first met between the commit and `_count` (a request on another replica)
        would be seeded from a ledger that has the charge and then be given it again; one
        loaded before has no such moment (a shared counter is seeded once)."""
        async with self._db.session() as session:
            is_user = await session.get(UserRow, owner) is not None
            days = (
                await session.scalars(
                    select(StorageUsageRow.day).where(
                        StorageUsageRow.owner == owner,
                        StorageUsageRow.day < cutoff,
                        StorageUsageRow.charged_pico.is_(None),
                    )
                )
            ).all()
        for month in sorted({day[:7] for day in days}):
            names = await self._counter_names(owner, owner if is_user else None, month)
            try:  # amount 0 under no limit: only loads what is not loaded yet
                await self._gateway.counters.reserve(
                    [(name, UNLIMITED) for name in names], 0, self._gateway.spent
                )
            except Exception:
                log.warning("storage charges of %s: budget counters not loaded first", owner)

    async def _counter_names(self, key_id: str, user_id: str | None, month: str) -> list[str]:
        """The budget counters a charge to `key_id` (a user's: `user_id`) counts against."""
        gateway = self._gateway
        if user_id is None:
            return [f"{key_id}|total", f"{key_id}|month|{month}"]
        user = await gateway.users.get(user_id)
        names = [name for name, _ in user_budgets(user, month)] if user is not None else []
        if gateway.billing is not None and gateway.billing.wallets.config.enabled:
            names.append(WALLET_PREFIX + user_id)
        return names

    async def _count(self, entry: LedgerEntry) -> None:
        """The budget counters see the charge now (loaded before it, `_seed_counters`; one
        that could not be is seeded later from the ledger, which has it)."""
        month = _day(entry.created_at)[:7]
        names = await self._counter_names(entry.key_id, entry.user_id, month)
        try:
            await self._gateway.counters.adjust(names, entry.cost_pico)
        except Exception:
            log.warning("storage charge %s: on the ledger, counters not updated", entry.request_id)
