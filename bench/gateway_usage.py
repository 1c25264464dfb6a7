"""Ledger at scale: write N ledger rows through the real repository (batched, with the daily
roll-up), then time the admin usage queries and one key's newest requests.

    .venv/bin/python -m bench.gateway_usage [--rows 1000000] [--keys 200] [--days 90]
        [--database-url sqlite+aiosqlite:////tmp/x.db | postgresql+asyncpg://…]

Prints a table and writes `bench/results/gateway_usage.json`.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import tempfile
import time
from pathlib import Path

from thinkgate.store.database import Database
from thinkgate.store.ledger import LedgerEntry, LedgerRepository

RESULTS = Path(__file__).parent / "results" / "gateway_usage.json"


def _entries(count: int, keys: int, days: int, start: int) -> list[LedgerEntry]:
    rng = random.Random(count + start)
    now = int(time.time())
    return [
        LedgerEntry(
            request_id=f"resp_{start + i}",
            key_id=f"key_{rng.randrange(keys)}",
            user_id=None,
            model=rng.choice(["gpt-5.1", "smollm2-135m-instruct"]),
            channel="local",
            endpoint="responses",
            input_tokens=(inp := rng.randrange(10, 2000)),
            cached_tokens=rng.randrange(0, inp),
            output_tokens=(out := rng.randrange(1, 500)),
            reasoning_tokens=rng.randrange(0, out),
            cost_pico=rng.randrange(1, 10**10),
            status="completed",
            latency_ms=rng.randrange(50, 5000),
            created_at=now - rng.randrange(days * 86400),
        )
        for i in range(count)
    ]


async def _timed(label: str, action, results: dict[str, float]) -> None:  # type: ignore[no-untyped-def]
    started = time.perf_counter()
    await action()
    results[label] = time.perf_counter() - started


async def main(rows: int, keys: int, days: int, url: str) -> dict[str, float]:
    database = Database(url)
    await database.migrate()
    ledger = LedgerRepository(database)
    results: dict[str, float] = {}
    batch = 500  # the ledger writer's batch size
    started = time.perf_counter()
    for offset in range(0, rows, batch):
        await ledger.write(_entries(min(batch, rows - offset), keys, days, offset))
    results["write_all_s"] = time.perf_counter() - started
    for group_by in ("day", "model", "key"):
        await _timed(f"usage_{group_by}_s", lambda g=group_by: ledger.usage(g), results)
    await _timed("usage_one_key_by_day_s", lambda: ledger.usage("day", key_id="key_7"), results)
    await _timed("spend_one_key_s", lambda: ledger.spend_pico("key_7"), results)
    await _timed("requests_one_key_s", lambda: ledger.requests(key_id="key_7", limit=100), results)
    await database.aclose()
    return results


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--keys", type=int, default=200)
    parser.add_argument("--days", type=int, default=90)
    parser.add_argument("--database-url", default=None)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        url = args.database_url or f"sqlite+aiosqlite:///{scratch}/ledger.db"
        figures = asyncio.run(main(args.rows, args.keys, args.days, url))
    figures = {"rows": args.rows, **{k: round(v, 4) for k, v in figures.items()}}
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(figures, indent=2) + "\n")
    for name, value in figures.items():
        print(f"{name:28} {value}")
