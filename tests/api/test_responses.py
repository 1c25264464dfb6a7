"""The Responses API end to end: real server, real SDK, real embedded model."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import openai
import pytest
from openai import OpenAI

from tests.support.server import ADMIN_KEY, ServerProcess, make_client

PROMPT = "Write one sentence about the sea."


def create(client: OpenAI, **kwargs: object):  # type: ignore[no-untyped-def]
    params: dict[str, object] = {"model": "gpt-5.1", "input": PROMPT, "temperature": 0}
    params["max_output_tokens"] = 48
    params.update(kwargs)
    return client.responses.create(**params)  # type: ignore[call-overload]


def test_create_returns_a_complete_response(client: OpenAI) -> None:
    # a cache key of its own: the prompt is new to the prompt cache, so nothing is cached
    response = create(client, max_output_tokens=200, prompt_cache_key="first-sight-responses")
    assert response.id.startswith("resp_")
    assert response.object == "response"
    assert response.status == "completed"
    assert response.model == "gpt-5.1"
    [message] = response.output
    assert message.type == "message" and message.id.startswith("msg_")
    assert message.status == "completed"
    assert response.output_text.strip()
    usage = response.usage
    assert usage is not None
    assert usage.input_tokens > 10 and usage.output_tokens > 0
    assert usage.total_tokens == usage.input_tokens + usage.output_tokens
    assert usage.output_tokens_details.reasoning_tokens == 0
    assert usage.input_tokens_details.cached_tokens == 0
    assert response.reasoning is not None and response.reasoning.effort == "none"
    assert response.completed_at is not None and response.completed_at >= response.created_at
    assert response.service_tier == "default"


def test_echoes_request_settings(client: OpenAI) -> None:
    response = create(
        client,
        instructions="Answer briefly.",
        metadata={"team": "qa"},
        top_p=0.5,
        user="user-1",
        safety_identifier="hashed-user",
        prompt_cache_key="tests",
        service_tier="auto",
        truncation="auto",
    )
    assert response.instructions == "Answer briefly."
    assert response.metadata == {"team": "qa"}
    assert response.top_p == 0.5 and response.temperature == 0
    assert response.user == "user-1" and response.safety_identifier == "hashed-user"
    assert response.prompt_cache_key == "tests"
    assert response.truncation == "auto"
    assert response.max_output_tokens == 48
    assert response.tool_choice == "auto" and response.tools == [] and response.parallel_tool_calls


def test_max_output_tokens_gives_incomplete(client: OpenAI) -> None:
    response = create(client, input="Write a long story about a dragon.", max_output_tokens=16)
    assert response.status == "incomplete"
    assert response.incomplete_details is not None
    assert response.incomplete_details.reason == "max_output_tokens"
    assert response.usage is not None and response.usage.output_tokens == 16
    assert response.output[0].status == "incomplete"


def test_stream_accumulates_to_the_stored_response(client: OpenAI) -> None:
    with client.responses.stream(
        model="gpt-5.1", input=PROMPT, temperature=0, max_output_tokens=200
    ) as stream:
        events = list(stream)
        final = stream.get_final_response()
    types = [event.type for event in events]
    assert types[:2] == ["response.created", "response.in_progress"]
    assert types[-1] == "response.completed"
    deltas = "".join(e.delta for e in events if e.type == "response.output_text.delta")
    assert deltas == final.output_text
    assert [e.sequence_number for e in events] == list(range(len(events)))
    stored = client.responses.retrieve(final.id)
    assert stored.model_dump() == _without_parsed(final.model_dump())


def test_stream_grammar_and_spec(server: ServerProcess) -> None:
    from tests.support.checks import check_stream_grammar, validate_response_resource

    events = _raw_stream(server, {"input": PROMPT, "max_output_tokens": 64, "temperature": 0})
    check_stream_grammar(events)
    validate_response_resource(events[-1]["response"])
    deltas = [e for e in events if e["type"] == "response.output_text.delta"]
    assert deltas and all(e["obfuscation"] for e in deltas)


def test_stream_without_obfuscation(server: ServerProcess) -> None:
    body = {"input": PROMPT, "max_output_tokens": 16, "temperature": 0}
    body["stream_options"] = {"include_obfuscation": False}
    events = _raw_stream(server, body)
    assert not any("obfuscation" in e for e in events)


def test_non_streamed_response_matches_spec(client: OpenAI) -> None:
    from tests.support.checks import validate_response_resource

    response = create(client)
    validate_response_resource(response.model_dump(mode="json", exclude_unset=True))


def test_multi_turn_with_previous_response_id(client: OpenAI) -> None:
    first = create(client, input="My name is Zorblax. Remember it.", max_output_tokens=32)
    second = create(
        client, input="What is my name?", previous_response_id=first.id, max_output_tokens=32
    )
    assert second.previous_response_id == first.id
    alone = create(client, input="What is my name?", max_output_tokens=16)
    assert first.usage is not None and second.usage is not None and alone.usage is not None
    # The second turn's prompt holds the first turn (its input and its answer).
    assert second.usage.input_tokens >= alone.usage.input_tokens + first.usage.output_tokens
    counted = client.responses.input_tokens.count(
        model="gpt-5.1", input="What is my name?", previous_response_id=first.id
    )
    assert counted.input_tokens == second.usage.input_tokens
    # Instructions are not carried over through previous_response_id.
    with_instructions = create(client, instructions="Be terse.", max_output_tokens=16)
    follow = create(client, previous_response_id=with_instructions.id, max_output_tokens=16)
    assert follow.instructions is None


def test_store_false_is_not_retrievable(client: OpenAI) -> None:
    response = create(client, store=False, max_output_tokens=16)
    with pytest.raises(openai.NotFoundError):
        client.responses.retrieve(response.id)
    with pytest.raises(openai.NotFoundError):
        create(client, previous_response_id=response.id)


def test_input_items_pagination(client: OpenAI) -> None:
    items = [
        {"role": "user" if i % 2 == 0 else "assistant", "content": f"message number {i}"}
        for i in range(7)
    ]
    response = create(client, input=items, max_output_tokens=16)
    listed = list(client.responses.input_items.list(response.id, order="asc", limit=3))
    assert [item.content[0].text for item in listed] == [f"message number {i}" for i in range(7)]
    assert len({item.id for item in listed}) == 7
    page = client.responses.input_items.list(response.id, limit=3)  # default order: desc
    assert [item.content[0].text for item in page.data] == [
        f"message number {i}" for i in (6, 5, 4)
    ]
    assert page.has_more and page.first_id == page.data[0].id and page.last_id == page.data[-1].id
    after = client.responses.input_items.list(response.id, limit=3, after=page.last_id)
    assert [item.content[0].text for item in after.data] == [
        f"message number {i}" for i in (3, 2, 1)
    ]
    last = client.responses.input_items.list(response.id, limit=3, after=after.last_id)
    assert [item.content[0].text for item in last.data] == ["message number 0"]
    assert not last.has_more


def test_string_input_is_listed_as_a_user_message(client: OpenAI) -> None:
    response = create(client, max_output_tokens=16)
    [item] = client.responses.input_items.list(response.id).data
    assert item.type == "message" and item.role == "user"
    assert item.content[0].type == "input_text" and item.content[0].text == PROMPT


def test_delete(client: OpenAI, http: httpx.Client) -> None:
    response = create(client, max_output_tokens=16)
    deleted = http.delete(f"/v1/responses/{response.id}")
    assert deleted.status_code == 200
    assert deleted.json() == {"id": response.id, "object": "response", "deleted": True}
    with pytest.raises(openai.NotFoundError):
        client.responses.retrieve(response.id)
    assert http.delete(f"/v1/responses/{response.id}").status_code == 404


def test_stream_replay_of_a_stored_response(client: OpenAI, server: ServerProcess) -> None:
    from tests.support.checks import check_stream_grammar

    response = create(client, max_output_tokens=32)
    with httpx.stream(
        "GET",
        f"{server.base_url}/v1/responses/{response.id}?stream=true",
        headers={"Authorization": f"Bearer {ADMIN_KEY}"},
    ) as reply:
        events = _parse_sse(reply)
    check_stream_grammar(events)
    assert events[-1]["response"]["output"][0]["content"][0]["text"] == response.output_text


def test_json_object_output(client: OpenAI) -> None:
    response = create(
        client,
        input="Reply with a JSON object with two keys, name and age, for a cat named Tom aged 3.",
        text={"format": {"type": "json_object"}},
        max_output_tokens=200,
    )
    assert response.status == "completed"
    assert isinstance(json.loads(response.output_text), dict)


def test_models(client: OpenAI) -> None:
    ids = {model.id for model in client.models.list()}
    assert {"gpt-5.1", "smollm2-135m-instruct"} <= ids
    assert client.models.retrieve("gpt-5.1").id == "gpt-5.1"
    with pytest.raises(openai.NotFoundError) as error:
        client.models.retrieve("no-such-model")
    assert error.value.code == "model_not_found"


def test_engine_model_name_serves_directly(client: OpenAI) -> None:
    response = create(client, model="smollm2-135m-instruct", max_output_tokens=16)
    assert response.model == "smollm2-135m-instruct"
    assert response.output_text


def test_restart_keeps_responses(data_dir: Path) -> None:
    first = ServerProcess(data_dir)
    try:
        client = make_client(first.base_url)
        response = create(client, max_output_tokens=24)
        items = client.responses.input_items.list(response.id).model_dump()
    finally:
        first.stop()
    second = ServerProcess(data_dir)
    try:
        client = make_client(second.base_url)
        assert client.responses.retrieve(response.id).model_dump() == response.model_dump()
        assert client.responses.input_items.list(response.id).model_dump() == items
        follow = create(client, previous_response_id=response.id, max_output_tokens=16)
        assert follow.status in {"completed", "incomplete"}
    finally:
        second.stop()


def test_generated_admin_key_is_handed_over_once_and_works(data_dir: Path) -> None:
    """Not on a terminal (as here): a 0600 file in the data dir, never the process output."""
    first = ServerProcess(data_dir, admin_key=None)
    try:
        key_file = data_dir / "admin-key.txt"
        key = key_file.read_text().strip()
        assert key.startswith("sk-tg-") and key not in first.log()
        assert str(key_file) in first.log() and key_file.stat().st_mode & 0o777 == 0o600
        assert make_client(first.base_url, key).models.list().data
    finally:
        first.stop()
    second = ServerProcess(data_dir, admin_key=None)
    try:
        assert key not in second.log()  # shown once, never again
        assert make_client(second.base_url, key).models.list().data
        with pytest.raises(openai.AuthenticationError):
            make_client(second.base_url, "sk-tg-wrong").models.list()
    finally:
        second.stop()


def _without_parsed(value: object) -> object:
    """The SDK's stream helper adds `parsed` (its own field) to text parts; drop it."""
    if isinstance(value, dict):
        return {k: _without_parsed(v) for k, v in value.items() if k != "parsed"}
    if isinstance(value, list):
        return [_without_parsed(v) for v in value]
    return value


def _raw_stream(server: ServerProcess, body: dict[str, object]) -> list[dict[str, object]]:
    payload = {"model": "gpt-5.1", "stream": True, **body}
    with server.stream("/v1/responses", payload) as reply:
        assert reply.status_code == 200
        assert reply.headers["content-type"].startswith("text/event-stream")
        return _parse_sse(reply)


def _parse_sse(reply: httpx.Response) -> list[dict[str, object]]:
    events: list[dict[str, object]] = []
    name = None
    for line in reply.iter_lines():
        if line.startswith("event: "):
            name = line[len("event: ") :]
        elif line.startswith("data: "):
            event = json.loads(line[len("data: ") :])
            assert event["type"] == name  # the event: line names the data's type
            events.append(event)
    return events


def test_client_disconnect_cancels_generation(client: OpenAI, server: ServerProcess) -> None:
    payload = {
        "model": "gpt-5.1",
        "stream": True,
        "input": "Write a very long story about a dragon and a knight.",
        "max_output_tokens": 4000,
        "temperature": 0,
    }
    response_id = None
    deltas = 0
    with server.stream("/v1/responses", payload) as reply:
        for line in reply.iter_lines():
            if not line.startswith("data: "):
                continue
            event = json.loads(line[len("data: ") :])
            if event["type"] == "response.created":
                response_id = event["response"]["id"]
            if event["type"] == "response.output_text.delta":
                deltas += 1
                if deltas == 5:
                    break  # leaving the block closes the connection mid-stream
    assert response_id is not None
    # The next request is served: the model was released by the cancelled generation.
    follow = create(client, max_output_tokens=16)
    assert follow.status in {"completed", "incomplete"}
    stored = client.responses.retrieve(response_id)
    assert stored.status == "cancelled"
    assert stored.usage is not None
    assert 5 <= stored.usage.output_tokens < 1000  # stopped long before its 4000-token cap


def test_concurrent_requests_take_turns(client: OpenAI) -> None:
    from concurrent.futures import ThreadPoolExecutor

    prompts = [f"Write one sentence about the number {n}." for n in range(4)]
    with ThreadPoolExecutor(max_workers=4) as pool:
        responses = list(pool.map(lambda p: create(client, input=p, max_output_tokens=24), prompts))
    assert len({r.id for r in responses}) == 4
    assert all(r.status in {"completed", "incomplete"} and r.output_text for r in responses)
    # Each answer is about its own prompt's number: no state bleeds between turns. (Not an
    # exact replay: llama.cpp reuses the shared prompt prefix, and a different split of the
    # prompt evaluation may flip a near-tie at temperature 0.)
    words = ["zero", "one", "two", "three"]
    for n, response in enumerate(responses):
        text = response.output_text.lower()
        assert str(n) in text or words[n] in text, (n, response.output_text)
