"""A chat-only upstream: llama-cpp-python's own OpenAI server (SmolLM2) behind a channel.

The Responses features go through chat translation and back; history comes from
thinkgate's own store, since the engine is stateless.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from openai import OpenAI

from tests.support.checks import check_stream_grammar, validate_response_resource
from tests.support.config import channel, write_config
from tests.support.server import ServerProcess, make_client
from tests.support.upstreams import UpstreamProcess, start_llama_cpp_server

SMALL = {"model": "gpt-5.1", "temperature": 0, "max_output_tokens": 16}


@pytest.fixture(scope="module")
def llama(tmp_path_factory: pytest.TempPathFactory) -> Iterator[UpstreamProcess]:
    process = start_llama_cpp_server(tmp_path_factory.mktemp("llama"))
    yield process
    process.stop()


@pytest.fixture(scope="module")
def front(
    tmp_path_factory: pytest.TempPathFactory, llama: UpstreamProcess
) -> Iterator[ServerProcess]:
    root = tmp_path_factory.mktemp("front")
    config = write_config(
        root / "thinkgate.toml",
        channel("llamacpp", llama.base_url, {"gpt-5.1": "smollm2"}, compat="llama-cpp-python"),
    )
    process = ServerProcess(root / "data", config=config)
    yield process
    process.stop()


@pytest.fixture(scope="module")
def api(front: ServerProcess) -> OpenAI:
    return make_client(front.base_url)


def _dump(obj: Any) -> dict[str, Any]:
    return obj.model_dump(mode="json", exclude_unset=True)


def test_text_through_chat_upstream(api: OpenAI, llama: UpstreamProcess) -> None:
    response = api.responses.create(input="Say hello.", **SMALL)
    assert response.status in ("completed", "incomplete")
    assert response.output_text.strip()
    assert response.model == "gpt-5.1"
    assert response.usage is not None and response.usage.output_tokens > 0
    validate_response_resource(_dump(response))
    assert "POST /v1/chat/completions" in llama.log()  # the upstream answered, not the local model


def test_streaming_through_chat_upstream(api: OpenAI) -> None:
    with api.responses.create(input="Name a color.", stream=True, **SMALL) as stream:
        events = [_dump(event) for event in stream]
    check_stream_grammar(events)
    text = "".join(e["delta"] for e in events if e["type"] == "response.output_text.delta")
    final = events[-1]["response"]
    assert text and final["output"][0]["content"][0]["text"] == text
    assert final["status"] in ("completed", "incomplete")


def test_json_schema_through_chat_upstream(api: OpenAI) -> None:
    schema = {
        "type": "object",
        "properties": {"answer": {"type": "string", "enum": ["yes", "no"]}},
        "required": ["answer"],
        "additionalProperties": False,
    }
    response = api.responses.create(
        input="Is the sky blue? Answer yes or no.",
        text={
            "format": {"type": "json_schema", "name": "verdict", "schema": schema, "strict": True}
        },
        model="gpt-5.1",
        temperature=0,
        max_output_tokens=32,
    )
    assert response.status == "completed"
    assert json.loads(response.output_text)["answer"] in ("yes", "no")


def test_previous_response_id_through_chat_upstream(api: OpenAI) -> None:
    first = api.responses.create(input="My name is Ada.", **SMALL)
    second = api.responses.create(input="What is my name?", previous_response_id=first.id, **SMALL)
    assert second.previous_response_id == first.id
    assert second.status in ("completed", "incomplete")
    assert first.usage is not None and second.usage is not None
    # the whole first turn was sent again: the stateless engine saw a longer prompt
    assert second.usage.input_tokens > first.usage.input_tokens


def test_chat_completions_through_chat_upstream(api: OpenAI) -> None:
    completion = api.chat.completions.create(
        model="gpt-5.1",
        messages=[{"role": "user", "content": "Say hi."}],
        temperature=0,
        max_completion_tokens=16,
    )
    assert completion.choices[0].message.content
    assert completion.usage is not None and completion.usage.completion_tokens > 0


def test_forced_tool_call_through_chat_upstream(api: OpenAI) -> None:
    tool = {
        "type": "function",
        "name": "get_weather",
        "description": "Weather for a city.",
        "parameters": {
            "type": "object",
            "properties": {"city": {"type": "string", "enum": ["Paris", "Rome"]}},
            "required": ["city"],
            "additionalProperties": False,
        },
        "strict": True,
    }
    response = api.responses.create(
        input="What is the weather in Paris?",
        tools=[tool],  # type: ignore[list-item]
        tool_choice={"type": "function", "name": "get_weather"},
        model="gpt-5.1",
        temperature=0,
        max_output_tokens=48,
    )
    calls = [item for item in response.output if item.type == "function_call"]
    assert len(calls) == 1
    assert calls[0].name == "get_weather"
    assert json.loads(calls[0].arguments)["city"] in ("Paris", "Rome")


def test_namespaced_call_through_chat_upstream(api: OpenAI) -> None:
    """Chat has no namespaces: the member goes out under its flat name and comes back as
    `namespace` + `name` (docs/clients.md)."""
    lookup = {
        "type": "function",
        "name": "get_weather",
        "description": "Weather for a city.",
        "parameters": {
            "type": "object",
            "properties": {"city": {"type": "string", "enum": ["Paris", "Rome"]}},
            "required": ["city"],
            "additionalProperties": False,
        },
        "strict": True,
    }
    response = api.responses.create(
        input="What is the weather in Paris?",
        tools=[
            {"type": "namespace", "name": "weather", "description": "Weather.", "tools": [lookup]}
        ],
        tool_choice={"type": "function", "name": "get_weather", "namespace": "weather"},
        model="gpt-5.1",
        temperature=0,
        max_output_tokens=48,
    )
    [call] = [item for item in response.output if item.type == "function_call"]
    assert (call.namespace, call.name) == ("weather", "get_weather")
    assert json.loads(call.arguments)["city"] in ("Paris", "Rome")
