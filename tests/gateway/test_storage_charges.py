"""Storage on the ledger (issue 22): a finished day of an owner's vector store and file
storage is charged once, at the `[files]` GB-day prices, whichever replica or trigger gets
there first, and the charge counts against the user's budget at once.

The day is made to have passed by moving the owner's storage row back one day in the
database (the server's own accrual then completes it), on SQLite (one server, many
triggers at once) and on PostgreSQL + Redis (two replicas, triggers on both at once)."""

from __future__ import annotations

import asyncio
import sqlite3
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import asyncpg
import httpx
import openai
import pytest

from tests.support.billing_support import admin, member_with_key
from tests.support.config import write_config
from tests.support.gateway_support import services, shared_env
from tests.support.server import ADMIN_KEY, ServerProcess, make_client

VECTOR_PRICE, FILE_PRICE = 2000, 1000  # USD per GB-day: a few KB for a day cost cents
BUDGET = Decimal("0.003")
ADMIN = {"Authorization": f"Bearer {ADMIN_KEY}"}
TEXT = "Bread dough rises for two hours in a warm kitchen before it is baked.\n" * 30


class Replicas:
    def __init__(self, servers: list[ServerProcess], database: str) -> None:
        self.servers = servers
        self.database = database  # a SQLite file, or a PostgreSQL URL

    def backdate(self, owner: str) -> str:
        """Move the owner's only storage row to yesterday, held since its start."""
        today = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
        start = today - timedelta(days=1)
        day, at = start.strftime("%Y-%m-%d"), int(start.timestamp())
        sql = (
            "UPDATE storage_usage SET day = {d}, updated_at = {a}, vector_byte_seconds = 0,"
            " file_byte_seconds = 0 WHERE owner = {o}"
        )
        if self.database.startswith("postgresql"):

            async def run() -> str:
                url = self.database.replace("postgresql+asyncpg", "postgresql")
                connection = await asyncpg.connect(url)
                try:
                    done: str = await connection.execute(
                        sql.format(d="$1", a="$2", o="$3"), day, at, owner
                    )
                    return done
                finally:
                    await connection.close()

            assert asyncio.run(run()) == "UPDATE 1"
        else:
            with sqlite3.connect(self.database, timeout=30) as connection:
                done = connection.execute(sql.format(d="?", a="?", o="?"), (day, at, owner))
                assert done.rowcount == 1
        return day


@pytest.fixture(scope="module", params=["sqlite", "postgres+redis"])
def replicas(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Replicas]:
    root = tmp_path_factory.mktemp("storage-charges")
    config = write_config(
        root / "config.toml",
        files={
            "vector_storage_price_per_gb_day": str(VECTOR_PRICE),
            "file_storage_price_per_gb_day": str(FILE_PRICE),
            "free_storage_bytes": 0,
        },
    )
    started: list[ServerProcess] = []
    try:
        if request.param == "sqlite":
            started.append(ServerProcess(root / "data", config=config))
            yield Replicas([started[0], started[0]], str(root / "data" / "thinkgate.db"))
        else:
            env = shared_env(services())
            for name in ("a", "b"):
                started.append(ServerProcess(root / name, config=config, extra_env=env))
            yield Replicas(started, env["THINKGATE_DATABASE_URL"])
    finally:
        for process in started:
            process.stop()


async def _charge_everywhere(urls: list[str]) -> list[int]:
    async with httpx.AsyncClient(timeout=300, headers=ADMIN) as client:
        replies = await asyncio.gather(
            *(client.post(f"{url}/admin/v1/storage_usage/charge") for url in urls)
        )
    assert all(r.status_code == 200 for r in replies), [r.text for r in replies]
    return [int(r.json()["days_charged"]) for r in replies]


def _embed(server: ServerProcess, secret: str) -> None:
    make_client(server.base_url, secret).embeddings.create(
        model="wordllama-l2-256", input="tides", encoding_format="float"
    )


def _wait_for_spend_on_ledger(server: ServerProcess, user_id: str) -> None:
    """Until the user's request is on the ledger (it is written after the reply)."""
    with admin(server.base_url) as api:
        [key] = api.get("/admin/v1/keys", params={"user_id": user_id}).json()["data"]
        key_id = key["id"]
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            rows = api.get("/admin/v1/requests", params={"key_id": key_id}).json()["data"]
            if rows:
                return
            time.sleep(0.2)
    raise AssertionError("the request never reached the ledger")


def _wait_for_level(server: ServerProcess, owner: str, vector_bytes: int, file_bytes: int) -> None:
    """Until the level the owner holds is recorded (the day's row exists)."""
    with admin(server.base_url) as api:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            days = api.get("/admin/v1/storage_usage", params={"owner": owner}).json()["data"]
            level = (days[-1]["vector_store_bytes"], days[-1]["file_bytes"]) if days else None
            if level == (vector_bytes, file_bytes):
                break
            time.sleep(0.2)
        assert level == (vector_bytes, file_bytes)


def test_a_finished_day_is_charged_once_and_counts_against_the_budget(
    replicas: Replicas,
) -> None:
    a, b = replicas.servers
    with admin(a.base_url) as api:
        user_id, secret = member_with_key(api, "storer")
        limited = api.patch(f"/admin/v1/users/{user_id}", json={"budget_usd": str(BUDGET)})
        assert limited.status_code == 200, limited.text
    client = make_client(a.base_url, secret)
    upload = client.files.create(file=("bread.txt", TEXT.encode()), purpose="assistants")
    store = client.vector_stores.create(name="kitchen")
    added = client.vector_stores.files.create_and_poll(
        upload.id, vector_store_id=store.id, poll_interval_ms=200
    )
    assert added.status == "completed", added.last_error
    vector_bytes = client.vector_stores.retrieve(store.id).usage_bytes
    assert vector_bytes > 0
    _wait_for_level(a, user_id, vector_bytes, upload.bytes)
    for server in (a, b):  # within budget: each replica's counters are loaded now
        _embed(server, secret)

    day = replicas.backdate(user_id)
    urls = [server.base_url for server in (a, b) * 4]
    assert sum(asyncio.run(_charge_everywhere(urls))) == 1  # one day, charged once
    assert sum(asyncio.run(_charge_everywhere(urls))) == 0

    # one full day held at both prices: (bytes × GB-day price) / 10^9 USD
    expected = (Decimal(vector_bytes * VECTOR_PRICE) + upload.bytes * FILE_PRICE) / 10**9
    with admin(b.base_url) as api:
        rows = api.get("/admin/v1/requests", params={"key_id": user_id}).json()["data"]
        assert [(r["model"], Decimal(r["cost_usd"])) for r in rows] == [("storage", expected)]
        report = api.get("/admin/v1/storage_usage", params={"owner": user_id}).json()["data"]
        charged = {r["day"]: r["charged_usd"] for r in report}
        assert Decimal(charged.pop(day)) == expected
        assert set(charged.values()) == {None}  # today is not over: not charged yet
        by_model = api.get("/admin/v1/usage", params={"group_by": "model"}).json()["data"]
        assert {r["model"] for r in by_model} >= {"storage"}
    for server in (a, b):  # over the user's budget now, on every replica
        with pytest.raises(openai.RateLimitError) as refused:
            _embed(server, secret)
        assert refused.value.code == "insufficient_quota"


def test_charging_needs_an_admin(replicas: Replicas) -> None:
    with admin(replicas.servers[0].base_url) as api:
        _, secret = member_with_key(api, "curious")
    reply = httpx.post(
        f"{replicas.servers[0].base_url}/admin/v1/storage_usage/charge",
        headers={"Authorization": f"Bearer {secret}"},
    )
    assert reply.status_code in (401, 403) and "error" in reply.json()


def test_a_counter_not_loaded_is_loaded_before_the_charge_and_counts_it_once(
    replicas: Replicas,
) -> None:
    """With Redis, a replica meeting a budget counter loads it from the ledger. Were the
    charge on the ledger before its counter was loaded, a replica loading it then would
    count the charge, and the charging replica's adjustment would count it again: so the
    charge loads the owner's counters first (here: dropped from Redis, as after an
    eviction, then charged), and the counter ends at its old value plus the charge."""
    if not replicas.database.startswith("postgresql"):
        pytest.skip("one replica's own counters: no other replica loads one meanwhile")
    import redis

    a, b = replicas.servers
    with admin(a.base_url) as api:
        user_id, secret = member_with_key(api, "evicted")
        limited = api.patch(f"/admin/v1/users/{user_id}", json={"budget_usd": "5"})
        assert limited.status_code == 200, limited.text
    client = make_client(a.base_url, secret)
    upload = client.files.create(file=("bread.txt", TEXT.encode()), purpose="assistants")
    _wait_for_level(a, user_id, 0, upload.bytes)
    _embed(b, secret)  # the user's budget counter is loaded (and holds that spend)
    _wait_for_spend_on_ledger(a, user_id)  # a reload reads the ledger: it must hold it
    shared = redis.Redis.from_url(services()["THINKGATE_TEST_REDIS_URL"])
    try:
        [counter] = shared.keys(f"thinkgate:budget:user:{user_id}@*|total")
        before = int(shared.get(counter) or b"0")
        shared.delete(counter)
        replicas.backdate(user_id)
        assert sum(asyncio.run(_charge_everywhere([a.base_url, b.base_url]))) == 1
        with admin(a.base_url) as api:
            rows = api.get("/admin/v1/requests", params={"key_id": user_id}).json()["data"]
        [charge] = [Decimal(row["cost_usd"]) for row in rows if row["model"] == "storage"]
        assert charge == Decimal(upload.bytes * FILE_PRICE) / 10**9
        after = shared.get(counter)
        assert after is not None, "the charge did not load the counter"
        assert int(after) == before + int(charge * 10**12)  # picodollars, counted once
    finally:
        shared.close()
