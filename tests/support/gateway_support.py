"""Gateway test helpers: an admin client, and the server fixture run twice — on the session's
SQLite server, and on the session's one backed by PostgreSQL + Redis (`scripts/test-services.sh`
starts those; where they cannot be installed the second run skips, saying why)."""

from __future__ import annotations

import asyncio
import secrets
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest
from openai import OpenAI

from tests.support.server import ADMIN_KEY, ServerProcess, make_client

ROOT = Path(__file__).resolve().parents[2]
SERVICES_ENV = Path("/tmp/thinkgate-services/env")
PEPPER = "test-pepper-shared-by-replicas"
PER_TOKEN = {
    "input": Decimal("0.000001"),
    "cached": Decimal("0.0000001"),
    "output": Decimal("0.000008"),
}


def expected_cost(usage: dict[str, Any]) -> Decimal:
    """gpt-5.1's default prices: $1.00 / $0.10 / $8.00 per 1M; cached is part of input."""
    cached = usage["input_tokens_details"]["cached_tokens"]
    return (
        (usage["input_tokens"] - cached) * PER_TOKEN["input"]
        + cached * PER_TOKEN["cached"]
        + usage["output_tokens"] * PER_TOKEN["output"]
    )


_started: list[bool] = []


def services() -> dict[str, str]:
    """The PostgreSQL + Redis URLs, starting them if needed; skips with the reason if not."""
    if not _started:  # idempotent: starts whatever is not running (make test ran it already)
        subprocess.run(["bash", str(ROOT / "scripts/test-services.sh")], check=False)
        _started.append(True)
    values = dict(
        line.split("=", 1) for line in SERVICES_ENV.read_text().splitlines() if "=" in line
    )
    if "SKIP_REASON" in values:
        pytest.skip(f"PostgreSQL + Redis unavailable: {values['SKIP_REASON']}")
    return values


def new_database(values: dict[str, str]) -> str:
    import asyncpg

    name = "tg_" + secrets.token_hex(6)

    async def create() -> None:
        connection = await asyncpg.connect(values["THINKGATE_TEST_PG_ADMIN_URL"])
        try:
            await connection.execute(f'CREATE DATABASE "{name}"')
        finally:
            await connection.close()

    asyncio.run(create())
    return f"{values['THINKGATE_TEST_PG_URL_BASE']}/{name}"


def shared_env(values: dict[str, str]) -> dict[str, str]:
    return {
        "THINKGATE_DATABASE_URL": new_database(values),
        "THINKGATE_REDIS_URL": values["THINKGATE_TEST_REDIS_URL"],
        "THINKGATE_KEY_PEPPER": PEPPER,
    }


@dataclass
class Gateway:
    """One server, seen by its administrator."""

    base_url: str
    admin: httpx.Client

    def user(self, role: str = "member") -> str:
        reply = self.admin.post("/admin/v1/users", json={"name": f"u-{role}", "role": role})
        assert reply.status_code == 201, reply.text
        return str(reply.json()["id"])

    def key(self, **fields: Any) -> tuple[str, str]:
        """(key id, secret) of a new key for a new member, with these limits."""
        fields.setdefault("user_id", self.user())
        reply = self.admin.post("/admin/v1/keys", json={"name": "test", **fields})
        assert reply.status_code == 201, reply.text
        body = reply.json()
        assert body["key"].startswith("sk-tg-")
        return str(body["id"]), str(body["key"])

    def sdk(self, secret: str) -> OpenAI:
        return make_client(self.base_url, secret)

    def show(self, key_id: str) -> dict[str, Any]:
        reply = self.admin.get(f"/admin/v1/keys/{key_id}")
        assert reply.status_code == 200, reply.text
        return dict(reply.json())

    def ledger(self, key_id: str, *, wait_for: int = 0) -> list[dict[str, Any]]:
        """Ledger rows of a key, newest first (waiting up to 60 s for `wait_for` rows: a
        cancelled run settles once the backend has stopped, slow on a loaded machine)."""
        deadline = time.monotonic() + 60
        while True:
            reply = self.admin.get("/admin/v1/requests", params={"key_id": key_id})
            assert reply.status_code == 200, reply.text
            rows: list[dict[str, Any]] = reply.json()["data"]
            if len(rows) >= wait_for or time.monotonic() > deadline:
                return rows
            time.sleep(0.1)


def admin_http(base_url: str) -> httpx.Client:
    return httpx.Client(
        base_url=base_url, headers={"Authorization": f"Bearer {ADMIN_KEY}"}, timeout=120
    )


@pytest.fixture(name="gateway", scope="module", params=["sqlite", "postgres+redis"])
def gateway_fixture(request: pytest.FixtureRequest) -> Iterator[Gateway]:
    name = "server" if request.param == "sqlite" else "pg_server"
    process: ServerProcess = request.getfixturevalue(name)
    with admin_http(process.base_url) as http:
        yield Gateway(process.base_url, http)
