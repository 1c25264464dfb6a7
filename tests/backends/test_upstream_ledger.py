"""Every outcome of an upstream request lands in the ledger: the channel that served
(after failover), and a row for requests that failed before their first byte (upstreams
exhausted, an upstream's 4xx, the client gone while the upstream was still silent).
A request the gateway refuses (rate limit, budget) never reaches the upstream, and one that
fails there gives back what its admission reserved.

Run on SQLite and on PostgreSQL + Redis, against the misbehaving stand-in upstream.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import httpx
import openai
import pytest

from tests.support.config import channel, server_config
from tests.support.gateway_support import Gateway, admin_http, services, shared_env
from tests.support.server import ServerProcess
from tests.support.upstreams import UpstreamProcess


def _config(url: str) -> str:
    return server_config(
        channel(
            "first",
            url,
            {
                "flaky": "fail500:flaky",
                "doomed": "fail500:doomed",
                "stuck": "hang:stuck",
                "rejects": "fail400:rejects",
                "waits": "hang:waits",
                "limited": "ok:limited",
                "thrifty": "ok:thrifty",
            },
            priority=1,
            breaker_failures=1000,
            timeouts={"first_byte": 1.0},
        ),
        channel("second", url, {"flaky": "ok:flaky-b", "waits": "ok:waits-b"}, priority=2),
        channel("throttled", url, {"swamped": "limit429:swamped"}),
    )


@pytest.fixture(scope="module", params=["sqlite", "postgres+redis"])
def gateway(
    request: pytest.FixtureRequest,
    tmp_path_factory: pytest.TempPathFactory,
    standin: UpstreamProcess,
) -> Iterator[Gateway]:
    env = shared_env(services()) if request.param == "postgres+redis" else None
    config = tmp_path_factory.mktemp("config") / "thinkgate.toml"
    config.write_text(_config(standin.base_url))
    process = ServerProcess(tmp_path_factory.mktemp("front") / "data", config=config, extra_env=env)
    try:
        with admin_http(process.base_url) as http:
            yield Gateway(process.base_url, http)
    finally:
        process.stop()


def _only_row(gateway: Gateway, key_id: str) -> dict[str, Any]:
    rows = gateway.ledger(key_id, wait_for=1)
    assert len(rows) == 1, rows
    return rows[0]


def test_the_channel_that_served_after_failover_is_recorded(gateway: Gateway) -> None:
    key_id, secret = gateway.key()
    response = gateway.sdk(secret).responses.create(model="flaky", input="hi")
    row = _only_row(gateway, key_id)
    assert row["request_id"] == response.id
    assert row["channel"] == "second"  # not "first", which answered 500
    assert row["status"] == "completed"
    assert (row["input_tokens"], row["output_tokens"]) == (42, 9)


def test_every_channel_failing_is_a_502_row(gateway: Gateway) -> None:
    key_id, secret = gateway.key()
    with pytest.raises(openai.InternalServerError) as caught:
        gateway.sdk(secret).responses.create(model="doomed", input="hi")
    assert caught.value.status_code == 502
    row = _only_row(gateway, key_id)
    assert (row["status"], row["channel"], row["model"]) == ("failed_502", "first", "doomed")
    assert (row["input_tokens"], row["output_tokens"], row["cost_usd"]) == (0, 0, "0")


def test_timeout_before_the_first_byte_is_a_504_row(gateway: Gateway) -> None:
    key_id, secret = gateway.key()
    with pytest.raises(openai.InternalServerError) as caught:
        gateway.sdk(secret).chat.completions.create(
            model="stuck", messages=[{"role": "user", "content": "hi"}]
        )
    assert caught.value.status_code == 504
    row = _only_row(gateway, key_id)
    assert (row["status"], row["channel"], row["endpoint"]) == (
        "failed_504",
        "first",
        "completions",
    )


def test_only_rate_limited_upstreams_is_a_503_row(gateway: Gateway) -> None:
    key_id, secret = gateway.key()
    with pytest.raises(openai.InternalServerError) as caught:
        gateway.sdk(secret).responses.create(model="swamped", input="hi")
    assert caught.value.status_code == 503
    row = _only_row(gateway, key_id)
    assert row["status"] == "failed_503"
    assert row["channel"] == "throttled"


def test_an_upstream_4xx_is_a_400_row(gateway: Gateway) -> None:
    key_id, secret = gateway.key()
    with pytest.raises(openai.BadRequestError):
        gateway.sdk(secret).responses.create(model="rejects", input="hi")
    row = _only_row(gateway, key_id)
    assert (row["status"], row["channel"], row["output_tokens"]) == ("failed_400", "first", 0)


def test_client_gone_before_the_first_byte_still_lands(gateway: Gateway) -> None:
    """The first channel is silent for its whole first-byte window; the client leaves
    during it. The failover still runs and settles: one row, for the channel that served."""
    key_id, secret = gateway.key()
    payload = {"model": "waits", "input": "hi", "stream": True}
    headers = {"Authorization": f"Bearer {secret}"}
    with pytest.raises(httpx.ReadTimeout):
        httpx.post(f"{gateway.base_url}/v1/responses", json=payload, headers=headers, timeout=0.3)
    time.sleep(0.2)
    row = _only_row(gateway, key_id)
    assert row["channel"] == "second"
    assert row["status"] in ("cancelled", "completed", "incomplete")


def _hits(standin: UpstreamProcess, model: str) -> int:
    return int(httpx.get(f"{standin.base_url}/stats").json()["hits"].get(model, 0))


def test_a_request_refused_by_the_gateway_never_reaches_the_upstream(
    gateway: Gateway, standin: UpstreamProcess
) -> None:
    hi = [{"role": "user", "content": "hi"}]
    _, limited = gateway.key(rpm=1)
    before = _hits(standin, "ok:limited")
    gateway.sdk(limited).chat.completions.create(model="limited", messages=hi)
    with pytest.raises(openai.RateLimitError, match="Rate limit"):
        gateway.sdk(limited).chat.completions.create(model="limited", messages=hi)
    assert _hits(standin, "ok:limited") == before + 1  # the refused one was never sent

    _, broke = gateway.key(budget_usd="0.0001")  # below the worst case of 16 output tokens
    before = _hits(standin, "ok:thrifty")
    with pytest.raises(openai.RateLimitError) as caught:
        gateway.sdk(broke).responses.create(model="thrifty", input="hi", max_output_tokens=16)
    assert caught.value.code == "insufficient_quota"
    assert _hits(standin, "ok:thrifty") == before


def test_a_request_failing_upstream_gives_its_reservation_back(gateway: Gateway) -> None:
    """The budget covers one request's worst case, not two: a reservation kept by the
    failed request would refuse the next one."""
    key_id, secret = gateway.key(budget_usd="0.0002", tpm=200)  # worst case: ~$0.00014
    ask = {"input": "hi", "max_output_tokens": 16}
    with pytest.raises(openai.InternalServerError):
        gateway.sdk(secret).responses.create(model="doomed", **ask)
    served = gateway.sdk(secret).responses.create(model="thrifty", **ask)
    assert served.status == "completed"
    rows = gateway.ledger(key_id, wait_for=2)
    assert sorted(row["status"] for row in rows) == ["completed", "failed_502"]
    assert [row["cost_usd"] for row in rows if row["status"] == "failed_502"] == ["0"]
