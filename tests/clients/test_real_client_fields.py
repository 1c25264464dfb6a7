"""What real clients send (docs/clients.md), against the embedded model and the real store.

Codex's request is raw JSON shaped as codex-rs serialises it (`ResponsesApiRequest`,
`ResponsesApiInputItem`, `ToolSpec`); the rest goes through the openai SDK, whose types
must parse every output. The weak model's judgement is never asserted: forced calls and
structure only.
"""

from __future__ import annotations

import json
from typing import Any

import httpx
import openai
import pytest
from openai import OpenAI
from openai.types.responses import Response, ResponseStreamEvent
from pydantic import TypeAdapter

from tests.support.checks import check_stream_grammar
from tests.support.owners import other_user_client
from tests.support.server import ServerProcess
from tests.tools.test_tools import without_parsed

MODEL = "gpt-5.1"
LOOKUP = {
    "type": "function",
    "name": "lookup_order",
    "description": "Look up an order by its id.",
    "strict": False,
    "parameters": {
        "type": "object",
        "properties": {"order_id": {"type": "string", "maxLength": 12}},
        "required": ["order_id"],
        "additionalProperties": False,
    },
}
NAMESPACE = {
    "type": "namespace",
    "name": "mcp__orders__",
    "description": "Tools of the orders MCP server.",
    "tools": [LOOKUP],
}
SHELL_COMMAND = {
    "type": "function",
    "name": "shell_command",
    "description": "Runs a shell command and returns its output.",
    "strict": False,
    "parameters": {
        "type": "object",
        "properties": {"command": {"type": "string"}, "workdir": {"type": "string"}},
        "required": ["command"],
        "additionalProperties": False,
    },
}
TOOL_SEARCH = {
    "type": "tool_search",
    "execution": "client",
    "description": "# Tool discovery\n\nSearches over deferred tool metadata.",
    "parameters": {
        "type": "object",
        "properties": {
            "query": {"type": "string", "description": "Search query for deferred tools."},
            "limit": {"type": "number", "description": "Maximum number of tools to return."},
        },
        "required": ["query"],
        "additionalProperties": False,
    },
}
DEFERRED = {
    "type": "namespace",
    "name": "mcp__calendar__",
    "description": "Tools of the calendar MCP server.",
    "tools": [
        {
            "type": "function",
            "name": "list_events",
            "description": "List calendar events of a day.",
            "strict": False,
            "defer_loading": True,
            "parameters": {
                "type": "object",
                "properties": {"day": {"type": "string", "maxLength": 10}},
                "required": ["day"],
                "additionalProperties": False,
            },
        }
    ],
}
RESPONSE = TypeAdapter(Response)
EVENT: TypeAdapter[Any] = TypeAdapter(ResponseStreamEvent)


@pytest.fixture(scope="module")
def client(client: OpenAI) -> OpenAI:
    return client.with_options(timeout=900)


def codex_request() -> dict[str, Any]:
    """A first turn as Codex sends it (plus a small output cap, for the test's time)."""
    user = {"type": "input_text", "text": "Check order A12 and say if it shipped."}
    return {
        "model": MODEL,
        "instructions": "You are Codex, a coding agent.",
        "input": [
            {
                "type": "message",
                "role": "developer",
                "content": [{"type": "input_text", "text": "<permissions>workspace</permissions>"}],
                "internal_chat_message_metadata_passthrough": {"turn_id": "turn-1"},
            },
            {"type": "message", "role": "user", "content": [user]},
            {
                "type": "message",
                "role": "assistant",
                "status": "completed",
                "content": [{"type": "output_text", "text": "Looking it up."}],
                "phase": "commentary",
            },
            {
                "type": "web_search_call",
                "status": "completed",
                "action": {"type": "search", "query": "order A12 shipping"},
            },
            {
                "type": "tool_search_call",
                "call_id": "tsc_1",
                "status": "completed",
                "execution": "client",
                "arguments": {"query": "calendar", "limit": 4},
            },
            {
                "type": "tool_search_output",
                "call_id": "tsc_1",
                "status": "completed",
                "execution": "client",
                "tools": [DEFERRED],
            },
            {
                "type": "message",
                "role": "assistant",
                "content": [{"type": "output_text", "text": "Found the tools."}],
                "phase": "final_answer",
            },
            {"type": "message", "role": "user", "content": [user]},
        ],
        "tools": [
            SHELL_COMMAND,
            NAMESPACE,
            DEFERRED,
            {"type": "web_search", "external_web_access": False},
            TOOL_SEARCH,
        ],
        "tool_choice": "auto",
        "parallel_tool_calls": False,
        "reasoning": None,
        "store": False,
        "stream": True,
        "include": ["reasoning.encrypted_content"],
        "service_tier": "fast",
        "prompt_cache_key": "019a-codex-session",
        "client_metadata": {
            "session_id": "019a-codex-session",
            "ws_request_header_traceparent": "x",
        },
        "max_output_tokens": 32,
    }


def sse_events(reply: httpx.Response) -> list[dict[str, Any]]:
    events = []
    for line in reply.iter_lines():
        if line.startswith("data: "):
            events.append(json.loads(line[len("data: ") :]))
    return events


def create(client: OpenAI, **body: Any) -> Any:
    body.setdefault("model", MODEL)
    body.setdefault("temperature", 0)
    body.setdefault("max_output_tokens", 24)
    return client.responses.create(**body)


# --- accepted, precisely -------------------------------------------------------------


def test_codex_first_request_streams_to_completion(http: httpx.Client) -> None:
    with http.stream("POST", "/v1/responses", json=codex_request()) as reply:
        assert reply.status_code == 200, reply.read()
        assert reply.headers["x-thinkgate-unavailable-tools"] == "web_search"
        events = sse_events(reply)
    check_stream_grammar(events, validate=False)  # namespace tools are outside the spec
    for event in events:
        EVENT.validate_python(event)
    final = RESPONSE.validate_python(events[-1]["response"])
    assert final.status in ("completed", "incomplete")
    assert final.service_tier == "priority" and final.store is False  # OpenAI's name for fast
    assert [tool.type for tool in final.tools] == [
        "function",
        "namespace",
        "namespace",
        "web_search",
        "tool_search",
    ]
    assert http.get(f"/v1/responses/{final.id}").status_code == 404  # store: false


def test_a_typo_is_still_an_unknown_parameter(http: httpx.Client) -> None:
    body = codex_request() | {"stream": False}
    body["client_metdata"] = body.pop("client_metadata")
    reply = http.post("/v1/responses", json=body)
    assert reply.status_code == 400
    error = reply.json()["error"]
    assert error["code"] == "unknown_parameter" and error["param"] == "client_metdata"
    assert error["message"] == "Unknown parameter: 'client_metdata'."


@pytest.mark.parametrize(("tier", "shown"), [("fast", "priority"), ("ultrafast", "ultrafast")])
def test_fast_service_tiers_are_echoed(client: OpenAI, tier: str, shown: str) -> None:
    """As OpenAI shows them: `fast` is its other name for `priority` (openai SDK 3)."""
    response = create(client, input="Say hi.", service_tier=tier, max_output_tokens=16)
    assert response.service_tier == shown


def test_phase_and_replayed_items_are_kept_and_private_fields_dropped(client: OpenAI) -> None:
    items = codex_request()["input"]
    response = create(client, input=items, max_output_tokens=16)
    listed = client.responses.input_items.list(response.id, order="asc").data
    assert [item.type for item in listed] == [item["type"] for item in items]
    assert [getattr(item, "phase", None) for item in listed][2:7] == [
        "commentary",
        None,
        None,
        None,
        "final_answer",
    ]
    raw = client.responses.input_items.with_raw_response.list(response.id, order="asc")
    assert "internal_chat_message_metadata_passthrough" not in raw.text
    search = listed[5]
    assert search.type == "tool_search_output" and search.tools[0].type == "namespace"


# --- bad input stays a 400 naming the parameter ----------------------------------------


BAD = [
    (
        {"input": [{"role": "assistant", "content": "x", "phase": "draft"}]},
        "input[0].phase",
        "invalid_value",
    ),
    ({"tools": [{**NAMESPACE, "description": None}]}, "tools[0].description", "invalid_type"),
    ({"tools": [{k: v for k, v in NAMESPACE.items() if k != "description"}]}, None, None),
    ({"tools": [{**NAMESPACE, "tools": []}]}, "tools[0].tools", "array_below_min_length"),
    ({"tools": [{**NAMESPACE, "tools": [{"type": "shell"}]}]}, "tools[0].tools[0].type", None),
    ({"tools": [{**NAMESPACE, "name": "orders.v2"}]}, "tools[0].name", "invalid_value"),
    ({"tools": [{**NAMESPACE, "tools": [LOOKUP, LOOKUP]}]}, "tools[0].tools[1].name", None),
    ({"tools": [{**TOOL_SEARCH, "execution": "server"}]}, "tools[0].execution", None),
    (
        {"tools": [{**NAMESPACE, "tools": [{**LOOKUP, "sneaky": 1}]}]},
        "tools[0].tools[0].sneaky",
        None,
    ),
    ({"input": [{"type": "web_search_call", "action": {"type": "fly"}}]}, None, None),
]


@pytest.mark.parametrize(("extra", "param", "code"), BAD)
def test_malformed_client_fields_are_400s(
    http: httpx.Client, extra: dict[str, Any], param: str | None, code: str | None
) -> None:
    reply = http.post("/v1/responses", json={"model": MODEL, "input": "hi", **extra})
    assert reply.status_code == 400, reply.text
    error = reply.json()["error"]
    assert error["type"] == "invalid_request_error"
    if param is None:  # the first field at fault, whichever pydantic ranks first
        assert error["param"].startswith(next(iter(extra))), error
    else:
        assert error["param"] == param, error
    if code is not None:
        assert error["code"] == code, error


# --- namespaces ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "choice",
    [
        {"type": "function", "name": "lookup_order"},
        {"type": "function", "name": "lookup_order", "namespace": "mcp__orders__"},
        {"type": "function", "name": "mcp__orders__lookup_order"},
    ],
)
def test_forced_namespaced_call_parses_and_replays(client: OpenAI, choice: dict[str, Any]) -> None:
    response = create(
        client,
        input="Look up order A12.",
        tools=[SHELL_COMMAND, NAMESPACE],
        tool_choice=choice,
        parallel_tool_calls=False,
        max_output_tokens=48,
    )
    [call] = [item for item in response.output if item.type == "function_call"]
    assert (call.namespace, call.name) == ("mcp__orders__", "lookup_order")
    assert "order_id" in json.loads(call.arguments)
    follow = create(
        client,
        previous_response_id=response.id,
        input=[{"type": "function_call_output", "call_id": call.call_id, "output": "shipped"}],
        tools=[SHELL_COMMAND, NAMESPACE],
        tool_choice="none",
    )
    assert [item.type for item in follow.output] == ["message"]
    replayed = create(
        client,
        input=[
            {"role": "user", "content": "Look up order A12."},
            call.model_dump(exclude_none=True),
            {"type": "function_call_output", "call_id": call.call_id, "output": "shipped"},
        ],
        tools=[NAMESPACE],
        tool_choice="none",
        store=False,
    )
    assert [item.type for item in replayed.output] == ["message"]


def test_namespaced_call_streams_the_same_way(client: OpenAI) -> None:
    with client.responses.stream(
        model=MODEL,
        input="Look up order A12.",
        tools=[NAMESPACE],  # type: ignore[list-item]
        tool_choice={"type": "function", "name": "lookup_order"},
        parallel_tool_calls=False,  # one call, then the response completes
        temperature=0,
        max_output_tokens=48,
    ) as stream:
        events = [without_parsed(e.model_dump(mode="json", exclude_unset=True)) for e in stream]
        final = stream.get_final_response()
    check_stream_grammar(events, validate=False)
    added = [e["item"] for e in events if e["type"] == "response.output_item.added"]
    assert added[0]["namespace"] == "mcp__orders__" and added[0]["name"] == "lookup_order"
    deltas = "".join(
        e["delta"] for e in events if e["type"] == "response.function_call_arguments.delta"
    )
    [call] = final.output
    assert call.type == "function_call" and deltas == call.arguments


def test_custom_tool_in_a_namespace_is_called_with_its_namespace(client: OpenAI) -> None:
    calc = {
        "type": "custom",
        "name": "calculator",
        "description": "Evaluate an arithmetic expression.",
        "format": {
            "type": "grammar",
            "syntax": "regex",
            "definition": r"^[0-9]{1,3} [-+*] [0-9]{1,3}$",
        },
    }
    math = {"type": "namespace", "name": "math", "description": "Arithmetic.", "tools": [calc]}
    response = create(
        client,
        input="What is 12 times 7?",
        tools=[math],
        tool_choice={"type": "custom", "name": "calculator"},
        parallel_tool_calls=False,
        max_output_tokens=32,
    )
    [call] = response.output
    assert call.type == "custom_tool_call"
    assert (call.namespace, call.name) == ("math", "calculator")
    replayed = create(
        client,
        input=[
            call.model_dump(exclude_none=True),
            {"type": "custom_tool_call_output", "call_id": call.call_id, "output": "84"},
        ],
        tools=[math],
        tool_choice="none",
        store=False,
    )
    assert [item.type for item in replayed.output] == ["message"]


def test_ambiguous_member_name_needs_its_namespace(http: httpx.Client) -> None:
    other = {**NAMESPACE, "name": "mcp__archive__"}
    body = {"model": MODEL, "input": "hi", "tools": [NAMESPACE, other]}
    body["tool_choice"] = {"type": "function", "name": "lookup_order"}
    reply = http.post("/v1/responses", json=body)
    assert reply.status_code == 400 and reply.json()["error"]["param"] == "tool_choice"
    body["tool_choice"]["namespace"] = "mcp__archive__"
    body |= {"max_output_tokens": 48, "temperature": 0, "parallel_tool_calls": False}
    reply = http.post("/v1/responses", json=body)
    assert reply.status_code == 200, reply.text
    call = reply.json()["output"][0]
    assert (call["namespace"], call["name"]) == ("mcp__archive__", "lookup_order")


# --- tool search (client-executed) ------------------------------------------------------


def test_deferred_tools_load_through_a_client_tool_search(client: OpenAI) -> None:
    bounded = {  # a short query: the tiny model's search call finishes within the cap
        **TOOL_SEARCH,
        "parameters": {
            "type": "object",
            "properties": {"query": {"type": "string", "maxLength": 20}},
            "required": ["query"],
            "additionalProperties": False,
        },
    }
    search = create(
        client,
        input="What is on my calendar today?",
        tools=[DEFERRED, bounded],
        tool_choice="required",  # the deferred tool is not offered yet: only the search is
        parallel_tool_calls=False,
        max_output_tokens=48,
    )
    [call] = search.output
    assert call.type == "tool_search_call" and call.execution == "client"
    assert call.status == "completed" and "query" in call.arguments
    loaded = create(
        client,
        previous_response_id=search.id,
        input=[
            {
                "type": "tool_search_output",
                "call_id": call.call_id,
                "execution": "client",
                "status": "completed",
                "tools": [DEFERRED],
            }
        ],
        tools=[DEFERRED, bounded],
        tool_choice={"type": "function", "name": "list_events"},
        parallel_tool_calls=False,
        max_output_tokens=48,
    )
    [listed] = loaded.output
    assert listed.type == "function_call"
    assert (listed.namespace, listed.name) == ("mcp__calendar__", "list_events")


def test_a_deferred_tool_cannot_be_forced_before_it_is_loaded(http: httpx.Client) -> None:
    body = {"model": MODEL, "input": "hi", "tools": [DEFERRED, TOOL_SEARCH]}
    body["tool_choice"] = {"type": "function", "name": "list_events"}
    reply = http.post("/v1/responses", json=body)
    assert reply.status_code == 400 and reply.json()["error"]["param"] == "tool_choice"


# --- stored state -------------------------------------------------------------------------


def test_input_items_list_the_whole_chain(client: OpenAI) -> None:
    first = create(
        client,
        input=[
            {"role": "developer", "content": "Answer briefly."},
            {"role": "user", "content": "Name a colour."},
        ],
        reasoning={"effort": "low"},
        temperature=None,
        max_output_tokens=40,
    )
    second = create(client, previous_response_id=first.id, input="And another one?")
    first_in = client.responses.input_items.list(first.id, order="asc").data
    expected = [item.id for item in first_in] + [item.id for item in first.output]
    [new_input] = [item for item in client.responses.input_items.list(second.id).data[:1]]
    expected.append(new_input.id)
    assert "reasoning" in [item.type for item in first.output]
    listed = list(client.responses.input_items.list(second.id, order="asc", limit=2))
    assert [item.id for item in listed] == expected
    assert listed[-1].type == "message" and listed[-1].content[0].text == "And another one?"
    pages, after = [], None
    while True:
        page = client.responses.input_items.list(second.id, limit=2, **_after(after))
        pages.append([item.id for item in page.data])
        if not page.has_more:
            break
        after = page.last_id
    assert [i for page in pages for i in page] == expected[::-1]
    assert all(len(page) == 2 for page in pages[:-1])


def _after(after: str | None) -> dict[str, str]:
    return {} if after is None else {"after": after}


def test_item_references_resolve_to_the_stored_item(client: OpenAI, http: httpx.Client) -> None:
    earlier = create(client, input="Name a fruit.", max_output_tokens=16)
    [message] = earlier.output
    for reference in ({"type": "item_reference", "id": message.id}, {"id": message.id}):
        later = create(client, input=[reference, {"role": "user", "content": "Why that one?"}])
        [resolved, asked] = client.responses.input_items.list(later.id, order="asc").data
        assert resolved.model_dump() == message.model_dump()
        assert asked.type == "message"
    missing = http.post(
        "/v1/responses",
        json={"model": MODEL, "input": [{"type": "item_reference", "id": "msg_nowhere"}]},
    )
    assert missing.status_code == 404
    assert missing.json()["error"] == {
        "message": "Item with id 'msg_nowhere' not found.",
        "type": "invalid_request_error",
        "param": "input",
        "code": None,
    }


def test_an_item_sent_twice_is_a_duplicate(client: OpenAI) -> None:
    earlier = create(client, input="Name a fruit.", max_output_tokens=16)
    [message] = earlier.output
    inline = message.model_dump(exclude_none=True)
    attempts = [
        {"input": [inline, {"type": "item_reference", "id": message.id}]},
        {
            "input": [{"type": "item_reference", "id": message.id}],
            "previous_response_id": earlier.id,
        },
        {
            "input": [inline, {"role": "user", "content": "Why?"}],
            "previous_response_id": earlier.id,
        },
    ]
    for attempt in attempts:
        with pytest.raises(openai.BadRequestError) as caught:
            create(client, **attempt)
        assert caught.value.body["message"] == (  # type: ignore[index]
            f"Duplicate item found with id {message.id}. Remove duplicate items from your "
            "input and try again."
        )
        assert caught.value.param == "input"


def test_someone_elses_item_is_not_found(
    client: OpenAI, http: httpx.Client, server: ServerProcess
) -> None:
    earlier = create(client, input="Name a fruit.", max_output_tokens=16)
    stranger = other_user_client(server.base_url, http)
    with pytest.raises(openai.NotFoundError):
        stranger.responses.create(
            model=MODEL, input=[{"type": "item_reference", "id": earlier.output[0].id}]
        )
