"""Wallets and codes across two replicas on one PostgreSQL + Redis: 100 concurrent
redemptions of one code (half on each replica) succeed exactly once; 200 concurrent
requests on a small balance (half on each replica) never take it below zero."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from decimal import Decimal

import httpx
import pytest

from tests.support.billing_support import SMALL, admin, billing_config, codes, member_with_key
from tests.support.gateway_support import services, shared_env
from tests.support.server import ServerProcess


@pytest.fixture(scope="module")
def replicas(tmp_path_factory: pytest.TempPathFactory) -> Iterator[list[ServerProcess]]:
    env = shared_env(services())
    root = tmp_path_factory.mktemp("wallet-replicas")
    config = billing_config(root / "config.toml")
    started: list[ServerProcess] = []
    try:
        for name in ("a", "b"):
            (root / name).mkdir()
            started.append(ServerProcess(root / name / "data", config=config, extra_env=env))
        yield started
    finally:
        for process in started:
            process.stop()


async def _all(
    urls: list[str], secrets: list[str], path: str, body: object
) -> list[httpx.Response]:
    limits = httpx.Limits(max_connections=200)
    async with httpx.AsyncClient(timeout=600, limits=limits) as client:
        return await asyncio.gather(
            *(
                client.post(
                    f"{url}{path}", json=body, headers={"Authorization": f"Bearer {secret}"}
                )
                for url, secret in zip(urls, secrets, strict=True)
            )
        )


def test_one_code_redeemed_once_across_replicas(replicas: list[ServerProcess]) -> None:
    a, b = replicas
    with admin(a.base_url) as api:
        users = [member_with_key(api, f"racer-{n}") for n in range(4)]
        code = codes(api, "7")["codes"][0]
    urls = [(a if n % 2 else b).base_url for n in range(100)]
    secrets = [users[n % 4][1] for n in range(100)]
    replies = asyncio.run(_all(urls, secrets, "/v1/wallet/redeem", {"code": code}))
    statuses = sorted(r.status_code for r in replies)
    assert statuses == [200] + [400] * 99, statuses
    refused = {r.json()["error"]["code"] for r in replies if r.status_code == 400}
    assert refused == {"code_used"}
    with admin(b.base_url) as api:
        balances = [
            Decimal(api.get(f"/admin/v1/users/{u}/wallet").json()["balance_usd"]) for u, _ in users
        ]
        assert sorted(balances) == [0, 0, 0, Decimal(7)]
        used = api.get("/admin/v1/audit", params={"action": "wallet.redeemed"}).json()["data"]
        assert len(used) == 1


def test_many_requests_never_overdraw(replicas: list[ServerProcess]) -> None:
    a, b = replicas
    with admin(a.base_url) as api:
        user_id, secret = member_with_key(api, "crowd")
        credit = api.post(
            f"/admin/v1/users/{user_id}/wallet/adjustments",
            json={"amount_usd": "0.0005", "reason": "a small balance"},
        )
        assert credit.status_code == 201
    urls = [(a if n % 2 else b).base_url for n in range(200)]
    replies = asyncio.run(_all(urls, [secret] * 200, "/v1/responses", SMALL))
    served = [r for r in replies if r.status_code == 200]
    refused = [r for r in replies if r.status_code == 429]
    assert len(served) + len(refused) == 200
    assert {r.json()["error"]["code"] for r in refused} == {"insufficient_quota"}
    assert 1 <= len(served) <= 4  # what $0.0005 holds at the worst case of each
    billed = sum(Decimal(r.headers["x-thinkgate-cost-usd"]) for r in served)
    deadline = time.monotonic() + 60  # the ledger settles in batches, off the request path
    with admin(b.base_url) as api:
        while True:
            wallet = api.get(f"/admin/v1/users/{user_id}/wallet").json()
            assert Decimal(wallet["balance_usd"]) >= 0
            if Decimal(wallet["spent_usd"]) == billed or time.monotonic() > deadline:
                break
            time.sleep(0.2)
    assert Decimal(wallet["spent_usd"]) == billed  # every answer drawn, nothing more
