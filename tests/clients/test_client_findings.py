"""What the real clients of tests/clients/test_clients.py found, pinned down one by one
(docs/clients.md lists them with the client that sends each).

- A named `tool_choice` forces exactly one call, as OpenAI documents ("Forced Function:
  Call exactly one specific function"), whatever `parallel_tool_calls` says. The Agents
  SDK's Responses model sends `parallel_tool_calls: true` with a forced tool; the embedded
  model, allowed up to eight calls, repeated the call until `max_output_tokens` cut the
  response short, which the SDK reports as a failed run. `required` still allows several
  calls (tests/tools/test_tools.py).
- An assistant chat message sent back as thinkgate returned it, `annotations: []`
  included: openai-node's documented tool loop does exactly that.
"""

from __future__ import annotations

import httpx
from openai import OpenAI

from tests.tools.test_tools import TWO_CITIES, WEATHER, calls_of, create

MODEL = "gpt-5.1"


def test_forced_function_makes_one_call_with_parallel_calls_on(client: OpenAI) -> None:
    response = create(
        client,
        input=TWO_CITIES,
        tools=[WEATHER],
        tool_choice={"type": "function", "name": WEATHER["name"]},
        parallel_tool_calls=True,
        max_output_tokens=200,
    )
    assert response.status == "completed", response.output
    assert len(calls_of(response)) == 1
    assert response.parallel_tool_calls is True


def test_chat_forced_function_makes_one_call_with_parallel_calls_on(client: OpenAI) -> None:
    tool = {
        "type": "function",
        "function": {k: WEATHER[k] for k in ("name", "description", "parameters", "strict")},
    }
    completion = client.chat.completions.create(
        model=MODEL,
        messages=[{"role": "user", "content": TWO_CITIES}],
        tools=[tool],  # type: ignore[list-item]
        tool_choice={"type": "function", "function": {"name": WEATHER["name"]}},
        parallel_tool_calls=True,
        temperature=0,
        max_completion_tokens=200,
    )
    choice = completion.choices[0]
    assert choice.finish_reason == "tool_calls"
    assert choice.message.tool_calls is not None and len(choice.message.tool_calls) == 1


def test_chat_accepts_its_own_reply_back_annotations_included(client: OpenAI) -> None:
    tool = {
        "type": "function",
        "function": {k: WEATHER[k] for k in ("name", "description", "parameters", "strict")},
    }
    messages: list[dict[str, object]] = [{"role": "user", "content": "Weather in Paris?"}]
    first = client.chat.completions.create(
        model=MODEL,
        messages=messages,  # type: ignore[arg-type]
        tools=[tool],  # type: ignore[list-item]
        tool_choice={"type": "function", "function": {"name": WEATHER["name"]}},
        temperature=0,
        max_completion_tokens=60,
    )
    reply = first.choices[0].message.model_dump(mode="json", exclude_none=True)
    assert reply["annotations"] == []  # what we send, so what comes back
    assert reply["tool_calls"]
    messages += [
        reply,
        {"role": "tool", "tool_call_id": reply["tool_calls"][0]["id"], "content": "Sunny"},
    ]
    second = client.chat.completions.create(
        model=MODEL,
        messages=messages,  # type: ignore[arg-type]
        tools=[tool],  # type: ignore[list-item]
        temperature=0,
        max_completion_tokens=8,
    )
    assert second.choices[0].message.role == "assistant"


def test_chat_annotations_of_the_wrong_type_are_a_400(http: httpx.Client) -> None:
    reply = http.post(
        "/v1/chat/completions",
        json={
            "model": MODEL,
            "messages": [
                {"role": "user", "content": "Hi"},
                {"role": "assistant", "content": "Hello", "annotations": "none"},
                {"role": "user", "content": "Bye"},
            ],
        },
    )
    assert reply.status_code == 400
    error = reply.json()["error"]
    assert error["type"] == "invalid_request_error"
    assert error["param"].startswith("messages[1].annotations")
