"""The request ledger and its daily roll-up, written together in one transaction per batch.

Usage queries read `usage_daily` (a few rows per key and day), never the ledger itself,
so they stay fast however many requests were billed.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, fields
from typing import Any, Literal

from sqlalchemy import Table, func, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from thinkgate.store.bulk_insert import BulkInsert
from thinkgate.store.database import Database
from thinkgate.store.keys import touch_keys
from thinkgate.store.tables import LedgerRow, UsageDailyRow

GroupBy = Literal["day", "model", "key"]
_COUNTERS = (
    "input_tokens",
    "cached_tokens",
    "output_tokens",
    "reasoning_tokens",
    "cost_pico",
    "tool_calls",  # completed hosted tool calls (web search…), priced per call
    "tool_cost_pico",  # their part of `cost_pico`
)


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
    tool_calls: int = 0
    tool_cost_pico: int = 0

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


class LedgerRepository:
    def __init__(self, database: Database) -> None:
        self._db = database
        dialect = database.engine.dialect
        self._insert = BulkInsert(_LEDGER, _ENTRY_FIELDS, dialect)
        upsert = postgresql.insert if dialect.name == "postgresql" else sqlite.insert
        statement = upsert(_USAGE_DAILY)
        # one statement, one row of parameters per (day, key, model): compiled once and
        # cached, where a VALUES list of varying length was compiled on every flush
        self._roll_up_statement = statement.on_conflict_do_update(
            index_elements=["day", "key_id", "model"],
            set_={
                name: _USAGE_DAILY.c[name] + statement.excluded[name]
                for name in ("requests", *_COUNTERS)
            },
        )

    async def write(
        self, entries: Sequence[LedgerEntry], last_used: Mapping[str, int] | None = None
    ) -> None:
        """A batch: its rows, the daily roll-up and the keys' last use, in one transaction."""
        if not entries and not last_used:
            return
        async with self._db.session() as session, session.begin():
            if entries:
                await self.write_in(session, entries)
            if last_used:
                await touch_keys(session, last_used)

    async def write_in(self, session: AsyncSession, entries: Sequence[LedgerEntry]) -> None:
        """Rows and their daily roll-up inside the caller's transaction (a storage charge
        commits with the mark that says its day is charged)."""
        fields = self._insert.columns
        rows = [tuple([getattr(entry, name) for name in fields]) for entry in entries]
        await self._insert.run(await session.connection(), rows)
        await session.execute(self._roll_up_statement, _daily_totals(entries))

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
        return await self._spend(UsageDailyRow.key_id == key_id, since_day)

    async def user_spend_pico(self, user_id: str, *, since_day: str | None = None) -> int:
        """Everything the user's keys have spent, revoked ones included."""
        return await self._spend(UsageDailyRow.user_id == user_id, since_day)

    async def _spend(self, where: Any, since_day: str | None) -> int:
        query = select(func.sum(UsageDailyRow.cost_pico)).where(where)
        if since_day is not None:
            query = query.where(UsageDailyRow.day >= since_day)
        async with self._db.session() as session:
            return int(await session.scalar(query) or 0)


def _daily_totals(entries: Sequence[LedgerEntry]) -> list[dict[str, Any]]:
    """The batch summed per (day, key, model): the roll-up's rows."""
    totals: dict[tuple[str, str, str], list[Any]] = {}
    days: dict[int, str] = {}  # UTC day number → its date: one strftime a day, not a row
    for entry in entries:
        number = entry.created_at // 86_400
        day = days.get(number)
        if day is None:
            day = days[number] = entry.day
        slot = totals.get((day, entry.key_id, entry.model))
        if slot is None:
            slot = totals[(day, entry.key_id, entry.model)] = [entry.user_id, *[0] * 8]
        slot[1] += 1
        slot[2] += entry.input_tokens
        slot[3] += entry.cached_tokens
        slot[4] += entry.output_tokens
        slot[5] += entry.reasoning_tokens
        slot[6] += entry.cost_pico
        slot[7] += entry.tool_calls
        slot[8] += entry.tool_cost_pico
    names = ("user_id", "requests", *_COUNTERS)
    return [
        {"day": day, "key_id": key_id, "model": model, **dict(zip(names, slot, strict=True))}
        for (day, key_id, model), slot in totals.items()
    ]


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
        tool_calls=row.tool_calls,
        tool_cost_pico=row.tool_cost_pico,
    )
