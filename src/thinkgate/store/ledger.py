"""The request ledger and its daily roll-up, written together in one transaction per batch.

Usage queries read `usage_daily` (a few rows per key and day), never the ledger itself,
so they stay fast however many requests were billed.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, fields
from typing import Any, Literal

from sqlalchemy import Table, func, insert, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from thinkgate.store.database import Database
from thinkgate.store.tables import LedgerRow, UsageDailyRow

GroupBy = Literal["day", "model", "key"]
_COUNTERS = ("input_tokens", "cached_tokens", "output_tokens", "reasoning_tokens", "cost_pico")


@dataclass(slots=True, frozen=True)
class LedgerEntry:
    request_id: str
    key_id: str
    user_id: str | None
    model: str
    channel: str
    endpoint: str
    input_tokens: int
    cached_tokens: int
    output_tokens: int
    reasoning_tokens: int
    cost_pico: int
    status: str
    latency_ms: int
    created_at: int

    @property
    def day(self) -> str:
        return time.strftime("%Y-%m-%d", time.gmtime(self.created_at))


@dataclass(slots=True, frozen=True)
class LedgerFilter:
    """Which ledger rows to list; `None` is no condition. Times are unix seconds, `until`
    exclusive."""

    user_id: str | None = None
    key_id: str | None = None
    model: str | None = None
    status: str | None = None
    since: int | None = None
    until: int | None = None


_ENTRY_FIELDS = tuple(field.name for field in fields(LedgerEntry))


_LEDGER: Table = LedgerRow.__table__  # type: ignore[assignment]  # declared as a Table
_USAGE_DAILY: Table = UsageDailyRow.__table__  # type: ignore[assignment]


def _row(entry: LedgerEntry) -> dict[str, Any]:
    """The entry as a row: its fields read directly (`asdict` deep-copies each value, and
    this runs for every billed request)."""
    return {name: getattr(entry, name) for name in _ENTRY_FIELDS}


class LedgerRepository:
    def __init__(self, database: Database) -> None:
        self._db = database

    async def write(self, entries: Sequence[LedgerEntry]) -> None:
        if not entries:
            return
        async with self._db.session() as session, session.begin():
            # a Core insert on the table: the ORM bulk path costs ~3x per row (per request)
            await session.execute(insert(_LEDGER), [_row(entry) for entry in entries])
            await self._roll_up(session, entries)

    async def _roll_up(self, session: AsyncSession, entries: Sequence[LedgerEntry]) -> None:
        totals: dict[tuple[str, str, str], dict[str, Any]] = {}
        for entry in entries:
            slot = totals.setdefault(
                (entry.day, entry.key_id, entry.model),
                {"user_id": entry.user_id, "requests": 0, **dict.fromkeys(_COUNTERS, 0)},
            )
            slot["requests"] += 1
            for name in _COUNTERS:
                slot[name] += getattr(entry, name)
        rows = [
            {"day": day, "key_id": key_id, "model": model, **values}
            for (day, key_id, model), values in totals.items()
        ]
        dialect = self._db.engine.dialect.name
        upsert = postgresql.insert if dialect == "postgresql" else sqlite.insert
        table = _USAGE_DAILY
        statement = upsert(table)
        statement = statement.on_conflict_do_update(
            index_elements=["day", "key_id", "model"],
            set_={
                name: table.c[name] + statement.excluded[name] for name in ("requests", *_COUNTERS)
            },
        )
        # one statement, one row of parameters per (day, key, model): compiled once and
        # cached, where a VALUES list of varying length was compiled on every flush
        await session.execute(statement, rows)

    async def requests(self, *, key_id: str | None, limit: int) -> list[LedgerEntry]:
        """Newest first."""
        query = select(LedgerRow).order_by(LedgerRow.created_at.desc(), LedgerRow.pk.desc())
        if key_id is not None:
            query = query.where(LedgerRow.key_id == key_id)
        async with self._db.session() as session:
            rows = await session.scalars(query.limit(limit))
            return [_entry(row) for row in rows]

    async def search(
        self, where: LedgerFilter, *, limit: int, offset: int = 0
    ) -> list[LedgerEntry]:
        """Newest first, filtered (the console's usage log pages through this)."""
        query = select(LedgerRow).order_by(LedgerRow.created_at.desc(), LedgerRow.pk.desc())
        for column, value in (
            (LedgerRow.user_id, where.user_id),
            (LedgerRow.key_id, where.key_id),
            (LedgerRow.model, where.model),
            (LedgerRow.status, where.status),
        ):
            if value is not None:
                query = query.where(column == value)
        if where.since is not None:
            query = query.where(LedgerRow.created_at >= where.since)
        if where.until is not None:
            query = query.where(LedgerRow.created_at < where.until)
        async with self._db.session() as session:
            rows = await session.scalars(query.limit(limit).offset(offset))
            return [_entry(row) for row in rows]

    async def usage(
        self, group_by: GroupBy, *, key_id: str | None = None, user_id: str | None = None
    ) -> list[dict[str, Any]]:
        column = {
            "day": UsageDailyRow.day,
            "model": UsageDailyRow.model,
            "key": UsageDailyRow.key_id,
        }[group_by]
        sums = [func.sum(getattr(UsageDailyRow, name)) for name in ("requests", *_COUNTERS)]
        query = select(column, *sums).group_by(column).order_by(column)
        if key_id is not None:
            query = query.where(UsageDailyRow.key_id == key_id)
        if user_id is not None:
            query = query.where(UsageDailyRow.user_id == user_id)
        async with self._db.session() as session:
            rows = (await session.execute(query)).all()
        names = ("requests", *_COUNTERS)
        return [
            {group_by: row[0], **{name: int(row[i + 1] or 0) for i, name in enumerate(names)}}
            for row in rows
        ]

    async def spend_pico(self, key_id: str, *, since_day: str | None = None) -> int:
        query = select(func.sum(UsageDailyRow.cost_pico)).where(UsageDailyRow.key_id == key_id)
        if since_day is not None:
            query = query.where(UsageDailyRow.day >= since_day)
        async with self._db.session() as session:
            return int(await session.scalar(query) or 0)


def _entry(row: LedgerRow) -> LedgerEntry:
    return LedgerEntry(
        request_id=row.request_id,
        key_id=row.key_id,
        user_id=row.user_id,
        model=row.model,
        channel=row.channel,
        endpoint=row.endpoint,
        input_tokens=row.input_tokens,
        cached_tokens=row.cached_tokens,
        output_tokens=row.output_tokens,
        reasoning_tokens=row.reasoning_tokens,
        cost_pico=row.cost_pico,
        status=row.status,
        latency_ms=row.latency_ms,
        created_at=row.created_at,
    )
