"""Chat Completions end to end: real server, real SDK (strict validation), real model."""

from __future__ import annotations

import json
import time
from typing import Any

import httpx
import jsonschema
import pytest
from openai import OpenAI
from pydantic import BaseModel

from tests.support.server import ServerProcess

PROMPT = "Write one sentence about the sea."
COUNTING = "Count from one to ten in words."


def create(client: OpenAI, content: str = PROMPT, **kwargs: Any):  # type: ignore[no-untyped-def]
    params: dict[str, Any] = {
        "model": "gpt-5.1",
        "messages": [{"role": "user", "content": content}],
        "temperature": 0,
        "max_completion_tokens": 32,
    }
    params.update(kwargs)
    return client.chat.completions.create(**params)


def warm(client: OpenAI, content: str = PROMPT) -> None:
    """Put the engine in one cache state before calls whose texts are compared.

    llama.cpp reuses the cached prompt: right after a prompt was decoded in one batch, the
    next call samples from those logits; once generation has gone past the prompt, each
    call re-decodes its last prompt token alone. The two logits differ in the last bits,
    enough to flip a near-tie under greedy decoding. Two generated tokens reach the
    second state, which every later call with this prompt then shares.
    """
    create(client, content, max_completion_tokens=2)


def test_create_returns_a_chat_completion(client: OpenAI) -> None:
    # a cache key of its own: the prompt is new to the prompt cache, so nothing is cached
    completion = create(client, prompt_cache_key="first-sight-chat")
    assert completion.id.startswith("chatcmpl-")
    assert completion.object == "chat.completion"
    assert completion.model == "gpt-5.1"
    assert completion.service_tier == "default"
    assert completion.system_fingerprint and completion.system_fingerprint.startswith("fp_")
    [choice] = completion.choices
    assert choice.index == 0 and choice.finish_reason in {"stop", "length"}
    assert choice.logprobs is None
    message = choice.message
    assert message.role == "assistant" and message.content and message.content.strip()
    assert message.refusal is None and message.annotations == [] and message.tool_calls is None
    usage = completion.usage
    assert usage is not None and usage.prompt_tokens > 5 and usage.completion_tokens > 0
    assert usage.total_tokens == usage.prompt_tokens + usage.completion_tokens
    assert usage.prompt_tokens_details and usage.prompt_tokens_details.cached_tokens == 0
    assert usage.completion_tokens_details
    assert usage.completion_tokens_details.reasoning_tokens == 0


def test_stream_accumulates_to_the_same_completion(client: OpenAI) -> None:
    warm(client)
    with client.chat.completions.stream(
        model="gpt-5.1",
        messages=[{"role": "user", "content": PROMPT}],
        temperature=0,
        max_completion_tokens=48,  # room to finish: the helper refuses a "length" ending
        logprobs=True,
    ) as stream:
        deltas = [event.delta for event in stream if event.type == "content.delta"]
        final = stream.get_final_completion()
    [choice] = final.choices
    assert choice.message.content == "".join(deltas)
    assert choice.logprobs is not None and choice.logprobs.content
    assert "".join(lp.token for lp in choice.logprobs.content) == choice.message.content
    assert choice.finish_reason == "stop"
    again = create(client, max_completion_tokens=48)
    assert choice.message.content == again.choices[0].message.content


def test_raw_stream_with_usage_and_two_choices(server: ServerProcess) -> None:
    body = {"n": 2, "max_completion_tokens": 6, "stream_options": {"include_usage": True}}
    lines, chunks = _raw_stream(server, body)
    assert not any(line.startswith("event:") for line in lines)
    assert lines[-1] == "data: [DONE]"
    *choice_chunks, usage_chunk = chunks
    assert all(chunk["usage"] is None for chunk in choice_chunks)
    assert all(chunk["obfuscation"] for chunk in chunks)
    assert len({chunk["id"] for chunk in chunks}) == 1
    for index in (0, 1):
        mine = [c["choices"][0] for c in choice_chunks if c["choices"][0]["index"] == index]
        assert mine[0]["delta"] == {"role": "assistant", "content": "", "refusal": None}
        assert mine[-1]["delta"] == {} and mine[-1]["finish_reason"] == "length"
        assert all(c["finish_reason"] is None for c in mine[:-1])
    assert usage_chunk["choices"] == []
    usage = usage_chunk["usage"]
    assert usage["completion_tokens"] == 12
    assert usage["total_tokens"] == usage["prompt_tokens"] + 12


def test_stream_without_obfuscation_or_usage(server: ServerProcess) -> None:
    body = {"max_completion_tokens": 4, "stream_options": {"include_obfuscation": False}}
    _, chunks = _raw_stream(server, body)
    assert not any("obfuscation" in chunk or "usage" in chunk for chunk in chunks)


def test_n_choices(client: OpenAI) -> None:
    warm(client)
    single = create(client, max_completion_tokens=8)
    completion = create(client, n=3, max_completion_tokens=8)
    assert [choice.index for choice in completion.choices] == [0, 1, 2]
    # Greedy decoding: every choice is the single answer.
    assert {c.message.content for c in completion.choices} == {single.choices[0].message.content}
    assert completion.usage is not None and single.usage is not None
    assert completion.usage.prompt_tokens == single.usage.prompt_tokens  # counted once
    assert completion.usage.completion_tokens == 3 * single.usage.completion_tokens


def test_stop_cuts_the_text(client: OpenAI) -> None:
    warm(client, COUNTING)
    free = create(client, COUNTING, max_completion_tokens=24).choices[0].message.content
    assert free
    words = free.split()
    word = words[len(words) // 2]
    stopped = create(client, COUNTING, max_completion_tokens=24, stop=[word, "never-seen"])
    [choice] = stopped.choices
    assert choice.finish_reason == "stop"
    assert choice.message.content == free[: free.index(word)]
    assert word not in (choice.message.content or "")


def test_max_completion_tokens_gives_length(client: OpenAI) -> None:
    completion = create(client, "Write a long story about a dragon.", max_completion_tokens=5)
    assert completion.choices[0].finish_reason == "length"
    assert completion.usage is not None and completion.usage.completion_tokens == 5


def test_max_tokens_is_accepted_at_effort_none(client: OpenAI) -> None:
    completion = create(client, max_completion_tokens=None, max_tokens=5)
    assert completion.usage is not None and completion.usage.completion_tokens <= 5


def test_logprobs(client: OpenAI) -> None:
    completion = create(client, COUNTING, max_completion_tokens=12, logprobs=True, top_logprobs=2)
    [choice] = completion.choices
    assert choice.logprobs is not None and choice.logprobs.refusal is None
    content = choice.logprobs.content
    assert content and len(content) == completion.usage.completion_tokens  # type: ignore[union-attr]
    for logprob in content:
        assert logprob.logprob <= 0
        assert len(logprob.top_logprobs) == 2
        assert all(top.logprob <= 0 for top in logprob.top_logprobs)
        assert logprob.top_logprobs[0].token == logprob.token  # greedy picks the likeliest
        assert bytes(logprob.bytes or []) == logprob.token.encode()
    assert "".join(logprob.token for logprob in content) == choice.message.content


class Pet(BaseModel):
    name: str
    age: int


def test_parse_with_a_pydantic_model(client: OpenAI) -> None:
    completion = client.chat.completions.parse(
        model="gpt-5.1",
        messages=[{"role": "user", "content": "Give a cat named Tom aged 3 as JSON."}],
        temperature=0,
        max_completion_tokens=48,
        response_format=Pet,
    )
    parsed = completion.choices[0].message.parsed
    assert isinstance(parsed, Pet) and parsed.name


def test_json_schema_output_validates(client: OpenAI) -> None:
    schema = {
        "type": "object",
        "properties": {
            "color": {"type": "string", "enum": ["red", "green", "blue"]},
            "count": {"type": "integer"},
        },
        "required": ["color", "count"],
        "additionalProperties": False,
    }
    completion = create(
        client,
        "Pick a color and a small number.",
        max_completion_tokens=48,
        response_format={
            "type": "json_schema",
            "json_schema": {"name": "pick", "strict": True, "schema": schema},
        },
    )
    assert completion.choices[0].finish_reason == "stop"
    jsonschema.validate(json.loads(completion.choices[0].message.content or ""), schema)


def test_a_schema_the_engine_cannot_compile_is_a_400(
    http: httpx.Client, server: ServerProcess
) -> None:
    """The grammar is compiled before the prompt is accepted: a 400 before any byte."""
    fmt = {"type": "json_schema", "json_schema": {"name": "x", "schema": {"type": "bogus"}}}
    payload = {"model": "gpt-5.1", "messages": USER, "response_format": fmt}
    for stream in (False, True):
        body = {**payload, "max_completion_tokens": 8, "stream": stream}
        reply = http.post("/v1/chat/completions", json=body)
        assert reply.status_code == 400
        error = reply.json()["error"]
        assert (error["param"], error["code"]) == (
            "response_format.json_schema.schema",
            "invalid_json_schema",
        )


def test_history_with_tool_calls(client: OpenAI) -> None:
    question = "What is the weather in Paris?"
    call = {
        "id": "call_weather1",
        "type": "function",
        "function": {"name": "get_weather", "arguments": '{"city": "Paris"}'},
    }
    tool = {
        "type": "function",
        "function": {
            "name": "get_weather",
            "description": "Current weather for a city.",
            "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
        },
    }
    messages: list[Any] = [
        {"role": "system", "content": "You are a weather assistant."},
        {"role": "user", "content": question},
        {"role": "assistant", "content": None, "tool_calls": [call]},
        {"role": "tool", "tool_call_id": "call_weather1", "content": "Sunny, 21 C"},
    ]
    completion = create(client, messages=messages, tools=[tool], max_completion_tokens=16)
    assert completion.choices[0].message.content
    alone = create(client, question, max_completion_tokens=1)
    assert completion.usage is not None and alone.usage is not None
    assert completion.usage.prompt_tokens > alone.usage.prompt_tokens + 10  # the history counts


def test_one_shared_path_with_responses(client: OpenAI) -> None:
    warm(client)
    chat = create(client, max_completion_tokens=24)
    response = client.responses.create(
        model="gpt-5.1", input=PROMPT, temperature=0, max_output_tokens=24
    )
    assert chat.choices[0].message.content == response.output_text
    assert chat.usage is not None and response.usage is not None
    assert chat.usage.prompt_tokens == response.usage.input_tokens
    assert chat.usage.completion_tokens == response.usage.output_tokens


USER = [{"role": "user", "content": "hi"}]
CALL = {"id": "call_1", "type": "function", "function": {"name": "f", "arguments": "{}"}}


@pytest.mark.parametrize(
    ("body", "param", "code"),
    [
        (
            {"messages": [*USER, {"role": "tool", "tool_call_id": "x", "content": "1"}]},
            "messages[1]",
            None,
        ),
        (
            {"messages": [*USER, {"role": "assistant", "tool_calls": [CALL]}, *USER]},
            "messages[1]",
            None,
        ),
        ({"n": 0}, "n", "integer_below_min_value"),
        ({"n": 129}, "n", "integer_above_max_value"),
        ({"messages": [{"role": "robot", "content": "hi"}]}, "messages[0].role", "invalid_value"),
        ({"messages": [{"role": "user"}]}, "messages[0].content", "missing_required_parameter"),
        (
            {"messages": [{"role": "user", "content": [{"type": "text"}]}]},
            "messages[0].content[0].text",
            "missing_required_parameter",
        ),
        ({"top_logprobs": 2}, "top_logprobs", "invalid_value"),
        ({"logprobs": True, "top_logprobs": 21}, "top_logprobs", "integer_above_max_value"),
        ({"stop": ["a", "b", "c", "d", "e"]}, "stop", "array_above_max_length"),
        ({"reasoning_effort": "minimal"}, "reasoning_effort", "unsupported_value"),
        ({"reasoning_effort": "low", "temperature": 0.5}, "temperature", None),
        ({"reasoning_effort": "low", "logprobs": True}, "logprobs", None),
        (
            {"reasoning_effort": "low", "max_tokens": 16, "max_completion_tokens": None},
            "max_tokens",
            "unsupported_parameter",
        ),
        ({"max_tokens": 16, "max_completion_tokens": 16}, "max_tokens", "invalid_value"),
        ({"max_completion_tokens": 0}, "max_completion_tokens", "integer_below_min_value"),
        ({"temperature": 2.5}, "temperature", "decimal_above_max_value"),
        ({"frobnicate": True}, "frobnicate", "unknown_parameter"),
        ({"stream_options": {"include_usage": True}}, "stream_options", "invalid_value"),
        ({"tool_choice": "required"}, "tool_choice", "invalid_value"),
        ({"tools": [{"type": "retrieval"}]}, "tools[0].type", "invalid_value"),
        (
            {"tools": [{"type": "function", "function": {"name": "bad name"}}]},
            "tools[0].function.name",
            "invalid_value",
        ),
        (
            {"response_format": {"type": "json_schema", "json_schema": {"name": "bad name"}}},
            "response_format.json_schema.name",
            "invalid_value",
        ),
        ({"prompt_cache_retention": "forever"}, "prompt_cache_retention", "invalid_value"),
        ({"logit_bias": {"50256": -100}}, "logit_bias", "unsupported_parameter"),
        ({"model": "no-such-model"}, "model", "model_not_found"),
    ],
)
def test_bad_requests_name_the_parameter(
    http: httpx.Client, body: dict[str, Any], param: str, code: str | None
) -> None:
    defaults = {"model": "gpt-5.1", "messages": USER, "max_completion_tokens": 16}
    payload = {k: v for k, v in {**defaults, **body}.items() if v is not None}
    reply = http.post("/v1/chat/completions", json=payload)
    assert reply.status_code == (404 if code == "model_not_found" else 400), reply.text
    error = reply.json()["error"]
    assert error["type"] == "invalid_request_error"
    assert (error["param"], error["code"]) == (param, code), error["message"]


def test_prompt_cache_retention_spellings_and_settings_are_accepted(client: OpenAI) -> None:
    completion = create(
        client,
        max_completion_tokens=4,
        prompt_cache_retention="in-memory",  # type: ignore[arg-type]  # GPT-5.1-era SDK spelling
        prompt_cache_key="tests",
        metadata={"team": "qa"},
        user="user-1",
        safety_identifier="hashed-user",
        service_tier="auto",
        verbosity="low",
        store=True,
        seed=7,
        presence_penalty=0.5,
        frequency_penalty=0.5,
        parallel_tool_calls=False,
        reasoning_effort="none",
    )
    assert completion.choices[0].message.content is not None


def test_client_disconnect_cancels_generation(client: OpenAI, server: ServerProcess) -> None:
    payload = {
        "model": "gpt-5.1",
        "stream": True,
        "messages": [{"role": "user", "content": "Write a very long story about a dragon."}],
        "max_completion_tokens": 4000,
        "temperature": 0,
    }
    with server.stream("/v1/chat/completions", payload) as reply:
        seen = 0
        for line in reply.iter_lines():
            if line.startswith("data: "):
                seen += 1
                if seen == 5:
                    break  # leaving the block closes the connection mid-stream
    # The model was released: a short request is served long before 4000 tokens could be.
    started = time.monotonic()
    assert create(client, max_completion_tokens=4).choices[0].message.content is not None
    assert time.monotonic() - started < 100


def _raw_stream(
    server: ServerProcess, body: dict[str, Any]
) -> tuple[list[str], list[dict[str, Any]]]:
    payload = {"model": "gpt-5.1", "messages": USER, "temperature": 0, "stream": True, **body}
    with server.stream("/v1/chat/completions", payload) as reply:
        assert reply.status_code == 200
        assert reply.headers["content-type"].startswith("text/event-stream")
        lines = [line for line in reply.iter_lines() if line]
    chunks = [json.loads(line[6:]) for line in lines if line != "data: [DONE]"]
    assert all(c["object"] == "chat.completion.chunk" for c in chunks if "error" not in c)
    return lines, chunks
