"""`context_management: [{"type": "compaction", "compact_threshold": N}]` on
`POST /v1/responses`: past the threshold the older turns are compacted before generation,
the compaction item comes first in `output`, and the answer follows. The compaction's own
model call is admitted and billed as its own ledger row (under the compaction item's id);
the response's `usage` is its generation's, so the two rows add up to what was charged.
Real server, real SDK, real model.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import httpx
import pytest
from openai import OpenAI
from openai.types.responses import ResponseCompactionItem, ResponseOutputMessage

from tests.support.checks import check_stream_grammar
from tests.support.gateway_support import Gateway, admin_http, expected_cost
from tests.support.server import ServerProcess

pytestmark = pytest.mark.timeout(600)

HISTORY: list[dict[str, Any]] = [
    {"role": "user", "content": "My name is Ada and I am planning a trip to Lisbon in May."},
    {"role": "assistant", "content": "Lisbon in May is lovely: warm days and few crowds."},
    {"role": "user", "content": "I like museums, old trams and seafood. I travel with my son."},
    {"role": "assistant", "content": "Take tram 28, visit the Gulbenkian and try the clams."},
    {"role": "user", "content": "Which day trip would you suggest?"},
]
FOLLOW_UP = {"role": "user", "content": "And where should we eat?"}


def compaction(threshold: int | None = 20) -> list[dict[str, Any]]:
    entry: dict[str, Any] = {"type": "compaction"}
    if threshold is not None:
        entry["compact_threshold"] = threshold
    return [entry]


@pytest.fixture(name="gateway", scope="module")
def gateway_fixture(server: ServerProcess) -> Iterator[Gateway]:
    with admin_http(server.base_url) as http:
        yield Gateway(server.base_url, http)


def create(client: OpenAI, **params: Any) -> tuple[Any, httpx.Response]:
    params.setdefault("model", "gpt-5.1")
    params.setdefault("temperature", 0)
    params.setdefault("max_output_tokens", 16)
    raw = client.responses.with_raw_response.create(**params)
    return raw.parse(), raw.http_response


def counted(http: httpx.Client, items: list[Any]) -> int:
    reply = http.post("/v1/responses/input_tokens", json={"model": "gpt-5.1", "input": items})
    assert reply.status_code == 200, reply.text
    return int(reply.json()["input_tokens"])


def test_past_the_threshold_older_turns_are_compacted_first(
    gateway: Gateway, http: httpx.Client
) -> None:
    key_id, secret = gateway.key()
    response, reply = create(gateway.sdk(secret), input=HISTORY, context_management=compaction(20))
    first, *rest = response.output
    assert isinstance(first, ResponseCompactionItem) and first.id.startswith("cmp_")
    assert first.encrypted_content and "Lisbon" not in first.encrypted_content  # sealed
    assert rest and isinstance(rest[0], ResponseOutputMessage)
    assert response.status in ("completed", "incomplete") and response.output_text
    assert response.usage.input_tokens < counted(http, HISTORY)  # read from the summary

    rows = {row["request_id"]: row for row in gateway.ledger(key_id, wait_for=2)}
    assert set(rows) == {first.id, response.id}  # the summary, then the answer: once each
    summary, answer = rows[first.id], rows[response.id]
    assert summary["output_tokens"] > 0 and summary["input_tokens"] > 0
    usage = response.usage.model_dump()
    assert (answer["input_tokens"], answer["output_tokens"]) == (
        usage["input_tokens"],
        usage["output_tokens"],
    )
    assert Decimal(answer["cost_usd"]) == expected_cost(usage)
    charged = Decimal(summary["cost_usd"]) + Decimal(answer["cost_usd"])
    assert Decimal(reply.headers["x-thinkgate-cost-usd"]) == charged
    assert Decimal(gateway.show(key_id)["spend_usd"]) == charged


def test_streamed_then_continued(client: OpenAI, http: httpx.Client) -> None:
    """The compaction item is announced first; the next turn, sent as usual (the output
    appended, or chained by id), reads from it: what precedes the compaction item is
    superseded, so its prompt is shorter than the same turns never compacted. Under a
    threshold it does not pass, that turn compacts nothing."""
    stream = client.responses.create(
        model="gpt-5.1",
        input=HISTORY,  # type: ignore[arg-type]
        temperature=0,
        max_output_tokens=16,
        context_management=compaction(20),  # type: ignore[arg-type]
        stream=True,
    )
    events = [event.model_dump(exclude_unset=True) for event in stream]
    check_stream_grammar(events)
    added = [event for event in events if event["type"] == "response.output_item.added"]
    assert added[0]["item"]["type"] == "compaction" and added[0]["output_index"] == 0
    assert added[1]["item"]["type"] == "message" and added[1]["output_index"] == 1
    first = events[-1]["response"]
    answered = first["output"]
    assert [item["type"] for item in answered] == ["compaction", "message"]

    appended, _ = create(
        client,
        input=[*HISTORY, *answered, FOLLOW_UP],
        context_management=compaction(100_000),
    )
    assert [item.type for item in appended.output] == ["message"]  # within: not compacted
    whole = counted(http, [*HISTORY, answered[1], FOLLOW_UP])
    assert appended.usage.input_tokens < whole
    chained, _ = create(client, input=[FOLLOW_UP], previous_response_id=first["id"])
    assert chained.usage.input_tokens == appended.usage.input_tokens
    assert chained.output_text


def test_within_the_default_threshold_nothing_is_compacted(gateway: Gateway) -> None:
    """No threshold: the model's own, 90% of its window (`auto_compact_token_limit`)."""
    key_id, secret = gateway.key()
    response, _ = create(gateway.sdk(secret), input=HISTORY, context_management=compaction(None))
    assert [item.type for item in response.output] == ["message"]
    (row,) = gateway.ledger(key_id, wait_for=1)
    assert row["request_id"] == response.id


@pytest.mark.parametrize(
    ("entries", "param"),
    [
        ([{"type": "truncation", "compact_threshold": 100}], "context_management[0].type"),
        ([{"compact_threshold": 100}], "context_management[0].type"),
        (
            [{"type": "compaction", "compact_threshold": 0}],
            "context_management[0].compact_threshold",
        ),
        (
            [{"type": "compaction", "compact_threshold": -5}],
            "context_management[0].compact_threshold",
        ),
        (
            [{"type": "compaction", "compact_threshold": 1.5}],
            "context_management[0].compact_threshold",
        ),
        (
            [{"type": "compaction", "compact_threshold": "100"}],
            "context_management[0].compact_threshold",
        ),
        (
            [{"type": "compaction", "compact_threshold": True}],
            "context_management[0].compact_threshold",
        ),
        ([{"type": "compaction", "threshold": 100}], "context_management[0].threshold"),
        ([{"type": "compaction"}, {"type": "compaction"}], "context_management"),
        ({"type": "compaction"}, "context_management"),
    ],
)
def test_bad_context_management_is_a_400(http: httpx.Client, entries: Any, param: str) -> None:
    body = {"model": "gpt-5.1", "input": "Hi", "context_management": entries}
    reply = http.post("/v1/responses", content=json.dumps(body))
    assert reply.status_code == 400, reply.text
    error = reply.json()["error"]
    assert set(error) == {"message", "type", "param", "code"}
    assert (error["type"], error["param"]) == ("invalid_request_error", param)
