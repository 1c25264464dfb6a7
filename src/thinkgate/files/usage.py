"""Storage use per owner, integrated over time: byte-seconds per UTC day, for files and
for vector stores (completed files' `usage_bytes`). Accrued whenever an owner's level
changes and whenever it is read, so the integral is exact without a timer; a GB-day
price (`[files]`) turns it into money."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from thinkgate.config_files import FilesConfig
from thinkgate.files.rows import FileRow, StorageUsageRow, VectorStoreFileRow, VectorStoreRow
from thinkgate.store.database import Database

GB_DAY = Decimal(10**9 * 86_400)
_NANO = Decimal("0.000000001")
PICO_PER_USD = 10**12
_ATTEMPTS = 5


@dataclass(frozen=True, slots=True)
class DayUsage:
    owner: str
    day: str
    vector_gb_days: Decimal
    file_gb_days: Decimal
    cost_usd: Decimal
    vector_bytes: int  # the level at the day's last change
    file_bytes: int
    charged_pico: int | None  # on the ledger once the day is over (None: not yet)


def _day(at: float) -> str:
    return datetime.fromtimestamp(at, UTC).strftime("%Y-%m-%d")


def _day_end(at: int) -> int:
    start = datetime.fromtimestamp(at, UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    return int((start + timedelta(days=1)).timestamp())


class StorageUsage:
    def __init__(
        self, database: Database, config: FilesConfig, clock: Callable[[], float] = time.time
    ) -> None:
        self._db = database
        self._config = config
        self._clock = clock

    async def accrue(self, owner: str) -> None:
        """Add the level held since the last accrual to each day it spanned, then record
        the owner's level now. Two at once for one owner: the second to insert a day's
        row loses, and accrues again (then finding the row)."""
        for attempt in range(_ATTEMPTS):
            try:
                await self._accrue(owner)
                return
            except IntegrityError:
                if attempt == _ATTEMPTS - 1:
                    raise

    async def _accrue(self, owner: str) -> None:
        now = int(self._clock())
        async with self._db.session() as session, session.begin():
            vector, files = await self._levels(session, owner)
            last = await session.scalar(
                select(StorageUsageRow)
                .where(StorageUsageRow.owner == owner)
                .order_by(StorageUsageRow.day.desc())
                .limit(1)
                .with_for_update()
            )
            at = last.updated_at if last is not None else now
            held = (last.vector_bytes, last.file_bytes) if last is not None else (0, 0)
            while at < now:
                until = min(_day_end(at), now)
                row = await self._row(session, owner, _day(at), at)
                row.vector_byte_seconds += held[0] * (until - at)
                row.file_byte_seconds += held[1] * (until - at)
                at = until
            today = await self._row(session, owner, _day(now), now)
            today.vector_bytes, today.file_bytes, today.updated_at = vector, files, now
            if last is not None and last is not today:
                last.updated_at = now

    @staticmethod
    async def _row(session: AsyncSession, owner: str, day: str, at: int) -> StorageUsageRow:
        row = await session.get(StorageUsageRow, (owner, day))
        if row is None:
            row = StorageUsageRow(
                owner=owner,
                day=day,
                vector_byte_seconds=0,
                file_byte_seconds=0,
                vector_bytes=0,
                file_bytes=0,
                updated_at=at,
            )
            session.add(row)
            await session.flush()
        return row

    @staticmethod
    async def _levels(session: AsyncSession, owner: str) -> tuple[int, int]:
        vector = await session.scalar(
            select(func.coalesce(func.sum(VectorStoreFileRow.usage_bytes), 0))
            .join(VectorStoreRow, VectorStoreRow.id == VectorStoreFileRow.vector_store_id)
            .where(VectorStoreRow.owner == owner, VectorStoreFileRow.status == "completed")
        )
        files = await session.scalar(
            select(func.coalesce(func.sum(FileRow.bytes), 0)).where(FileRow.owner == owner)
        )
        return int(vector or 0), int(files or 0)

    async def report(self, owner: str, since_day: str | None = None) -> list[DayUsage]:
        """The owner's days (accrued to now first), oldest first, priced: the free
        allowance is taken off each day's GB-days before the price applies."""
        await self.accrue(owner)
        query = select(StorageUsageRow).where(StorageUsageRow.owner == owner)
        if since_day is not None:
            query = query.where(StorageUsageRow.day >= since_day)
        async with self._db.session() as session:
            rows = (await session.scalars(query.order_by(StorageUsageRow.day))).all()
        return [self._priced(row) for row in rows]

    def cost(self, row: StorageUsageRow) -> Decimal:
        """The day's price in USD: the free allowance is taken off vector storage first."""
        config = self._config
        vector = Decimal(row.vector_byte_seconds) / GB_DAY
        files = Decimal(row.file_byte_seconds) / GB_DAY
        free = Decimal(config.free_storage_bytes) / Decimal(10**9)  # GB for one day
        billable_vector = max(Decimal(0), vector - free)
        billable_files = max(Decimal(0), files - max(Decimal(0), free - vector))
        return (
            billable_vector * config.vector_storage_price_per_gb_day
            + billable_files * config.file_storage_price_per_gb_day
        )

    def cost_pico(self, row: StorageUsageRow) -> int:
        """The day's price in whole picodollars (rounded down), as the ledger keeps money."""
        return int(self.cost(row) * PICO_PER_USD)

    def _priced(self, row: StorageUsageRow) -> DayUsage:
        vector = Decimal(row.vector_byte_seconds) / GB_DAY
        files = Decimal(row.file_byte_seconds) / GB_DAY
        cost = self.cost(row)
        return DayUsage(
            row.owner,
            row.day,
            vector.quantize(_NANO),
            files.quantize(_NANO),
            cost.quantize(Decimal("0.000001")),
            row.vector_bytes,
            row.file_bytes,
            row.charged_pico,
        )
