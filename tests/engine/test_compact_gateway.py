"""`POST /v1/responses/compact` goes through the gateway like any generation: the model
allow-list, the budget and RPM refuse it exactly as they refuse `/v1/responses`, and what
the summary cost lands in the ledger (and the usage API) as one row, endpoint `compact`.
A compaction that fails upstream gives its reservation back; one cut off midway is billed
once, for what was made. Real server, real model (or the stand-in upstream), SQLite then
PostgreSQL + Redis.
"""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal
from typing import Any

import httpx
import pytest

from tests.support.config import channel, server_config
from tests.support.gateway_support import (  # noqa: F401
    Gateway,
    admin_http,
    expected_cost,
    gateway_fixture,
    services,
    shared_env,
)
from tests.support.server import ServerProcess
from tests.support.upstreams import UpstreamProcess

pytestmark = pytest.mark.timeout(600)

HISTORY: list[dict[str, Any]] = [
    {"role": "user", "content": "My name is Ada and I am planning a trip to Lisbon in May."},
    {"role": "assistant", "content": "Lisbon in May is lovely: warm days and few crowds."},
    {"role": "user", "content": "Which day trip would you suggest?"},
]
COMPACT: dict[str, Any] = {"model": "gpt-5.1", "input": HISTORY}
ASK: dict[str, Any] = {"model": "gpt-5.1", "input": "Say hi.", "max_output_tokens": 16}


def post(gateway: Gateway, secret: str, path: str, body: dict[str, Any]) -> httpx.Response:
    return httpx.post(
        f"{gateway.base_url}{path}",
        json=body,
        headers={"Authorization": f"Bearer {secret}"},
        timeout=300,
    )


def error_of(reply: httpx.Response) -> dict[str, Any]:
    error: dict[str, Any] = reply.json()["error"]
    assert set(error) == {"message", "type", "param", "code"}
    return error


def test_a_spent_budget_refuses_compaction_as_it_refuses_responses(gateway: Gateway) -> None:
    key_id, secret = gateway.key(budget_usd="0.0001")  # below one summary's worst case
    generation = post(gateway, secret, "/v1/responses", ASK)
    compaction = post(gateway, secret, "/v1/responses/compact", COMPACT)
    assert generation.status_code == compaction.status_code == 429, compaction.text
    assert error_of(compaction)["code"] == error_of(generation)["code"] == "insufficient_quota"
    assert error_of(compaction)["type"] == "insufficient_quota"
    assert Decimal(gateway.show(key_id)["spend_usd"]) == 0


def test_a_model_outside_the_allow_list_is_refused(gateway: Gateway) -> None:
    _, secret = gateway.key(models=["smollm2-135m-instruct"])
    generation = post(gateway, secret, "/v1/responses", ASK)
    compaction = post(gateway, secret, "/v1/responses/compact", COMPACT)
    assert generation.status_code in (403, 404)
    assert compaction.status_code == generation.status_code, compaction.text
    assert error_of(compaction)["code"] == error_of(generation)["code"]
    assert error_of(compaction)["param"] == "model"
    allowed = {"model": "smollm2-135m-instruct", "input": "Just one question."}
    assert post(gateway, secret, "/v1/responses/compact", allowed).status_code == 200


def test_requests_per_minute_count_compactions(gateway: Gateway) -> None:
    """Sent at once: admission happens when the prompt is tokenised, before the model's
    turn, so both fall in one minute however slow the summary is."""
    _, secret = gateway.key(rpm=1)
    with ThreadPoolExecutor(max_workers=2) as pool:
        replies = list(
            pool.map(lambda _: post(gateway, secret, "/v1/responses/compact", COMPACT), range(2))
        )
    statuses = sorted(reply.status_code for reply in replies)
    assert statuses == [200, 429], [reply.text for reply in replies]
    admitted, refused = sorted(replies, key=lambda reply: reply.status_code)
    assert admitted.headers["x-ratelimit-limit-requests"] == "1"
    assert error_of(refused)["code"] == "rate_limit_exceeded"
    assert int(refused.headers["retry-after"]) >= 1
    after = post(gateway, secret, "/v1/responses", ASK)  # the same window as generations
    assert after.status_code == 429 and error_of(after)["code"] == "rate_limit_exceeded"


def test_a_compaction_is_one_ledger_row_priced_like_a_generation(gateway: Gateway) -> None:
    key_id, secret = gateway.key()
    reply = post(gateway, secret, "/v1/responses/compact", COMPACT)
    assert reply.status_code == 200, reply.text
    compacted = reply.json()
    usage = compacted["usage"]
    assert usage["input_tokens"] > 0 and usage["output_tokens"] > 0
    cost = expected_cost(usage)
    assert Decimal(reply.headers["x-thinkgate-cost-usd"]) == cost

    (row,) = gateway.ledger(key_id, wait_for=1)
    assert row["request_id"] == compacted["id"]
    assert (row["endpoint"], row["model"]) == ("compact", "gpt-5.1")
    assert row["status"] in ("completed", "incomplete")
    assert (row["input_tokens"], row["output_tokens"]) == (
        usage["input_tokens"],
        usage["output_tokens"],
    )
    assert Decimal(row["cost_usd"]) == cost
    assert Decimal(gateway.show(key_id)["spend_usd"]) == cost
    own = httpx.get(
        f"{gateway.base_url}/v1/usage",
        params={"group_by": "key"},
        headers={"Authorization": f"Bearer {secret}"},
    )
    assert own.status_code == 200, own.text
    (line,) = own.json()["data"]
    assert (line["key"], line["requests"]) == (key_id, 1)
    assert Decimal(line["cost_usd"]) == cost
    assert line["output_tokens"] == usage["output_tokens"]


def _config(url: str) -> str:
    return server_config(
        channel(
            "only",
            url,
            {"doomed": "fail500:doomed", "cut": "cut:cut", "thrifty": "ok:thrifty"},
            breaker_failures=1000,
        ),
    )


@pytest.fixture(name="upstream_gateway", scope="module", params=["sqlite", "postgres+redis"])
def upstream_gateway_fixture(
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


BUDGET = "0.0015"  # one summary's worst case (~$0.0009: 96 output tokens), not two


def test_a_compaction_failing_upstream_gives_its_reservation_back(
    upstream_gateway: Gateway,
) -> None:
    gateway = upstream_gateway
    key_id, secret = gateway.key(budget_usd=BUDGET)
    failed = post(gateway, secret, "/v1/responses/compact", {**COMPACT, "model": "doomed"})
    assert failed.status_code == 502, failed.text
    served = post(gateway, secret, "/v1/responses/compact", {**COMPACT, "model": "thrifty"})
    assert served.status_code == 200, served.text  # the failed one's reservation came back
    rows = gateway.ledger(key_id, wait_for=2)
    assert sorted(row["status"] for row in rows) == ["completed", "failed_502"]
    assert {row["endpoint"] for row in rows} == {"compact"}
    (billed,) = [row for row in rows if row["status"] == "completed"]
    assert billed["request_id"] == served.json()["id"]
    assert Decimal(billed["cost_usd"]) == expected_cost(served.json()["usage"])
    assert Decimal(gateway.show(key_id)["spend_usd"]) == Decimal(billed["cost_usd"])


def test_a_compaction_cut_off_midway_is_billed_once(upstream_gateway: Gateway) -> None:
    gateway = upstream_gateway
    key_id, secret = gateway.key(budget_usd=BUDGET)
    cut = post(gateway, secret, "/v1/responses/compact", {**COMPACT, "model": "cut"})
    assert cut.status_code >= 500 and error_of(cut)["type"] == "server_error", cut.text
    (row,) = gateway.ledger(key_id, wait_for=1)
    assert (row["status"], row["endpoint"]) == ("failed", "compact")
    assert row["output_tokens"] > 0  # what the upstream sent before it broke off
    spent = Decimal(gateway.show(key_id)["spend_usd"])
    assert spent == Decimal(row["cost_usd"]) > 0
    served = post(gateway, secret, "/v1/responses/compact", {**COMPACT, "model": "thrifty"})
    assert served.status_code == 200, served.text  # nothing left reserved by the cut one
    rows = gateway.ledger(key_id, wait_for=2)
    assert Decimal(gateway.show(key_id)["spend_usd"]) == sum(
        Decimal(row["cost_usd"]) for row in rows
    )
