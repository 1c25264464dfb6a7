"""Money: exact Decimal cost = tokens × price, the cost header, the ledger for every outcome
(disconnects included), usage roll-ups, and budgets that concurrency cannot overshoot."""

from __future__ import annotations

import json
import socket
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal
from typing import Any

import httpx
import openai
import pytest

from tests.support.gateway_support import Gateway, expected_cost, gateway_fixture  # noqa: F401

COUNT = "Count from one to one hundred: 1, 2, 3,"
ASK: dict[str, Any] = {
    "model": "gpt-5.1",
    "input": COUNT,
    "max_output_tokens": 16,
    "temperature": 0,
}
OUTPUT_PRICE = Decimal("0.000008")
INPUT_PRICE = Decimal("0.000001")


def test_cost_is_tokens_times_price_exactly(gateway: Gateway) -> None:
    key_id, secret = gateway.key()
    # a cache key of its own: nothing cached, so every input token is at the full price
    raw = gateway.sdk(secret).responses.with_raw_response.create(**ASK, prompt_cache_key=key_id)
    response = raw.parse()
    usage = response.usage
    assert usage is not None
    cost = expected_cost(usage.model_dump())
    assert cost == usage.input_tokens * INPUT_PRICE + usage.output_tokens * OUTPUT_PRICE
    assert Decimal(raw.headers["x-thinkgate-cost-usd"]) == cost

    (row,) = gateway.ledger(key_id, wait_for=1)
    assert row["request_id"] == response.id
    assert row["endpoint"] == "responses" and row["model"] == "gpt-5.1"
    assert row["status"] == response.status
    assert (row["input_tokens"], row["output_tokens"]) == (usage.input_tokens, usage.output_tokens)
    assert row["cached_tokens"] == usage.input_tokens_details.cached_tokens
    assert row["reasoning_tokens"] == usage.output_tokens_details.reasoning_tokens
    assert isinstance(row["cost_usd"], str) and Decimal(row["cost_usd"]) == cost
    assert Decimal(gateway.show(key_id)["spend_usd"]) == cost


def test_chat_completions_are_billed(gateway: Gateway) -> None:
    key_id, secret = gateway.key()
    raw = gateway.sdk(secret).chat.completions.with_raw_response.create(
        model="gpt-5.1",
        messages=[{"role": "user", "content": COUNT}],
        max_completion_tokens=16,
        temperature=0,
        prompt_cache_key=key_id,  # nothing cached: every input token at the full price
    )
    usage = raw.parse().usage
    assert usage is not None
    cost = usage.prompt_tokens * INPUT_PRICE + usage.completion_tokens * OUTPUT_PRICE
    assert Decimal(raw.headers["x-thinkgate-cost-usd"]) == cost
    (row,) = gateway.ledger(key_id, wait_for=1)
    assert row["endpoint"] == "completions"
    assert (row["input_tokens"], row["output_tokens"]) == (
        usage.prompt_tokens,
        usage.completion_tokens,
    )
    assert Decimal(row["cost_usd"]) == cost


def test_cached_tokens_are_billed_at_the_cached_price(gateway: Gateway) -> None:
    """A long shared prefix sent twice: whatever the engine reports as cached is billed at
    $0.10/1M and the rest of the input at $1.00/1M, never both."""
    key_id, secret = gateway.key()
    client = gateway.sdk(secret)
    prefix = "You are a careful assistant. " * 20
    usages = []
    for question in ("Say one.", "Say two."):
        raw = client.responses.with_raw_response.create(
            **{**ASK, "instructions": prefix, "input": question}
        )
        usage = raw.parse().usage
        assert usage is not None
        usages.append(usage.model_dump())
        assert Decimal(raw.headers["x-thinkgate-cost-usd"]) == expected_cost(usages[-1])
    rows = gateway.ledger(key_id, wait_for=2)
    for row, usage in zip(reversed(rows), usages, strict=True):
        assert row["cached_tokens"] == usage["input_tokens_details"]["cached_tokens"]
        assert row["cached_tokens"] <= row["input_tokens"]
        assert Decimal(row["cost_usd"]) == expected_cost(usage)
    second = usages[1]
    cached = second["input_tokens_details"]["cached_tokens"]
    full = second["input_tokens"] * INPUT_PRICE + second["output_tokens"] * OUTPUT_PRICE
    assert expected_cost(second) == full - cached * (INPUT_PRICE - Decimal("0.0000001"))


def test_usage_rolls_up_by_day_model_and_key(gateway: Gateway) -> None:
    key_id, secret = gateway.key()
    client = gateway.sdk(secret)
    for _ in range(2):
        client.responses.create(**ASK)
    rows = gateway.ledger(key_id, wait_for=2)
    total = sum(Decimal(row["cost_usd"]) for row in rows)
    for group_by in ("day", "model", "key"):
        reply = gateway.admin.get(
            "/admin/v1/usage", params={"group_by": group_by, "key_id": key_id}
        )
        assert reply.status_code == 200, reply.text
        (line,) = reply.json()["data"]
        assert line["requests"] == 2
        assert Decimal(line["cost_usd"]) == total
        assert line["output_tokens"] == sum(row["output_tokens"] for row in rows)
    assert gateway.admin.get("/admin/v1/usage", params={"group_by": "week"}).status_code == 400
    own = httpx.get(
        f"{gateway.base_url}/v1/usage",
        params={"group_by": "key"},
        headers={"Authorization": f"Bearer {secret}"},
    )
    assert own.status_code == 200, own.text
    (line,) = own.json()["data"]  # a member sees their own keys only
    assert line["key"] == key_id and Decimal(line["cost_usd"]) == total


def test_client_disconnect_mid_stream_is_billed(gateway: Gateway) -> None:
    key_id, secret = gateway.key()
    body = {**ASK, "max_output_tokens": 400, "stream": True, "prompt_cache_key": key_id}
    deltas = 0
    with httpx.stream(
        "POST",
        f"{gateway.base_url}/v1/responses",
        json=body,
        headers={"Authorization": f"Bearer {secret}"},
        timeout=60,
    ) as reply:
        assert reply.status_code == 200
        for line in reply.iter_lines():
            if line.startswith("data:") and "output_text.delta" in line:
                deltas += 1
                if deltas == 5:
                    break  # leave mid-stream
    (row,) = gateway.ledger(key_id, wait_for=1)
    assert row["status"] == "cancelled"
    assert row["output_tokens"] >= deltas
    assert row["output_tokens"] < 400
    cost = row["input_tokens"] * INPUT_PRICE + row["output_tokens"] * OUTPUT_PRICE
    assert Decimal(row["cost_usd"]) == cost
    assert Decimal(gateway.show(key_id)["spend_usd"]) == cost


def test_client_gone_while_sending_leaves_nothing_to_bill(gateway: Gateway) -> None:
    """The request is sent whole and the socket closed at once: the server sees the client
    gone while reading the body, runs nothing, bills nothing, and keeps serving."""
    key_id, secret = gateway.key(budget_usd="1.00")
    body = json.dumps({**ASK, "max_output_tokens": 400, "stream": True}).encode()
    host, port = gateway.base_url.removeprefix("http://").split(":")
    head = (
        f"POST /v1/responses HTTP/1.1\r\nHost: {host}\r\nAuthorization: Bearer {secret}\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
    )
    with socket.create_connection((host, int(port))) as sock:
        sock.sendall(head.encode() + body)
        sock.shutdown(socket.SHUT_RDWR)
    after = gateway.sdk(secret).responses.create(**ASK)  # still served, budget intact
    rows = gateway.ledger(key_id, wait_for=1)
    assert [row["request_id"] for row in rows][:1] == [after.id]
    spent = Decimal(gateway.show(key_id)["spend_usd"])
    assert spent == sum(Decimal(row["cost_usd"]) for row in rows)


def test_budget_exhaustion_is_insufficient_quota(gateway: Gateway) -> None:
    _, secret = gateway.key(budget_usd="0.0001")  # below one request's worst case
    with pytest.raises(openai.RateLimitError) as caught:
        gateway.sdk(secret).responses.create(**ASK)
    assert caught.value.status_code == 429
    assert caught.value.code == "insufficient_quota"
    assert caught.value.type == "insufficient_quota"
    body = json.loads(caught.value.response.text)
    assert set(body["error"]) == {"message", "type", "param", "code"}


@pytest.mark.timeout(900)  # ten generations take turns on the one model
def test_fifty_concurrent_requests_never_overshoot_the_budget(gateway: Gateway) -> None:
    probe_id, probe = gateway.key()
    calibration = gateway.sdk(probe).responses.create(**ASK)
    assert calibration.status == "incomplete"  # always the full 16 tokens: cost == worst case
    assert calibration.usage is not None
    worst = calibration.usage.input_tokens * INPUT_PRICE + 16 * OUTPUT_PRICE
    budget = worst * 10
    key_id, secret = gateway.key(budget_usd=str(budget))
    client = gateway.sdk(secret).with_options(timeout=900)

    def one(n: int) -> str:
        try:  # a cache key each: no answer is cheaper than the worst case
            client.responses.create(**ASK, prompt_cache_key=f"{key_id}-{n}")
        except openai.RateLimitError as error:
            return str(error.code)
        return "ok"

    with ThreadPoolExecutor(max_workers=50) as pool:
        outcomes = list(pool.map(one, range(50)))
    succeeded = outcomes.count("ok")
    assert 1 <= succeeded <= 10, outcomes
    assert outcomes.count("insufficient_quota") == 50 - succeeded
    spend = Decimal(gateway.show(key_id)["spend_usd"])
    assert spend <= budget
    assert spend == worst * succeeded
    assert len(gateway.ledger(key_id, wait_for=succeeded)) == succeeded
    assert gateway.ledger(probe_id, wait_for=1)
