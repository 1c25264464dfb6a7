"""Two replicas on one PostgreSQL + Redis: one budget and one rate limit across both, and a
revocation on one refused by the other within a second."""

from __future__ import annotations

import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal
from typing import Any

import httpx
import openai
import pytest

from tests.support.gateway_support import Gateway, admin_http, services, shared_env
from tests.support.server import ServerProcess

ASK: dict[str, Any] = {
    "model": "gpt-5.1",
    "input": "Count from one to one hundred: 1, 2, 3,",
    "max_output_tokens": 16,
    "temperature": 0,
}


@pytest.fixture(scope="module")
def replicas(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Gateway, Gateway]]:
    env = shared_env(services())
    first = ServerProcess(tmp_path_factory.mktemp("replica-a") / "data", extra_env=env)
    second = None
    try:
        second = ServerProcess(tmp_path_factory.mktemp("replica-b") / "data", extra_env=env)
        with admin_http(first.base_url) as a, admin_http(second.base_url) as b:
            yield Gateway(first.base_url, a), Gateway(second.base_url, b)
    finally:
        first.stop()
        if second is not None:
            second.stop()


def test_one_rate_limit_across_replicas(replicas: tuple[Gateway, Gateway]) -> None:
    """Four requests at once, two on each replica, on a key allowed two a minute."""
    a, b = replicas
    _, secret = a.key(rpm=2)
    clients = [a.sdk(secret), b.sdk(secret)] * 2  # a key made on A works on B

    def one(client: openai.OpenAI) -> str:
        try:
            client.responses.create(**ASK)
        except openai.RateLimitError as error:
            assert error.response.headers["x-ratelimit-remaining-requests"] == "0"
            return str(error.code)
        return "ok"

    with ThreadPoolExecutor(max_workers=4) as pool:
        outcomes = list(pool.map(one, clients))
    assert sorted(outcomes) == ["ok", "ok", "rate_limit_exceeded", "rate_limit_exceeded"]


def test_one_budget_across_replicas(replicas: tuple[Gateway, Gateway]) -> None:
    a, b = replicas
    calibration = a.sdk(a.key()[1]).responses.create(**ASK)
    assert calibration.status == "incomplete" and calibration.usage is not None
    worst = calibration.usage.input_tokens * Decimal("0.000001") + 16 * Decimal("0.000008")
    key_id, secret = a.key(budget_usd=str(worst * 2))
    # cache keys of their own: neither answer is cheaper than the worst case
    a.sdk(secret).responses.create(**ASK, prompt_cache_key=f"{key_id}-a")
    b.sdk(secret).responses.create(**ASK, prompt_cache_key=f"{key_id}-b")
    for replica in (a, b):
        with pytest.raises(openai.RateLimitError) as caught:
            replica.sdk(secret).responses.create(**ASK)
        assert caught.value.code == "insufficient_quota"
    assert Decimal(b.show(key_id)["spend_usd"]) == worst * 2


def test_revocation_reaches_the_other_replica_within_a_second(
    replicas: tuple[Gateway, Gateway],
) -> None:
    a, b = replicas
    key_id, secret = a.key()
    headers = {"Authorization": f"Bearer {secret}"}
    assert httpx.get(f"{b.base_url}/v1/models", headers=headers).status_code == 200  # cached
    assert a.admin.delete(f"/admin/v1/keys/{key_id}").status_code == 200
    revoked_at = time.monotonic()
    while httpx.get(f"{b.base_url}/v1/models", headers=headers).status_code == 200:
        assert time.monotonic() - revoked_at < 1.0, "replica B still accepts a revoked key"
        time.sleep(0.02)
    assert httpx.get(f"{a.base_url}/v1/models", headers=headers).status_code == 401
