"""Tools on `/v1/chat/completions` with the embedded model: `tool_calls`, streamed deltas."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
from jsonschema import Draft202012Validator  # type: ignore[import-untyped]
from openai import BadRequestError, OpenAI

MODEL = "gpt-5.1"
SCHEMA = {
    "type": "object",
    "properties": {"city": {"type": "string", "maxLength": 20}},
    "required": ["city"],
    "additionalProperties": False,
}
WEATHER = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Get the current weather in a city.",
        "parameters": SCHEMA,
        "strict": True,
    },
}
TIME = {
    "type": "function",
    "function": {"name": "get_time", "description": "Local time in a city.", "parameters": SCHEMA},
}
ASK = [{"role": "user", "content": "What is the weather in Paris?"}]


@pytest.fixture(scope="module")
def client(client: OpenAI) -> OpenAI:
    """The session client, patient: the machine's cores are shared by many servers."""
    return client.with_options(timeout=900)


def complete(client: OpenAI, **body: Any) -> Any:
    body.setdefault("model", MODEL)
    body.setdefault("messages", ASK)
    body.setdefault("temperature", 0)
    body.setdefault("max_completion_tokens", 60)
    return client.chat.completions.create(**body)


@pytest.fixture(scope="module")
def forced(client: OpenAI) -> Any:
    return complete(
        client,
        tools=[WEATHER, TIME],
        tool_choice={"type": "function", "function": {"name": "get_weather"}},
        parallel_tool_calls=False,
    )


def test_forced_function_gives_tool_calls(forced: Any) -> None:
    choice = forced.choices[0]
    assert choice.finish_reason == "tool_calls"
    [call] = choice.message.tool_calls
    assert call.type == "function" and call.function.name == "get_weather"
    assert call.id.startswith("call_")
    Draft202012Validator(SCHEMA).validate(json.loads(call.function.arguments))
    assert choice.message.content is None


def test_tool_result_round_trip(client: OpenAI, forced: Any) -> None:
    call = forced.choices[0].message.tool_calls[0]
    answer = complete(
        client,
        messages=[
            *ASK,
            {"role": "assistant", "tool_calls": [call.model_dump(exclude_none=True)]},
            {"role": "tool", "tool_call_id": call.id, "content": "22C and sunny"},
        ],
        tools=[WEATHER],
        tool_choice="none",
        max_completion_tokens=20,
    )
    choice = answer.choices[0]
    assert choice.finish_reason in ("stop", "length")
    assert choice.message.tool_calls is None and choice.message.content


def test_required_with_parallel_false_gives_one_call(client: OpenAI) -> None:
    completion = complete(
        client,
        messages=[{"role": "user", "content": "Weather and time in Paris?"}],
        tools=[WEATHER, TIME],
        tool_choice="required",
        parallel_tool_calls=False,
    )
    calls = completion.choices[0].message.tool_calls
    assert len(calls) == 1 and calls[0].function.name in ("get_weather", "get_time")


def test_allowed_tools_in_chat_form(client: OpenAI) -> None:
    completion = complete(
        client,
        tools=[WEATHER, TIME],
        tool_choice={
            "type": "allowed_tools",
            "allowed_tools": {
                "mode": "required",
                "tools": [{"type": "function", "function": {"name": "get_time"}}],
            },
        },
        parallel_tool_calls=False,
    )
    assert [c.function.name for c in completion.choices[0].message.tool_calls] == ["get_time"]


def test_stream_tool_calls_through_the_sdk_helper(client: OpenAI) -> None:
    with client.chat.completions.stream(
        model=MODEL,
        messages=ASK,  # type: ignore[arg-type]
        tools=[WEATHER],  # type: ignore[list-item]
        tool_choice="required",
        parallel_tool_calls=False,
        temperature=0,
        max_completion_tokens=60,
    ) as stream:
        chunks = [event.chunk for event in stream if event.type == "chunk"]
        final = stream.get_final_completion()
    calls = [c for chunk in chunks for ch in chunk.choices for c in ch.delta.tool_calls or []]
    assert calls[0].id and calls[0].function and calls[0].function.name == "get_weather"
    assert all(c.index == 0 for c in calls)
    assert all(c.id is None for c in calls[1:])  # id and name in the first chunk only
    assert len(calls) > 2  # arguments in fragments
    [call] = final.choices[0].message.tool_calls or []
    assert "".join(c.function.arguments or "" for c in calls if c.function) == (
        call.function.arguments  # type: ignore[union-attr]
    )
    assert final.choices[0].finish_reason == "tool_calls"
    Draft202012Validator(SCHEMA).validate(json.loads(call.function.arguments))  # type: ignore[union-attr]


def test_custom_tool_in_chat(client: OpenAI) -> None:
    calc = {
        "type": "custom",
        "custom": {
            "name": "calculator",
            "format": {
                "type": "grammar",
                "grammar": {"syntax": "regex", "definition": r"^[0-9]{1,3} [-+] [0-9]{1,3}$"},
            },
        },
    }
    completion = complete(
        client,
        messages=[{"role": "user", "content": "What is 12 plus 7?"}],
        tools=[calc],
        tool_choice={"type": "custom", "custom": {"name": "calculator"}},
        parallel_tool_calls=False,
    )
    [call] = completion.choices[0].message.tool_calls
    assert call.type == "custom" and call.custom.name == "calculator"
    assert call.custom.input.split()[1] in "+-"


BAD = [
    ({"tools": [{"type": "function", "function": {"description": "x"}}]}, "tools[0].function.name"),
    (
        {"tools": [WEATHER], "tool_choice": {"type": "function", "function": {"name": "x"}}},
        "tool_choice",
    ),
    ({"tools": [{"type": "retrieval"}]}, "tools[0].type"),
    ({"tool_choice": "required"}, "tool_choice"),
]


@pytest.mark.parametrize(("extra", "param"), BAD)
def test_bad_chat_tools_are_400(http: httpx.Client, extra: dict[str, Any], param: str) -> None:
    reply = http.post("/v1/chat/completions", json={"model": MODEL, "messages": ASK, **extra})
    assert reply.status_code == 400, reply.text
    assert reply.json()["error"]["param"] == param


def test_tool_message_without_call_is_400(client: OpenAI) -> None:
    with pytest.raises(BadRequestError):
        complete(
            client, messages=[*ASK, {"role": "tool", "tool_call_id": "call_x", "content": "1"}]
        )
