"""Hosted `web_search` run by thinkgate's own tool loop, on loopback only: a stand-in search
engine speaking SearXNG's JSON API (tests/support/search_standin.py), the embedded model forced to
search, and a scripted model that searches through a chat-only and a Responses-native
channel. The openai SDK parses every item and event strictly; the ledger bills each
completed call at its per-call price; a provider that times out fails the call, not the
response; Chat Completions refuses hosted tools."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import openai
import pytest
from openai import OpenAI
from openai.types.responses import Response, ResponseStreamEvent
from pydantic import TypeAdapter

from tests.support.checks import check_stream_grammar
from tests.support.config import channel, write_config
from tests.support.gateway_support import admin_http
from tests.support.server import ManagedProcess, ServerProcess, make_client
from tests.support.upstreams import serve_module

SOURCES = "web_search_call.action.sources"
KEY_ENV = "SEARCH_STANDIN_CHANNEL_KEY"
STREAM_EVENT: TypeAdapter[ResponseStreamEvent] = TypeAdapter(ResponseStreamEvent)


@pytest.fixture(scope="module")
def standin(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ManagedProcess]:
    yield from serve_module(tmp_path_factory, "tests.support.search_standin")


@pytest.fixture(scope="module")
def front(
    tmp_path_factory: pytest.TempPathFactory, standin: ManagedProcess
) -> Iterator[ServerProcess]:
    root = tmp_path_factory.mktemp("hosted-front")
    config = write_config(
        root / "thinkgate.toml",
        channel("search-chat", standin.base_url, {"searcher-chat": "search-standin"}),
        channel(
            "search-responses",
            standin.base_url,
            {"searcher-responses": "search-standin"},
            kind="openai-responses",
            api_key_env=KEY_ENV,
        ),
        web_search={"provider": "searxng", "base_url": standin.base_url, "timeout": 3},
        security={"allowed_networks": ["127.0.0.0/8"]},  # the stand-in's pages are on loopback
    )
    env = {KEY_ENV: "sk-standin-channel-key"}
    process = ServerProcess(root / "data", config=config, extra_env=env)
    yield process
    process.stop()


@pytest.fixture(scope="module")
def client(front: ServerProcess) -> OpenAI:
    return make_client(front.base_url)


def _stats(standin: ManagedProcess) -> dict[str, Any]:
    return dict(httpx.get(f"{standin.base_url}/stats").json())


def _streamed(client: OpenAI, **request: Any) -> tuple[list[dict[str, Any]], Any]:
    """Every event (each parsed by the SDK's strict types), and the final response (that of
    `response.completed`, or `response.incomplete` where the output budget ran out)."""
    events, final = [], None
    with client.responses.create(stream=True, **request) as stream:
        for event in stream:
            raw = event.model_dump(mode="json", exclude_unset=True)
            STREAM_EVENT.validate_python(raw)  # the SDK builds stream events unvalidated
            events.append(raw)
            if event.type in ("response.completed", "response.incomplete"):
                final = Response.model_validate(raw["response"])
    return events, final


def _items(response: Any, kind: str) -> list[Any]:
    return [item for item in response.output if item.type == kind]


def _search_events(events: list[dict[str, Any]], item_id: str) -> list[str]:
    return [
        e["type"]
        for e in events
        if e["type"].startswith("response.web_search_call.") and e["item_id"] == item_id
    ]


# --- the embedded model -------------------------------------------------------------------


@pytest.mark.timeout(900)  # seconds when idle; minutes on a machine loaded by other work
def test_embedded_model_forced_to_search_streams_the_call_and_answers(
    client: OpenAI, standin: ManagedProcess
) -> None:
    before = len(_stats(standin)["searches"])
    events, final = _streamed(
        client.with_options(timeout=600),  # a loaded machine makes the small model slow
        model="gpt-5.1",
        input="What is new in thinkgate 2.0?",
        tools=[{"type": "web_search"}],
        tool_choice={"type": "web_search_preview"},
        include=[SOURCES],
        max_tool_calls=1,
        max_output_tokens=100,
        temperature=0,
    )
    check_stream_grammar(events, validate=False)
    assert final.status in ("completed", "incomplete")
    calls = _items(final, "web_search_call")
    assert len(calls) == 1, final.output
    call = calls[0]
    assert call.status == "completed"
    assert call.action.type == "search" and call.action.query
    assert call.action.sources[0].url.endswith("/page/1")
    assert final.output[-1].type == "message"  # then the model answered
    assert _search_events(events, call.id) == [
        "response.web_search_call.in_progress",
        "response.web_search_call.searching",
        "response.web_search_call.completed",
    ]
    searches = _stats(standin)["searches"][before:]
    assert [s["format"] for s in searches] == ["json"]
    assert searches[0]["q"] == call.action.query
    # the usage adds up both model calls (the search's round and the answer's)
    assert final.usage.input_tokens > 0 and final.usage.output_tokens > 0


@pytest.mark.parametrize("model", ["searcher-chat", "searcher-responses"])
def test_stored_search_is_replayed_and_continued(
    client: OpenAI, standin: ManagedProcess, model: str
) -> None:
    first = client.responses.create(
        model=model,
        input="thinkgate hosted tools",
        tools=[{"type": "web_search", "search_context_size": "low"}],
        tool_choice={"type": "web_search_preview"},
    )
    (call,) = _items(first, "web_search_call")
    assert call.action.sources is None  # not asked for with `include`
    assert client.responses.retrieve(first.id).output == first.output
    replayed: list[dict[str, Any]] = []
    with client.responses.retrieve(first.id, stream=True) as stream:
        replayed = [e.model_dump(mode="json", exclude_unset=True) for e in stream]
    for event in replayed:
        STREAM_EVENT.validate_python(event)
    check_stream_grammar(replayed, validate=False)
    before = len(_stats(standin)["model"])
    follow = client.responses.create(
        model=model, previous_response_id=first.id, input="Thanks.", tool_choice="none"
    )
    assert follow.status == "completed"
    # the next turn's model call carries the earlier search and the cited answer
    (request,) = _stats(standin)["model"][before:]
    sent = json.dumps(request["body"])
    assert "web_search_call" in sent and "/page/1" in sent


# --- scripted models on both channel kinds --------------------------------------------


@pytest.mark.parametrize("model", ["searcher-chat", "searcher-responses"])
def test_upstream_model_searches_and_cites_its_source(
    client: OpenAI, standin: ManagedProcess, model: str
) -> None:
    before = len(_stats(standin)["model"])
    events, final = _streamed(
        client,
        model=model,
        input="thinkgate hosted tools",
        tools=[{"type": "web_search", "search_context_size": "high"}],
        include=[SOURCES],
    )
    check_stream_grammar(events, validate=False)
    assert final.status == "completed"
    call, message = final.output
    assert call.type == "web_search_call" and call.status == "completed"
    assert call.action.query == "thinkgate hosted tools"
    text = message.content[0].text
    (citation,) = message.content[0].annotations
    assert citation.type == "url_citation"
    assert citation.url.endswith("/page/1") and citation.title == "thinkgate release notes"
    assert text[citation.start_index : citation.end_index] == citation.url
    added = [e for e in events if e["type"] == "response.output_text.annotation.added"]
    assert [e["annotation"]["url"] for e in added] == [citation.url]
    # the model was asked twice: the second time with the search's results as the tool's
    # output, the page's own text read through the guard (context size high)
    requests = _stats(standin)["model"][before:]
    assert len(requests) == 2
    second = json.dumps(requests[1]["body"])
    assert "read from the page itself" in second
    assert "web_search" in json.dumps(requests[0]["body"]["tools"])
    assert final.usage.input_tokens == 200 and final.usage.output_tokens == 20


def test_two_searches_at_once_come_back_in_order(client: OpenAI) -> None:
    events, final = _streamed(
        client,
        model="searcher-chat",
        input="search twice",
        tools=[{"type": "web_search"}],
    )
    check_stream_grammar(events, validate=False)
    calls = _items(final, "web_search_call")
    assert [c.action.query for c in calls] == ["search twice", "search twice (again)"]
    assert all(c.status == "completed" for c in calls)
    done = [e for e in events if e["type"] == "response.output_item.done"]
    assert [e["item"]["id"] for e in done[:2]] == [c.id for c in calls]
    assert final.output[-1].type == "message"


def test_max_tool_calls_caps_the_searches(client: OpenAI) -> None:
    final = client.responses.create(
        model="searcher-responses",
        input="search twice",
        tools=[{"type": "web_search"}],
        max_tool_calls=1,
    )
    assert len(_items(final, "web_search_call")) == 1
    assert final.output[-1].type == "message"


def test_allowed_domains_filter_the_results(client: OpenAI) -> None:
    final = client.responses.create(
        model="searcher-chat",
        input="guides",
        tools=[{"type": "web_search", "filters": {"allowed_domains": ["example.com"]}}],
        include=[SOURCES],
    )
    (call,) = _items(final, "web_search_call")
    assert [s.url for s in call.action.sources] == ["https://docs.example.com/guide"]


def test_a_search_that_times_out_fails_the_call_not_the_response(client: OpenAI) -> None:
    final = client.responses.create(
        model="searcher-chat", input="something slow", tools=[{"type": "web_search"}]
    )
    assert final.status == "completed"
    (call,) = _items(final, "web_search_call")
    assert call.status == "failed"
    assert "failed" in final.output[-1].content[0].text


def test_background_search_is_stored_with_its_items(client: OpenAI) -> None:
    queued = client.responses.create(
        model="searcher-responses",
        input="thinkgate hosted tools",
        tools=[{"type": "web_search"}],
        background=True,
    )
    deadline = time.monotonic() + 60
    response = queued
    while response.status in ("queued", "in_progress") and time.monotonic() < deadline:
        time.sleep(0.2)
        response = client.responses.retrieve(queued.id)
    assert response.status == "completed"
    assert [item.type for item in response.output] == ["web_search_call", "message"]


# --- money, and refusals --------------------------------------------------------------


def test_each_completed_search_is_billed_at_its_price(front: ServerProcess) -> None:
    with admin_http(front.base_url) as admin:
        user = admin.post("/admin/v1/users", json={"name": "searcher", "role": "member"}).json()
        key = admin.post("/admin/v1/keys", json={"name": "s", "user_id": user["id"]}).json()
        sdk = make_client(front.base_url, key["key"])
        ok = sdk.responses.create(
            model="searcher-chat", input="search twice", tools=[{"type": "web_search"}]
        )
        failed = sdk.responses.create(
            model="searcher-chat", input="slow one", tools=[{"type": "web_search"}]
        )
        assert len(_items(ok, "web_search_call")) == 2
        assert _items(failed, "web_search_call")[0].status == "failed"
        rows = _ledger(admin, key["id"], 2)
        by_id = {row["request_id"]: row for row in rows}
        assert by_id[ok.id]["tool_calls"] == 2
        assert Decimal(by_id[ok.id]["tool_cost_usd"]) == Decimal("0.02")
        assert by_id[failed.id]["tool_calls"] == 0  # a failed call is free
        tokens = Decimal(200) * Decimal("0.000001") + Decimal(20) * Decimal("0.000008")
        assert Decimal(by_id[ok.id]["cost_usd"]) == tokens + Decimal("0.02")
        usage = sdk.get("/usage", cast_to=httpx.Response).json()
        (day,) = usage["data"]
        assert day["tool_calls"] == 2 and Decimal(day["tool_cost_usd"]) == Decimal("0.02")


def test_a_client_leaving_mid_search_cancels_the_loop(front: ServerProcess) -> None:
    with admin_http(front.base_url) as admin:
        user = admin.post("/admin/v1/users", json={"name": "leaver", "role": "member"}).json()
        key = admin.post("/admin/v1/keys", json={"name": "l", "user_id": user["id"]}).json()
        body = {
            "model": "searcher-chat",
            "input": "a slow search",
            "tools": [{"type": "web_search"}],
            "stream": True,
        }
        headers = {"Authorization": f"Bearer {key['key']}"}
        response_id = None
        with httpx.stream(
            "POST", f"{front.base_url}/v1/responses", json=body, headers=headers, timeout=60
        ) as reply:
            for line in reply.iter_lines():
                if line.startswith("data: ") and response_id is None:
                    response_id = json.loads(line[6:])["response"]["id"]
                if "response.web_search_call.searching" in line:
                    break  # the client leaves while the search runs
        (row,) = _ledger(admin, key["id"], 1)
        assert row["request_id"] == response_id
        assert row["status"] == "cancelled" and row["tool_calls"] == 0
        stored = httpx.get(f"{front.base_url}/v1/responses/{response_id}", headers=headers).json()
        assert stored["status"] == "cancelled"
        assert stored["output"][0]["type"] == "web_search_call"
        assert stored["output"][0]["status"] == "incomplete"


def _ledger(admin: httpx.Client, key_id: str, count: int) -> list[dict[str, Any]]:
    deadline = time.monotonic() + 30
    while True:
        rows: list[dict[str, Any]] = admin.get(
            "/admin/v1/requests", params={"key_id": key_id}
        ).json()["data"]
        if len(rows) >= count or time.monotonic() > deadline:
            return rows
        time.sleep(0.1)


def test_chat_completions_refuse_hosted_tools(client: OpenAI) -> None:
    with pytest.raises(openai.BadRequestError) as refused:
        client.chat.completions.create(
            model="gpt-5.1",
            messages=[{"role": "user", "content": "hi"}],
            tools=[{"type": "web_search"}],  # type: ignore[list-item]
        )
    error = refused.value.body
    assert isinstance(error, dict)
    assert error["param"] == "tools[0].type" and "Responses API" in error["message"]


def test_a_served_web_search_is_not_reported_unavailable(front: ServerProcess) -> None:
    with admin_http(front.base_url) as admin:
        reply = admin.post(
            "/v1/responses",
            json={
                "model": "searcher-chat",
                "input": "hello",
                "tools": [{"type": "web_search"}],
                "tool_choice": "none",
            },
        )
    assert reply.status_code == 200, reply.text
    assert "x-thinkgate-unavailable-tools" not in reply.headers


def test_config_needs_a_provider_address(tmp_path: Path) -> None:
    from thinkgate.config import ConfigError, load_settings

    config = tmp_path / "bad.toml"
    config.write_text('[web_search]\nprovider = "searxng"\n')
    with pytest.raises(ConfigError, match="base_url"):
        load_settings(config_file=config, environ={})


def test_search_queries_stay_out_of_the_server_log(client: OpenAI, front: ServerProcess) -> None:
    """httpx logs each request's URL at INFO, and a search URL carries the user's query."""
    _, final = _streamed(
        client, model="searcher-chat", input="search twice", tools=[{"type": "web_search"}]
    )
    assert _items(final, "web_search_call")  # the provider was asked
    log = front.log()
    assert "/search?" not in log and "q=search" not in log


# --- open_page and find_in_page -------------------------------------------------------


@pytest.mark.parametrize("model", ["searcher-chat", "searcher-responses"])
def test_the_model_opens_a_result_page(client: OpenAI, standin: ManagedProcess, model: str) -> None:
    pages = len(_stats(standin)["pages"])
    events, final = _streamed(
        client, model=model, input="open the page about thinkgate", tools=[{"type": "web_search"}]
    )
    check_stream_grammar(events, validate=False)
    search, opened, message = final.output
    assert search.action.type == "search" and search.status == "completed"
    assert opened.type == "web_search_call" and opened.status == "completed"
    assert opened.action.type == "open_page" and opened.action.url.endswith("/page/1")
    assert _search_events(events, opened.id) == [
        "response.web_search_call.in_progress",
        "response.web_search_call.searching",
        "response.web_search_call.completed",
    ]
    assert _stats(standin)["pages"][pages:] == ["1"]  # read once, through the guard
    text = message.content[0].text
    assert "read from the page itself" in text and "var x" not in text  # no script text
    (citation,) = message.content[0].annotations
    assert citation.url == opened.action.url and citation.title == "thinkgate release notes"


@pytest.mark.parametrize("model", ["searcher-chat", "searcher-responses"])
def test_the_model_finds_a_phrase_in_a_page(client: OpenAI, model: str) -> None:
    _, final = _streamed(
        client, model=model, input="find it in thinkgate", tools=[{"type": "web_search"}]
    )
    _search, found, message = final.output
    assert found.action.type == "find_in_page"
    assert found.action.pattern == "from the page" and found.action.url.endswith("/page/1")
    assert found.status == "completed"
    assert "read from the page itself" in message.content[0].text


def test_a_page_no_result_named_is_not_opened(client: OpenAI, standin: ManagedProcess) -> None:
    """A page (or a prompt injected into one) cannot send the model to a URL of its own."""
    pages = len(_stats(standin)["pages"])
    final = client.responses.create(
        model="searcher-chat", input="open evil", tools=[{"type": "web_search"}]
    )
    (call,) = _items(final, "web_search_call")
    assert call.action.type == "open_page" and call.status == "failed"
    assert _stats(standin)["pages"][pages:] == []
    assert final.status == "completed"


def test_a_client_tool_named_like_a_hosted_function_stays_the_clients(client: OpenAI) -> None:
    own = {"type": "function", "name": "open_page", "parameters": {"type": "object"}}
    final = client.responses.create(
        model="searcher-chat",
        input="open the page about thinkgate",
        tools=[{"type": "web_search"}, own],  # type: ignore[list-item]
    )
    search, call = final.output
    assert search.type == "web_search_call" and search.action.type == "search"
    assert call.type == "function_call" and call.name == "open_page"  # the client runs it


def test_without_live_access_no_page_is_offered(client: OpenAI, standin: ManagedProcess) -> None:
    before = len(_stats(standin)["model"])
    client.responses.create(
        model="searcher-chat",
        input="open the page about thinkgate",
        tools=[{"type": "web_search", "external_web_access": False}],
    )
    first = _stats(standin)["model"][before]["body"]
    names = [tool["function"]["name"] for tool in first["tools"]]
    assert names == ["web_search"]  # no open_page, no find_in_page


# --- replays: ids kept, items faithful --------------------------------------------------


def _sent_items(standin: ManagedProcess, before: int, kind: str) -> list[dict[str, Any]]:
    (request,) = _stats(standin)["model"][before:]
    return [item for item in request["body"]["input"] if item.get("type") == kind]


def test_a_conversation_replays_its_searches_with_their_ids(
    client: OpenAI, standin: ManagedProcess
) -> None:
    conversation = client.conversations.create()
    first = client.responses.create(
        model="searcher-responses",
        conversation=conversation.id,
        input="thinkgate hosted tools",
        tools=[{"type": "web_search"}],
        include=[SOURCES],
    )
    (call,) = _items(first, "web_search_call")
    listed = client.conversations.items.list(conversation.id)
    assert call.id in [item.id for item in listed.data]
    before = len(_stats(standin)["model"])
    client.responses.create(
        model="searcher-responses", conversation=conversation.id, input="Thanks."
    )
    (sent,) = _sent_items(standin, before, "web_search_call")
    assert sent == call.model_dump(mode="json", exclude_none=True)  # id, status, action


def test_a_stateless_client_replays_its_searches_as_they_were(
    client: OpenAI, standin: ManagedProcess
) -> None:
    """store: false, the output sent back as input (as Codex does): the upstream gets each
    `web_search_call` with its id and status, which OpenAI requires of the item."""
    first = client.responses.create(
        model="searcher-responses",
        input="thinkgate hosted tools",
        tools=[{"type": "web_search"}],
        store=False,
    )
    (call,) = _items(first, "web_search_call")
    replay = [item.model_dump(mode="json", exclude_none=True) for item in first.output]
    before = len(_stats(standin)["model"])
    client.responses.create(
        model="searcher-responses",
        input=[*replay, {"role": "user", "content": "Thanks."}],  # type: ignore[list-item]
        store=False,
    )
    (sent,) = _sent_items(standin, before, "web_search_call")
    assert sent["id"] == call.id and sent["status"] == "completed"
    assert sent["action"] == {"type": "search", "query": "thinkgate hosted tools"}


# --- the budget reserves the calls ------------------------------------------------------


def test_the_budget_reserves_the_worst_case_of_the_calls(front: ServerProcess) -> None:
    """$0.05 covers the tokens but not 10 searches at $0.01 (the default cap): refused up
    front; with `max_tool_calls: 2` it fits, and only what ran is billed."""
    with admin_http(front.base_url) as admin:
        user = admin.post("/admin/v1/users", json={"name": "budgeted", "role": "member"}).json()
        key = admin.post(
            "/admin/v1/keys", json={"name": "b", "user_id": user["id"], "budget_usd": "0.05"}
        ).json()
        sdk = make_client(front.base_url, key["key"])
        request: dict[str, Any] = {
            "model": "searcher-chat",
            "input": "thinkgate hosted tools",
            "tools": [{"type": "web_search"}],
            "max_output_tokens": 100,
        }
        with pytest.raises(openai.RateLimitError) as refused:
            sdk.responses.create(**request)
        assert refused.value.code == "insufficient_quota"
        ok = sdk.responses.create(**request, max_tool_calls=2)
        assert len(_items(ok, "web_search_call")) == 1
        (row,) = _ledger(admin, key["id"], 1)
        assert row["tool_calls"] == 1 and Decimal(row["tool_cost_usd"]) == Decimal("0.01")
        sdk.responses.create(**{**request, "tools": []})  # no tools: tokens only, admitted


# --- the Agents SDK ---------------------------------------------------------------------


@pytest.fixture(scope="module")
def agents_web_search(front: ServerProcess) -> dict[str, dict[str, Any]]:
    from tests.clients.test_clients import run_client

    return run_client(front, "run_agents_web_search.py")


@pytest.mark.parametrize("case", ["searches", "streamed", "opens_a_page"])
def test_agents_sdk_web_search_tool(agents_web_search: dict[str, Any], case: str) -> None:
    result = agents_web_search[case]
    assert result["ok"], result.get("traceback") or result
