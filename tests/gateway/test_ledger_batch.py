"""The ledger's batch write on SQLite and PostgreSQL: every row as given (a batch larger
than one SQLite statement can carry included), the daily roll-up equal to the rows' sums,
and the keys' last use, all in one transaction."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import func, select

from tests.support.gateway_support import new_database, services
from thinkgate.store.database import Database
from thinkgate.store.keys import KeyRepository
from thinkgate.store.ledger import LedgerEntry, LedgerRepository
from thinkgate.store.tables import ApiKeyRow, LedgerRow

DAY = 86_400


@pytest.fixture(params=["sqlite", "postgres"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "postgres":
        yield new_database(services())
    else:
        yield f"sqlite+aiosqlite:///{tmp_path / 'ledger.db'}"


def _entries(count: int, start: int) -> list[LedgerEntry]:
    """Rows that differ in every counted field, over two keys, two models and two days."""
    return [
        LedgerEntry(
            request_id=f"req_{i:06d}",
            key_id=f"key_{i % 2}",
            user_id=None if i % 2 else "user_1",
            model=("gpt-5.1", "smollm2-135m")[i % 3 == 0],
            channel="upstream:fixed",
            endpoint="responses",
            input_tokens=i,
            cached_tokens=i // 2,
            output_tokens=3 * i + 1,
            reasoning_tokens=i % 7,
            cost_pico=1_000_003 * i,
            status=("completed", "failed_502")[i % 11 == 0],
            latency_ms=i % 1000,
            created_at=start + (DAY if i % 5 == 0 else 0) + i % 60,
        )
        for i in range(count)
    ]


async def _write_and_read(url: str, entries: list[LedgerEntry]) -> None:
    database = Database(url)
    await database.migrate()
    try:
        keys = KeyRepository(database)
        now = int(time.time())
        async with database.session() as session, session.begin():
            for key_id in ("key_0", "key_1"):
                session.add(
                    ApiKeyRow(
                        id=key_id, name=key_id, key_hash=key_id * 8, prefix="sk-", created_at=now
                    )
                )
        repository = LedgerRepository(database)
        half = len(entries) // 2
        await repository.write(entries[:half], {"key_0": now - 5})
        await repository.write(entries[half:], {"key_0": now, "key_1": now - 1})

        async with database.session() as session:
            rows = (await session.scalars(select(LedgerRow).order_by(LedgerRow.request_id))).all()
            stored = [
                LedgerEntry(**{name: getattr(row, name) for name in LedgerEntry.__slots__})
                for row in rows
            ]
            count = await session.scalar(select(func.count()).select_from(LedgerRow))
        assert count == len(entries)
        assert stored == sorted(entries, key=lambda entry: entry.request_id)

        for key_id in ("key_0", "key_1"):
            want: dict[str, dict[str, int]] = {}
            for entry in entries:
                if entry.key_id != key_id:
                    continue
                day = want.setdefault(
                    entry.day,
                    {"requests": 0, "input_tokens": 0, "output_tokens": 0, "cost_pico": 0},
                )
                day["requests"] += 1
                day["input_tokens"] += entry.input_tokens
                day["output_tokens"] += entry.output_tokens
                day["cost_pico"] += entry.cost_pico
            got = await repository.usage("day", key_id=key_id)
            assert {
                row["day"]: {name: row[name] for name in want[row["day"]]} for row in got
            } == want
        assert (await keys.get("key_0")).last_used_at == now  # type: ignore[union-attr]
        assert (await keys.get("key_1")).last_used_at == now - 1  # type: ignore[union-attr]
    finally:
        await database.aclose()


def test_a_large_batch_is_written_whole_with_its_roll_up_and_keys_last_use(
    database_url: str,
) -> None:
    start = int(time.time()) // DAY * DAY
    asyncio.run(_write_and_read(database_url, _entries(6_001, start)))
