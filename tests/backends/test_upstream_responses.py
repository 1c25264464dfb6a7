"""A Responses-native upstream: a second thinkgate process behind an `openai-responses`
channel. Events pass through as Deltas; the front keeps the state (`store: false` upstream).
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from typing import Any

import openai
import pytest
from openai import OpenAI

from tests.support.checks import check_stream_grammar, validate_response_resource
from tests.support.config import channel, write_config
from tests.support.server import ADMIN_KEY, ServerProcess, make_client

SMALL = {"model": "gpt-5.1", "temperature": 0, "max_output_tokens": 16}
KEY_ENV = "TEST_UPSTREAM_TG_KEY"  # ServerProcess drops THINKGATE_* variables
BUDGETS = {"minimal": 2, "low": 4, "medium": 6, "high": 8, "xhigh": 10}  # the front's caps
HARD = (
    "A shop sells pens at 3 dollars and books at 7 dollars. Sam buys 4 pens and 2 books "
    "and pays with 50 dollars. How much change does he get?"
)


@pytest.fixture(scope="module")
def upstream(server: ServerProcess) -> ServerProcess:
    """The upstream is the session's embedded default: the same config, so the same
    process (what it stores is checked by response id, never counted)."""
    return server


@pytest.fixture(scope="module")
def front(
    tmp_path_factory: pytest.TempPathFactory, upstream: ServerProcess
) -> Iterator[ServerProcess]:
    root = tmp_path_factory.mktemp("front")
    models = {"gpt-5.1": "gpt-5.1", "ghost": "no-such-model", "deep": "smollm2-135m-instruct"}
    config = write_config(
        root / "thinkgate.toml",
        channel(
            "tg-up",
            upstream.base_url,
            models,
            kind="openai-responses",
            api_key_env=KEY_ENV,
            reasoning_budgets=BUDGETS,
        ),
    )
    os.environ[KEY_ENV] = ADMIN_KEY  # read by the front at boot, never written to its config
    try:
        process = ServerProcess(root / "data", config=config)
    finally:
        del os.environ[KEY_ENV]
    yield process
    process.stop()


@pytest.fixture(scope="module")
def api(front: ServerProcess) -> OpenAI:
    return make_client(front.base_url)


def _dump(obj: Any) -> dict[str, Any]:
    return obj.model_dump(mode="json", exclude_unset=True)


def test_text_through_responses_upstream(api: OpenAI, upstream: ServerProcess) -> None:
    before = upstream.log().count("POST /v1/responses")
    response = api.responses.create(input="Say hello.", **SMALL)
    assert response.status in ("completed", "incomplete")
    assert response.output_text.strip()
    assert response.usage is not None and response.usage.input_tokens > 0
    validate_response_resource(_dump(response))
    assert upstream.log().count("POST /v1/responses") > before  # it went to the upstream


def test_usage_is_the_upstreams_count(api: OpenAI, upstream: ServerProcess) -> None:
    direct = make_client(upstream.base_url).responses.create(input="Say hello.", **SMALL)
    proxied = api.responses.create(input="Say hello.", **SMALL)
    assert direct.usage is not None and proxied.usage is not None
    assert proxied.usage.input_tokens == direct.usage.input_tokens
    assert proxied.output_text == direct.output_text  # temperature 0: the same answer


def test_streaming_through_responses_upstream(api: OpenAI) -> None:
    with api.responses.create(input="Name a color.", stream=True, **SMALL) as stream:
        events = [_dump(event) for event in stream]
    check_stream_grammar(events)
    text = "".join(e["delta"] for e in events if e["type"] == "response.output_text.delta")
    assert text and events[-1]["response"]["output"][0]["content"][0]["text"] == text


def test_state_stays_in_the_front(api: OpenAI, upstream: ServerProcess) -> None:
    first = api.responses.create(input="My name is Ada.", **SMALL)
    second = api.responses.create(input="What is my name?", previous_response_id=first.id, **SMALL)
    assert second.status in ("completed", "incomplete")
    assert api.responses.retrieve(first.id).id == first.id
    with pytest.raises(openai.NotFoundError):  # the upstream was asked with store: false
        make_client(upstream.base_url).responses.retrieve(first.id)


def test_json_schema_through_responses_upstream(api: OpenAI) -> None:
    schema = {
        "type": "object",
        "properties": {"answer": {"type": "string", "enum": ["yes", "no"]}},
        "required": ["answer"],
        "additionalProperties": False,
    }
    fmt = {"type": "json_schema", "name": "verdict", "schema": schema, "strict": True}
    response = api.responses.create(
        input="Is the sky blue?", text={"format": fmt}, model="gpt-5.1", max_output_tokens=32
    )
    assert response.status == "completed"
    assert json.loads(response.output_text)["answer"] in ("yes", "no")


def test_upstream_400_is_passed_back(api: OpenAI) -> None:
    with pytest.raises(openai.BadRequestError) as caught:
        api.responses.create(input="word " * 20000, **SMALL)  # past the 16,384 window
    assert caught.value.code == "context_length_exceeded"
    assert "context" in caught.value.message


def test_upstream_unknown_model_is_a_502(api: OpenAI) -> None:
    with pytest.raises(openai.APIStatusError) as caught:
        api.responses.create(input="hi", model="ghost", max_output_tokens=16)
    assert caught.value.status_code == 502
    body = caught.value.body
    assert isinstance(body, dict) and body["type"] == "server_error"
    assert "tg-up" in body["message"] and "no-such-model" in body["message"]


def test_reasoning_is_cut_at_the_channel_budget(api: OpenAI, upstream: ServerProcess) -> None:
    """A Responses upstream cannot be prefilled: at the front's budget its stream is cut,
    the thought closed, and the answer asked for at effort none (enforcement by truncation)."""
    effort = {"effort": "high"}
    direct = make_client(upstream.base_url).responses.create(
        model="smollm2-135m-instruct", input=HARD, reasoning=effort, max_output_tokens=200
    )
    assert direct.usage is not None
    spent = direct.usage.output_tokens_details.reasoning_tokens
    assert spent > BUDGETS["high"]  # the upstream alone thinks past the front's cap
    with api.responses.create(
        model="deep", input=HARD, reasoning=effort, max_output_tokens=64, stream=True
    ) as stream:
        events = [_dump(event) for event in stream]
    check_stream_grammar(events)
    final = events[-1]["response"]
    assert final["usage"]["output_tokens_details"]["reasoning_tokens"] == BUDGETS["high"]
    assert final["usage"]["output_tokens"] >= BUDGETS["high"]
    kinds = [item["type"] for item in final["output"]]
    assert kinds[0] == "reasoning" and "message" in kinds  # an answer after the cut thought


def test_namespaced_call_through_responses_upstream(api: OpenAI) -> None:
    """The upstream is sent the namespace as declared (and no web_search); its call comes
    back with `namespace` and the member's name (docs/clients.md)."""
    lookup = {
        "type": "function",
        "name": "lookup_order",
        "description": "Look up an order.",
        "parameters": {
            "type": "object",
            "properties": {"order_id": {"type": "string", "maxLength": 8}},
            "required": ["order_id"],
            "additionalProperties": False,
        },
    }
    response = api.responses.create(
        input="Look up order A12.",
        tools=[
            {
                "type": "namespace",
                "name": "mcp__orders__",
                "description": "Orders.",
                "tools": [lookup],
            },
            {"type": "web_search"},
        ],
        tool_choice={"type": "function", "name": "lookup_order"},
        parallel_tool_calls=False,
        model="gpt-5.1",
        temperature=0,
        max_output_tokens=48,
    )
    [call] = [item for item in response.output if item.type == "function_call"]
    assert (call.namespace, call.name) == ("mcp__orders__", "lookup_order")
    assert [tool.type for tool in response.tools] == ["namespace", "web_search"]


def test_server_side_compaction_through_responses_upstream(api: OpenAI) -> None:
    """The compaction item is sealed with the front's key, which the upstream (another
    thinkgate, its own key) cannot open: it travels as the summary note instead."""
    history = [
        {"role": "user", "content": "My name is Ada and I am planning a trip to Lisbon."},
        {"role": "assistant", "content": "Lisbon is lovely in May."},
        {"role": "user", "content": "Which day trip would you suggest?"},
    ]
    response = api.responses.create(
        input=history,  # type: ignore[arg-type]
        context_management=[{"type": "compaction", "compact_threshold": 20}],
        **SMALL,
    )
    assert [item.type for item in response.output][:2] == ["compaction", "message"]
    assert response.output_text
