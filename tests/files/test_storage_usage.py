"""Storage use as GB-days: levels integrated over time and split at UTC midnight, priced
above the free allowance. On a real (SQLite) database with a clock the test moves."""

from __future__ import annotations

import asyncio
import io
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

from thinkgate.config_files import FilesConfig
from thinkgate.files.store import FileStore
from thinkgate.files.usage import StorageUsage
from thinkgate.store.database import Database

MIDNIGHT = datetime(2026, 12, 6, tzinfo=UTC).timestamp()
GB = 10**9


def test_gb_days_split_at_midnight_and_priced(tmp_path: Path) -> None:
    asyncio.run(_scenario(tmp_path))


async def _scenario(tmp_path: Path) -> None:
    database = Database(f"sqlite+aiosqlite:///{tmp_path / 'usage.db'}")
    await database.migrate()
    now = [MIDNIGHT - 6 * 3600]  # 18:00 the day before
    config = FilesConfig(file_storage_price_per_gb_day=Decimal("1"), free_storage_bytes=GB // 2)
    usage = StorageUsage(database, config, clock=lambda: now[0])
    files = FileStore(database)
    await usage.accrue("usr_a")  # nothing held yet
    source = io.BytesIO(b"x" * 10)  # a row claiming 2 GB: its stored bytes do not matter
    await files.create(
        _reader(source),
        size=2 * GB,
        owner="usr_a",
        key_id=None,
        filename="a.txt",
        purpose="assistants",
        expires_after_seconds=None,
    )
    await usage.accrue("usr_a")  # 2 GB held from 18:00
    now[0] = MIDNIGHT + 12 * 3600  # noon: 6 h on the first day, 12 h on the second
    days = await usage.report("usr_a")
    assert [day.day for day in days] == ["2026-12-05", "2026-12-06"]
    assert [day.file_gb_days for day in days] == [Decimal("0.5"), Decimal("1")]
    assert [day.vector_gb_days for day in days] == [Decimal(0), Decimal(0)]
    # priced above half a GB-day free each day: 0.5 - 0.5 = 0, 1 - 0.5 = 0.5 USD
    assert [day.cost_usd for day in days] == [Decimal(0), Decimal("0.5")]
    assert days[-1].file_bytes == 2 * GB
    await database.aclose()


def _reader(source: io.BytesIO) -> Callable[[int], Awaitable[bytes]]:
    async def read(size: int) -> bytes:
        return source.read(size)

    return read
