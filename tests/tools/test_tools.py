"""Tools on `/v1/responses` with the embedded model: every tool type and tool_choice form.

Calls come from grammar-constrained decoding, so what is asserted is structure (a forced
call is made, strict arguments validate, the call count obeys parallel_tool_calls), never
the weak model's judgement.
"""

from __future__ import annotations

import json
import re
from typing import Any

import httpx
import pytest
from jsonschema import Draft202012Validator  # type: ignore[import-untyped]
from openai import BadRequestError, OpenAI

from tests.support.checks import check_stream_grammar, validate_response_resource

MODEL = "gpt-5.1"
WEATHER_SCHEMA = {
    "type": "object",
    "properties": {
        "city": {"type": "string", "maxLength": 20},
        "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]},
    },
    "required": ["city", "unit"],
    "additionalProperties": False,
}
WEATHER = {
    "type": "function",
    "name": "get_weather",
    "description": "Get the current weather in a city.",
    "parameters": WEATHER_SCHEMA,
    "strict": True,
}
TIME = {
    "type": "function",
    "name": "get_time",
    "description": "Get the local time in a city.",
    "parameters": {
        "type": "object",
        "properties": {"city": {"type": "string", "maxLength": 20}},
        "required": ["city"],
        "additionalProperties": False,
    },
    "strict": True,
}
CALC = {
    "type": "custom",
    "name": "calculator",
    "description": "Evaluate an arithmetic expression.",
    "format": {
        "type": "grammar",
        "syntax": "regex",
        "definition": r"^[0-9]{1,4} [-+*] [0-9]{1,4}$",
    },
}
TWO_CITIES = "What is the weather in Paris and in Tokyo?"


@pytest.fixture(scope="module")
def client(client: OpenAI) -> OpenAI:
    """The session client, patient: the machine's cores are shared by many servers."""
    return client.with_options(timeout=900)


def create(client: OpenAI, **body: Any) -> Any:
    body.setdefault("model", MODEL)
    body.setdefault("temperature", 0)
    body.setdefault("max_output_tokens", 80)
    return client.responses.create(**body)


def calls_of(response: Any, kind: str = "function_call") -> list[Any]:
    return [item for item in response.output if item.type == kind]


def assert_call_ids(call: Any, prefix: str) -> None:
    assert call.id.startswith(f"{prefix}_")
    assert re.fullmatch(r"call_[A-Za-z0-9]{24}", call.call_id)


def raw_stream(http: httpx.Client, body: dict[str, Any]) -> list[dict[str, Any]]:
    """The events of one streamed create, checked against the stream grammar.

    Not against the Open Responses schemas: they know function tools only, so a response
    echoing `apply_patch`, `shell` or `custom` tools fails them by construction."""
    payload = {"model": MODEL, "temperature": 0, "max_output_tokens": 80, "stream": True, **body}
    events: list[dict[str, Any]] = []
    with http.stream("POST", "/v1/responses", json=payload, timeout=900) as reply:
        assert reply.status_code == 200
        for line in reply.iter_lines():
            if line.startswith("data: "):
                events.append(json.loads(line[6:]))
    check_stream_grammar(events, validate=False)
    return events


def without_parsed(value: Any) -> Any:
    """The SDK's stream helper adds `parsed_arguments` (its own field) to calls; drop it."""
    if isinstance(value, dict):
        return {k: without_parsed(v) for k, v in value.items() if k != "parsed_arguments"}
    if isinstance(value, list):
        return [without_parsed(v) for v in value]
    return value


# --- function tools and tool_choice ---------------------------------------------------


def test_forced_function_call_has_valid_strict_arguments(client: OpenAI) -> None:
    response = create(
        client,
        input="What is the weather in Paris?",
        tools=[WEATHER, TIME],
        tool_choice={"type": "function", "name": "get_weather"},
        parallel_tool_calls=False,
    )
    assert response.status == "completed"
    calls = calls_of(response)
    assert calls and all(call.name == "get_weather" for call in calls)
    assert [item.type for item in response.output] == ["function_call"] * len(calls)
    for call in calls:
        assert_call_ids(call, "fc")
        assert call.status == "completed"
        Draft202012Validator(WEATHER_SCHEMA).validate(json.loads(call.arguments))
    assert response.tool_choice.type == "function"  # type: ignore[union-attr]
    tool = response.tools[0].model_dump()
    assert tool["strict"] is True and tool["parameters"] == WEATHER_SCHEMA
    validate_response_resource(response.model_dump(mode="json", exclude_unset=True))


def test_required_with_parallel_calls_makes_two_calls(client: OpenAI) -> None:
    response = create(
        client,
        input=TWO_CITIES,
        tools=[WEATHER],
        tool_choice="required",
        parallel_tool_calls=True,
        max_tool_calls=2,
        max_output_tokens=120,
    )
    calls = calls_of(response)
    assert len(calls) == 2, response.output
    assert len({call.call_id for call in calls}) == 2
    assert len({call.id for call in calls}) == 2
    cities = {json.loads(call.arguments)["city"] for call in calls}
    assert cities <= {"Paris", "Tokyo"} or len(cities) >= 1
    assert response.status == "completed"


def test_parallel_tool_calls_false_makes_exactly_one(client: OpenAI) -> None:
    response = create(
        client, input=TWO_CITIES, tools=[WEATHER], tool_choice="required", parallel_tool_calls=False
    )
    assert response.status == "completed"
    assert len(calls_of(response)) == 1
    assert len(response.output) == 1
    assert response.parallel_tool_calls is False


def test_tool_choice_none_answers_in_text(client: OpenAI) -> None:
    response = create(client, input=TWO_CITIES, tools=[WEATHER], tool_choice="none")
    assert not calls_of(response)
    assert [item.type for item in response.output] == ["message"]
    assert response.tool_choice == "none"


def test_tool_choice_auto_yields_text_or_valid_calls(client: OpenAI) -> None:
    response = create(client, input="Say hello.", tools=[WEATHER])
    kinds = {item.type for item in response.output}
    assert kinds in ({"message"}, {"function_call"})
    for call in calls_of(response):
        Draft202012Validator(WEATHER_SCHEMA).validate(json.loads(call.arguments))


def test_allowed_tools_required_limits_the_choice(client: OpenAI) -> None:
    response = create(
        client,
        input="What is the weather in Paris?",
        tools=[WEATHER, TIME],
        tool_choice={
            "type": "allowed_tools",
            "mode": "required",
            "tools": [{"type": "function", "name": "get_time"}],
        },
        parallel_tool_calls=False,
    )
    calls = calls_of(response)
    assert [call.name for call in calls] == ["get_time"]
    assert set(json.loads(calls[0].arguments)) == {"city"}


def test_allowed_tools_auto_never_calls_a_tool_outside_the_subset(client: OpenAI) -> None:
    response = create(
        client,
        input="What time is it in Paris?",
        tools=[WEATHER, TIME],
        tool_choice={
            "type": "allowed_tools",
            "mode": "auto",
            "tools": [{"type": "function", "name": "get_weather"}],
        },
    )
    assert all(call.name == "get_weather" for call in calls_of(response))


# --- round trips ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def weather_call(client: OpenAI) -> Any:
    return create(
        client,
        input="What is the weather in Paris?",
        tools=[WEATHER],
        tool_choice="required",
        parallel_tool_calls=False,
    )


def test_function_output_round_trip_via_previous_response_id(
    client: OpenAI, weather_call: Any
) -> None:
    call = calls_of(weather_call)[0]
    answer = create(
        client,
        previous_response_id=weather_call.id,
        input=[{"type": "function_call_output", "call_id": call.call_id, "output": "22C, sunny"}],
        tools=[WEATHER],
        tool_choice="none",
        max_output_tokens=24,
    )
    assert answer.status in ("completed", "incomplete")
    assert [item.type for item in answer.output] == ["message"]
    items = client.responses.input_items.list(answer.id).data
    assert any(item.type == "function_call_output" for item in items)


def test_function_output_round_trip_via_full_input(client: OpenAI, weather_call: Any) -> None:
    call = calls_of(weather_call)[0]
    answer = create(
        client,
        input=[
            {"role": "user", "content": "What is the weather in Paris?"},
            call.model_dump(exclude_none=True),
            {"type": "function_call_output", "call_id": call.call_id, "output": "22C"},
        ],
        tools=[WEATHER],
        tool_choice="none",
        max_output_tokens=24,
        store=False,
    )
    assert [item.type for item in answer.output] == ["message"]


def test_call_without_output_is_a_400(client: OpenAI, weather_call: Any) -> None:
    call = calls_of(weather_call)[0]
    with pytest.raises(BadRequestError) as caught:
        create(client, previous_response_id=weather_call.id, input="And tomorrow?")
    assert f"No tool output found for function call {call.call_id}" in caught.value.message
    assert caught.value.param == "input"


def test_output_without_call_is_a_400(client: OpenAI) -> None:
    with pytest.raises(BadRequestError) as caught:
        create(
            client,
            input=[{"type": "function_call_output", "call_id": "call_nowhere", "output": "1"}],
        )
    assert "call_nowhere" in caught.value.message
    assert caught.value.param == "input"


def test_every_call_and_output_item_type_is_accepted_as_input(client: OpenAI) -> None:
    items = [
        {"role": "user", "content": "Do the work."},
        {"type": "custom_tool_call", "call_id": "call_a", "name": "calculator", "input": "1 + 1"},
        {"type": "custom_tool_call_output", "call_id": "call_a", "output": "2"},
        {
            "type": "apply_patch_call",
            "call_id": "call_b",
            "status": "completed",
            "operation": {"type": "create_file", "path": "a.md", "diff": "+hi\n"},
        },
        {"type": "apply_patch_call_output", "call_id": "call_b", "status": "completed"},
        {
            "type": "shell_call",
            "call_id": "call_c",
            "action": {"commands": ["ls"], "timeout_ms": None, "max_output_length": None},
            "status": "completed",
        },
        {
            "type": "shell_call_output",
            "call_id": "call_c",
            "output": [
                {"stdout": "a.md\n", "stderr": "", "outcome": {"type": "exit", "exit_code": 0}}
            ],
        },
    ]
    answer = create(
        client,
        input=items,
        tools=[CALC, {"type": "apply_patch"}, {"type": "shell"}],
        tool_choice="none",
        max_output_tokens=16,
    )
    assert answer.output[0].type == "message"
    with pytest.raises(BadRequestError) as caught:
        create(client, input=items[:3] + items[4:], tool_choice="none", max_output_tokens=16)
    assert "No tool call found for apply patch call output with call_id call_b" in (
        caught.value.message
    )


# --- streaming -----------------------------------------------------------------------------


def test_stream_of_parallel_calls_through_the_sdk_helper(
    client: OpenAI, http: httpx.Client
) -> None:
    with client.responses.stream(
        model=MODEL,
        input=TWO_CITIES,
        tools=[WEATHER],  # type: ignore[list-item]
        tool_choice="required",
        max_tool_calls=2,
        temperature=0,
        max_output_tokens=120,
    ) as stream:
        events = [without_parsed(e.model_dump(mode="json", exclude_unset=True)) for e in stream]
        final = stream.get_final_response()
    check_stream_grammar(events)
    kinds = [event["type"] for event in events]
    assert kinds.count("response.function_call_arguments.done") == len(calls_of(final)) == 2
    deltas = [e for e in events if e["type"] == "response.function_call_arguments.delta"]
    assert len(deltas) > 2  # arguments arrive in pieces, as they are generated
    first = calls_of(final)[0]
    streamed = "".join(e["delta"] for e in deltas if e["item_id"] == first.id)
    assert streamed == first.arguments


def test_forced_apply_patch_call_carries_an_operation(client: OpenAI, http: httpx.Client) -> None:
    events = raw_stream(
        http,
        {
            "input": "Create a file notes.md that lists milk and bread.",
            "tools": [{"type": "apply_patch"}],
            "tool_choice": {"type": "apply_patch"},
            "parallel_tool_calls": False,
            "max_output_tokens": 200,
        },
    )
    final = events[-1]["response"]
    [call] = final["output"]
    assert call["type"] == "apply_patch_call" and call["id"].startswith("apc_")
    operation = call["operation"]
    assert operation["type"] in ("create_file", "update_file", "delete_file")
    assert re.fullmatch(r"[A-Za-z0-9_][\w.-]*(/[A-Za-z0-9_][\w.-]*)*", operation["path"])
    if operation["type"] == "create_file":
        lines = operation["diff"].split("\n")
        assert lines[-1] == "" and all(line.startswith("+") for line in lines[:-1])
    assert final["tools"] == [{"type": "apply_patch"}]
    assert final["tool_choice"] == {"type": "apply_patch"}


def test_forced_shell_call_streams_its_commands(client: OpenAI, http: httpx.Client) -> None:
    events = raw_stream(
        http,
        {
            "input": "List the files in the current directory.",
            "tools": [{"type": "shell"}],
            "tool_choice": {"type": "shell"},
            "parallel_tool_calls": False,
        },
    )
    [call] = events[-1]["response"]["output"]
    assert call["type"] == "shell_call" and call["id"].startswith("sh_")
    action = call["action"]
    assert set(action) == {"commands", "timeout_ms", "max_output_length"}
    assert action["commands"] and all(command.strip() for command in action["commands"])
    done = [e["command"] for e in events if e["type"] == "response.shell_call_command.done"]
    assert done == action["commands"]


def test_forced_custom_tool_input_follows_its_regex(client: OpenAI, http: httpx.Client) -> None:
    events = raw_stream(
        http,
        {
            "input": "What is 12 plus 7?",
            "tools": [CALC],
            "tool_choice": {"type": "custom", "name": "calculator"},
            "parallel_tool_calls": False,
        },
    )
    [call] = events[-1]["response"]["output"]
    assert call["type"] == "custom_tool_call" and call["id"].startswith("ctc_")
    assert re.fullmatch(r"[0-9]{1,4} [-+*] [0-9]{1,4}", call["input"])
    kinds = [event["type"] for event in events]
    assert "response.custom_tool_call_input.delta" in kinds


def test_custom_tool_with_free_text_input(client: OpenAI) -> None:
    notes = {"type": "custom", "name": "take_note", "description": "Save a note."}
    response = create(
        client,
        input="Note that the meeting is at noon.",
        tools=[notes],
        tool_choice={"type": "custom", "name": "take_note"},
        parallel_tool_calls=False,
        max_output_tokens=40,
    )
    [call] = calls_of(response, "custom_tool_call")
    assert isinstance(call.input, str) and call.name == "take_note"
    assert_call_ids(call, "ctc")
    assert response.tools[0].model_dump()["format"] == {"type": "text"}


# --- bad input -----------------------------------------------------------------------------


BAD = [
    ({"tools": [{"type": "teleport"}]}, "tools[0].type"),
    ({"tools": [{"type": "image_generation"}]}, "tools[0].type"),
    ({"tools": [{"type": "file_search"}]}, "tools[0].vector_store_ids"),
    ({"tools": [{"type": "function"}]}, "tools[0].name"),
    ({"tools": [{**WEATHER, "parameters": {"type": "array"}}]}, "tools[0].parameters"),
    ({"tools": [WEATHER, WEATHER]}, "tools[1].name"),
    (  # a schema the grammar converter cannot follow: refused before generation
        {
            "tools": [
                {**WEATHER, "parameters": {"type": "object", "properties": {"a": {"$ref": "#/x"}}}}
            ]
        },
        "tools[0].parameters",
    ),
    ({"tools": [WEATHER], "tool_choice": {"type": "function", "name": "nope"}}, "tool_choice"),
    ({"tools": [WEATHER], "tool_choice": {"type": "shell"}}, "tool_choice"),
    ({"tool_choice": "required"}, "tool_choice"),
    ({"tools": [WEATHER], "tool_choice": "sometimes"}, "tool_choice"),
    (
        {
            "tools": [WEATHER],
            "tool_choice": {"type": "allowed_tools", "mode": "auto", "tools": [{"type": "x"}]},
        },
        "tool_choice.tools[0].type",
    ),
    (
        {"tools": [{**CALC, "format": {"type": "grammar", "syntax": "ebnf", "definition": "x"}}]},
        "tools[0].format.syntax",
    ),
    (
        {"input": [{"type": "shell_call", "call_id": "c", "action": {}, "status": "completed"}]},
        "input[0].action.commands",
    ),
]


@pytest.mark.parametrize(("extra", "param"), BAD)
def test_bad_tools_are_400_with_the_right_param(
    http: httpx.Client, extra: dict[str, Any], param: str
) -> None:
    reply = http.post("/v1/responses", json={"model": MODEL, "input": "hi", **extra})
    assert reply.status_code == 400, reply.text
    error = reply.json()["error"]
    assert error["param"] == param, error
    assert error["type"] == "invalid_request_error"
