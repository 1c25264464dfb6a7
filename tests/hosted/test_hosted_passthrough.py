"""Hosted tools passed through to a Responses-native upstream that runs them itself
(`hosted_tools = "passthrough"` on its channel, docs/hosted-tools.md): the declaration goes
upstream as declared, the upstream's `web_search_call` items and events come back as it
sent them (strictly parsed by the openai SDK), its citations with them, the call billed
as the upstream reported it, and replayed upstream with its id. The upstream is the
stand-in of tests/support/search_standin.py, which searches by itself when given a `web_search`
tool; this server has no search provider of its own."""

from __future__ import annotations

import json
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest
from openai import OpenAI

from tests.hosted.test_hosted_web_search import SOURCES, _ledger, _search_events, _stats, _streamed
from tests.support.checks import check_stream_grammar
from tests.support.config import channel, write_config
from tests.support.gateway_support import admin_http
from tests.support.server import ManagedProcess, ServerProcess, make_client
from tests.support.upstreams import serve_module

TOOL = {"type": "web_search", "search_context_size": "low", "user_location": None}


@pytest.fixture(scope="module")
def standin(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ManagedProcess]:
    yield from serve_module(tmp_path_factory, "tests.support.search_standin")


@pytest.fixture(scope="module")
def front(
    tmp_path_factory: pytest.TempPathFactory, standin: ManagedProcess
) -> Iterator[ServerProcess]:
    root = tmp_path_factory.mktemp("passthrough-front")
    config = write_config(
        root / "thinkgate.toml",
        channel(
            "native",
            standin.base_url,
            {"searcher-native": "search-standin"},
            kind="openai-responses",
            hosted_tools="passthrough",
        ),
        channel(
            "emulated",
            standin.base_url,
            {"searcher-emulated": "search-standin"},
            kind="openai-responses",
        ),
    )
    process = ServerProcess(root / "data", config=config)
    yield process
    process.stop()


@pytest.fixture(scope="module")
def client(front: ServerProcess) -> OpenAI:
    return make_client(front.base_url)


def test_the_upstreams_own_search_comes_back_as_it_sent_it(
    client: OpenAI, standin: ManagedProcess
) -> None:
    stats = _stats(standin)
    before, searches = len(stats["model"]), len(stats["searches"])
    events, final = _streamed(
        client,
        model="searcher-native",
        input="thinkgate hosted tools",
        tools=[TOOL],
        tool_choice={"type": "web_search_preview"},
        include=[SOURCES],
    )
    check_stream_grammar(events, validate=False)
    assert final.status == "completed"
    call, message = final.output
    assert call.id == "ws_upstream_1" and call.status == "completed"
    assert call.action.query == "thinkgate hosted tools"
    assert [s.url for s in call.action.sources] == ["https://upstream.example/found"]
    assert _search_events(events, call.id) == [
        "response.web_search_call.in_progress",
        "response.web_search_call.searching",
        "response.web_search_call.completed",
    ]
    (citation,) = message.content[0].annotations
    assert citation.url == "https://upstream.example/found"
    added = [e for e in events if e["type"] == "response.output_text.annotation.added"]
    assert [e["annotation"]["url"] for e in added] == [citation.url]
    assert final.usage.input_tokens == 300 and final.usage.output_tokens == 30
    # the upstream was asked once, with the tool as declared; thinkgate searched nothing
    stats = _stats(standin)
    (request,) = stats["model"][before:]
    body = request["body"]
    assert body["tools"] == [{k: v for k, v in TOOL.items() if v is not None}]
    assert body["tool_choice"] == {"type": "web_search_preview"}
    assert body["include"] == [SOURCES]
    assert body["max_tool_calls"] == 10  # the cap the budget reserved for
    assert len(stats["searches"]) == searches


def test_without_a_provider_passthrough_is_still_available(front: ServerProcess) -> None:
    body = {"input": "hi", "tools": [{"type": "web_search"}], "tool_choice": "none"}
    with admin_http(front.base_url) as admin:
        native = admin.post("/v1/responses", json={**body, "model": "searcher-native"})
        emulated = admin.post("/v1/responses", json={**body, "model": "searcher-emulated"})
    assert native.status_code == emulated.status_code == 200
    assert "x-thinkgate-unavailable-tools" not in native.headers
    assert emulated.headers["x-thinkgate-unavailable-tools"] == "web_search"


def test_the_upstreams_calls_are_billed_as_it_reported_them(front: ServerProcess) -> None:
    with admin_http(front.base_url) as admin:
        user = admin.post("/admin/v1/users", json={"name": "native", "role": "member"}).json()
        key = admin.post("/admin/v1/keys", json={"name": "n", "user_id": user["id"]}).json()
        sdk = make_client(front.base_url, key["key"])
        done = sdk.responses.create(
            model="searcher-native", input="thinkgate", tools=[{"type": "web_search"}]
        )
        (row,) = _ledger(admin, key["id"], 1)
    assert row["request_id"] == done.id and row["channel"] == "native"
    assert row["tool_calls"] == 1 and Decimal(row["tool_cost_usd"]) == Decimal("0.01")
    tokens = Decimal(300) * Decimal("0.000001") + Decimal(30) * Decimal("0.000008")
    assert Decimal(row["cost_usd"]) == tokens + Decimal("0.01")


def test_a_passed_through_search_is_replayed_with_its_id(
    client: OpenAI, standin: ManagedProcess
) -> None:
    first = client.responses.create(
        model="searcher-native", input="thinkgate", tools=[{"type": "web_search"}]
    )
    stored = client.responses.retrieve(first.id)
    assert stored.output == first.output
    before = len(_stats(standin)["model"])
    client.responses.create(model="searcher-native", previous_response_id=first.id, input="ok")
    (request,) = _stats(standin)["model"][before:]
    sent = [i for i in request["body"]["input"] if i.get("type") == "web_search_call"]
    assert sent == [first.output[0].model_dump(mode="json", exclude_none=True)]
    assert "tools" not in request["body"]  # this turn declared none
    assert json.dumps(sent).count("ws_upstream_1") == 1


def test_passthrough_needs_a_responses_channel(tmp_path: Path) -> None:
    from thinkgate.config import ConfigError, load_settings

    config = write_config(
        tmp_path / "bad.toml",
        channel("c", "http://127.0.0.1:1", {"m": "m"}, hosted_tools="passthrough"),
    )
    with pytest.raises(ConfigError, match="passthrough"):
        load_settings(config_file=config, environ={})


def test_an_upstream_calls_payload_events_keep_their_fields() -> None:
    """An upstream MCP call's argument deltas pass with their payload; only the sequence
    number and index are ours (the assembler's)."""
    from thinkgate.backends.upstream.responses_wire import ResponsesStreamTranslator
    from thinkgate.core.backend import UsageMeter
    from thinkgate.core.deltas import HostedItemDelta

    events = ResponsesStreamTranslator(UsageMeter())
    item = {"type": "mcp_call", "id": "mcp_1", "server_label": "s", "name": "n"}
    item |= {"arguments": "", "status": "in_progress"}
    added = {"type": "response.output_item.added", "output_index": 2, "item": item}
    assert events.feed({**added, "sequence_number": 5}) == [HostedItemDelta("added", item)]
    delta = {"type": "response.mcp_call_arguments.delta", "item_id": "mcp_1", "delta": "{"}
    assert events.feed({**delta, "output_index": 2, "sequence_number": 6}) == [
        HostedItemDelta("progress", {"id": "mcp_1"}, ((delta["type"], {"delta": "{"}),))
    ]
    done = {**item, "status": "completed", "arguments": "{}", "output": "ok"}
    assert events.feed({"type": "response.output_item.done", "item": done}) == [
        HostedItemDelta("done", done)
    ]
    stray = {"type": "response.mcp_call.completed", "item_id": "mcp_1", "output_index": 2}
    assert events.feed(stray) == []  # closed: nothing after its done
