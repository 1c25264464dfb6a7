"""WebSocket mode on `/v1/responses`, driven by the openai SDK's own Responses WebSocket
client (`client.responses.connect()`) and, for what the SDK will not send (a message that is
not JSON, a socket dropped mid-response), by the `websockets` package: auth on upgrade,
several responses per connection with the events a streamed POST sends, `generate: false`,
errors as events on a connection that stays open, limits, and billing exactly once."""

from __future__ import annotations

import json
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import httpx
import pytest
from openai import OpenAI
from openai.types.responses import ResponseStreamEvent
from pydantic import TypeAdapter
from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.sync.client import ClientConnection, connect

from tests.support.checks import check_stream_grammar
from tests.support.gateway_support import Gateway, admin_http, expected_cost
from tests.support.server import ADMIN_KEY, ServerProcess, make_client

EVENT = TypeAdapter(ResponseStreamEvent)
TERMINAL = {"response.completed", "response.incomplete", "response.failed"}
ASK: dict[str, Any] = {
    "type": "response.create",
    "model": "gpt-5.1",
    "input": "Write one sentence about the sea.",
    "temperature": 0,
    "max_output_tokens": 200,
}
SHORT = {**ASK, "max_output_tokens": 16}  # where how the answer ends does not matter
ENDED = {"response.completed", "response.incomplete"}


@pytest.fixture(scope="module")
def gateway(server: ServerProcess) -> Iterator[Gateway]:
    with admin_http(server.base_url) as http:
        yield Gateway(server.base_url, http)


def ws_url(base_url: str) -> str:
    return base_url.replace("http://", "ws://") + "/v1/responses"


def open_socket(base_url: str, key: str | None = ADMIN_KEY) -> ClientConnection:
    headers = {"Authorization": f"Bearer {key}"} if key is not None else {}
    return connect(ws_url(base_url), additional_headers=headers, open_timeout=30)


def receive(ws: ClientConnection) -> dict[str, Any]:
    event: dict[str, Any] = json.loads(ws.recv(timeout=120))
    return event


def one_response(ws: ClientConnection, message: dict[str, Any]) -> list[dict[str, Any]]:
    """Send one `response.create`; its events up to the terminal one (or one error)."""
    ws.send(json.dumps(message))
    events = [receive(ws)]
    while events[-1]["type"] not in TERMINAL | {"error"}:
        events.append(receive(ws))
    return events


def test_the_upgrade_needs_a_valid_key(server: ServerProcess) -> None:
    for key, words in [(None, "You didn't provide an API key"), ("sk-nope", "Incorrect API key")]:
        with pytest.raises(InvalidStatus) as refused:
            open_socket(server.base_url, key)
        reply = refused.value.response
        assert reply.status_code == 401
        error = json.loads(bytes(reply.body or b""))["error"]
        assert error["type"] == "invalid_request_error" and words in error["message"]


def test_two_responses_on_one_connection_with_the_sdk(client: OpenAI) -> None:
    """The SDK's WebSocket client, its bearer key on the upgrade: each response's events
    are the openai SDK's stream event types, in the streamed POST's grammar."""
    finals = []
    with client.responses.connect() as connection:
        for _ in range(2):
            connection.send(ASK)  # type: ignore[arg-type]
            events = [json.loads(connection.recv_bytes())]
            while events[-1]["type"] not in TERMINAL | {"error"}:
                events.append(json.loads(connection.recv_bytes()))
            for event in events:
                EVENT.validate_python(event)  # strict: every field the SDK's types have
            check_stream_grammar(events)
            assert events[-1]["type"] == "response.completed"
            finals.append(events[-1]["response"])
    first, second = finals
    assert first["id"] != second["id"]
    for final in finals:
        assert final["usage"]["output_tokens"] > 0 and final["output"][0]["type"] == "message"
        stored = client.responses.retrieve(final["id"])  # stored as a POST's would be
        assert stored.output_text == final["output"][0]["content"][0]["text"]


def test_generate_false_prepares_a_response_to_chain_from(
    server: ServerProcess, client: OpenAI
) -> None:
    with open_socket(server.base_url) as ws:
        warm = one_response(
            ws,
            {
                "type": "response.create",
                "model": "gpt-5.1",
                "instructions": "Answer in one short sentence.",
                "input": "My name is Zorblax.",
                "generate": False,
            },
        )
        assert [e["type"] for e in warm] == [
            "response.created",
            "response.in_progress",
            "response.completed",
        ]
        check_stream_grammar(warm)
        prepared = warm[-1]["response"]
        assert prepared["output"] == [] and prepared["usage"]["total_tokens"] == 0
        turn = one_response(
            ws,
            {**SHORT, "input": "What is my name?", "previous_response_id": prepared["id"]},
        )
    assert turn[-1]["type"] in ENDED
    assert turn[-1]["response"]["previous_response_id"] == prepared["id"]
    items = client.responses.input_items.list(turn[-1]["response"]["id"], order="asc")
    texts = [item.content[0].text for item in items.data if item.type == "message"]  # type: ignore[union-attr]
    assert texts == ["My name is Zorblax.", "What is my name?"]  # the warm-up's input chained


def test_unstored_responses_chain_on_their_own_connection(server: ServerProcess) -> None:
    """`store: false` with `previous_response_id`, as Codex sends it: the connection's
    latest response is kept in memory (OpenAI's connection-local cache), nowhere else."""
    ask = {**ASK, "store": False, "max_output_tokens": 16}
    with open_socket(server.base_url) as ws:
        warm = one_response(ws, {**ask, "input": "My name is Zorblax.", "generate": False})
        warm_id = warm[-1]["response"]["id"]
        alone = one_response(ws, {**ask, "input": "What is my name?"})[-1]["response"]
        assert alone["previous_response_id"] is None
        (gone,) = one_response(ws, {**ask, "input": "Hi.", "previous_response_id": warm_id})
        assert gone["status"] == 404  # only the latest response is kept
        assert gone["error"]["code"] == "previous_response_not_found"
        first = one_response(ws, {**ask, "input": "What is my name?"})[-1]["response"]
        second = one_response(
            ws, {**ask, "input": "Say it again.", "previous_response_id": first["id"]}
        )[-1]["response"]
        assert second["status"] in {"completed", "incomplete"}
        assert second["previous_response_id"] == first["id"]
        history = first["usage"]["input_tokens"] + first["usage"]["output_tokens"]
        assert second["usage"]["input_tokens"] > history  # the first turn was in the prompt
    with open_socket(server.base_url) as other:  # another connection: not found
        (error,) = one_response(
            other, {**ask, "input": "Hi.", "previous_response_id": second["id"]}
        )
    assert error["error"]["code"] == "previous_response_not_found"


def test_a_message_that_is_not_json_is_an_error_and_the_connection_stays(
    server: ServerProcess,
) -> None:
    with open_socket(server.base_url) as ws:
        for bad in ["not json {", "[1, 2]", json.dumps({"type": "response.cancel"})]:
            ws.send(bad)
            error = receive(ws)
            assert error["type"] == "error" and error["status"] == 400
            assert error["error"]["type"] == "invalid_request_error"
            assert error["error"]["message"]
        assert error["error"]["param"] == "type"
        events = one_response(ws, SHORT)  # the same connection still serves
    assert events[-1]["type"] in ENDED


@pytest.mark.parametrize(
    ("change", "param", "code"),
    [
        ({"temperature": 7}, "temperature", None),
        ({"max_output_tokens": "many"}, "max_output_tokens", None),
        ({"client_metdata": {}}, "client_metdata", "unknown_parameter"),
        ({"background": True}, "background", "unsupported_value"),
        ({"stream": False}, "stream", "invalid_value"),
        ({"generate": "no"}, "generate", "invalid_type"),
        ({"previous_response_id": "resp_missing"}, "previous_response_id", None),
    ],
)
def test_a_bad_parameter_is_an_error_event_naming_it(
    server: ServerProcess, change: dict[str, Any], param: str, code: str | None
) -> None:
    with open_socket(server.base_url) as ws:
        (error,) = one_response(ws, {**ASK, **change})
        assert error["type"] == "error" and error["status"] in (400, 404)
        assert error["error"]["param"] == param
        if code is not None:
            assert error["error"]["code"] == code
        ws.send("{}")  # still open: the next message is answered
        assert receive(ws)["type"] == "error"


def test_stream_true_as_codex_sends_it_is_accepted(server: ServerProcess) -> None:
    with open_socket(server.base_url) as ws:
        events = one_response(ws, {**SHORT, "stream": True, "stream_id": "lane-1"})
    assert events[-1]["type"] in ENDED
    assert {event["stream_id"] for event in events} == {"lane-1"}


def test_each_response_is_billed_like_a_post(gateway: Gateway) -> None:
    key_id, secret = gateway.key()
    with open_socket(gateway.base_url, secret) as ws:
        finals = [one_response(ws, SHORT)[-1]["response"] for _ in range(2)]
        warm = one_response(ws, {**SHORT, "generate": False})[-1]["response"]
    rows = gateway.ledger(key_id, wait_for=3)
    assert [row["request_id"] for row in rows] == [warm["id"], finals[1]["id"], finals[0]["id"]]
    for row, final in zip(rows[1:], reversed(finals), strict=True):
        usage = final["usage"]
        assert (row["input_tokens"], row["output_tokens"]) == (
            usage["input_tokens"],
            usage["output_tokens"],
        )
        assert Decimal(row["cost_usd"]) == expected_cost(usage)
        assert row["endpoint"] == "responses" and row["status"] == final["status"]
    assert Decimal(rows[0]["cost_usd"]) == 0  # the warm-up ran no model
    spent = sum(expected_cost(final["usage"]) for final in finals)
    assert Decimal(gateway.show(key_id)["spend_usd"]) == spent


def test_a_client_leaving_mid_response_is_billed_once(gateway: Gateway) -> None:
    key_id, secret = gateway.key()
    deltas = 0
    with open_socket(gateway.base_url, secret) as ws:
        ws.send(json.dumps({**ASK, "input": "Count from one to one hundred: 1, 2, 3,"}))
        ws.send(json.dumps({**ASK, "max_output_tokens": 400}))  # queued: never started
        while deltas < 5:
            if receive(ws)["type"] == "response.output_text.delta":
                deltas += 1
    (row,) = gateway.ledger(key_id, wait_for=1)
    assert row["status"] == "cancelled"
    assert deltas <= row["output_tokens"] < 200
    assert Decimal(row["cost_usd"]) == expected_cost(
        {
            "input_tokens": row["input_tokens"],
            "input_tokens_details": {"cached_tokens": row["cached_tokens"]},
            "output_tokens": row["output_tokens"],
        }
    )
    assert Decimal(gateway.show(key_id)["spend_usd"]) == Decimal(row["cost_usd"])
    assert len(gateway.ledger(key_id)) == 1  # once, and the queued request never ran


def test_a_rate_limited_request_is_a_429_event(gateway: Gateway) -> None:
    _, secret = gateway.key(rpm=1)
    with open_socket(gateway.base_url, secret) as ws:
        assert one_response(ws, SHORT)[-1]["type"] in ENDED
        (error,) = one_response(ws, SHORT)
        assert error["status"] == 429 and error["error"]["code"] == "rate_limit_exceeded"
        assert int(error["error"]["headers"]["retry-after"]) >= 1
        ws.send("nope")  # still served
        assert receive(ws)["error"]["code"] == "invalid_json"


def test_a_key_revoked_during_a_connection_is_refused_and_closed(gateway: Gateway) -> None:
    key_id, secret = gateway.key()
    with open_socket(gateway.base_url, secret) as ws:
        assert one_response(ws, SHORT)[-1]["type"] in ENDED
        assert gateway.admin.delete(f"/admin/v1/keys/{key_id}").status_code in (200, 204)
        (error,) = one_response(ws, SHORT)
        assert error["status"] == 401
        with pytest.raises(ConnectionClosed):
            ws.recv(timeout=30)


def test_http_clients_see_no_difference(server: ServerProcess, client: OpenAI) -> None:
    """A POST, streamed or not, is what it was; a GET without an upgrade is still a 405."""
    response = client.responses.create(model="gpt-5.1", input="Say hi.", max_output_tokens=16)
    assert response.status in {"completed", "incomplete"}
    with make_client(server.base_url).responses.stream(
        model="gpt-5.1", input="Say hi.", max_output_tokens=16
    ) as stream:
        types = [event.type for event in stream]
    assert types[0] == "response.created" and types[-1] in TERMINAL
    plain = httpx.get(
        f"{server.base_url}/v1/responses", headers={"Authorization": f"Bearer {ADMIN_KEY}"}
    )
    assert plain.status_code == 405 and plain.json()["error"]["type"] == "invalid_request_error"
