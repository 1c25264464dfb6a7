"""Failover, circuit breaking and clean failures against a stand-in upstream that
misbehaves on purpose (tests/support/standin_upstream.py: the upstream model name picks the fault).
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import openai
import pytest
from openai import OpenAI

from tests.support.checks import check_stream_grammar
from tests.support.config import channel, server_config
from tests.support.server import ADMIN_KEY, ServerProcess, make_client
from tests.support.standin_upstream import TEXT
from tests.support.upstreams import UpstreamProcess, start_standin

ANSWER = "Hello from the stand-in."


def _config(url: str) -> str:
    return server_config(
        channel(
            "bad-a",
            url,
            {
                "flaky": "fail500:flaky",
                "hangs": "hang:hangs",
                "garbled": "garbled:g",
                "cuts": "cut:cuts",
                "late-garble": "garbled_late:lg",
                "doomed": "fail500:doomed",
                "stuck": "hang:stuck",
                "rejects": "fail400:rejects",
                "thinks": "ok:thinks",
                "tools": "tool:tools",
                "history": "ok:history",
                "slow": "slow:slow",
            },
            priority=1,
            breaker_failures=1000,
            timeouts={"first_byte": 1.0},
        ),
        channel(
            "good-b",
            url,
            {
                "flaky": "ok:flaky-b",
                "hangs": "ok:hangs-b",
                "garbled": "ok:garbled-b",
                "cuts": "ok:cuts-b",
                "late-garble": "ok:lg-b",
                "rejects": "ok:rejects-b",
            },
            priority=2,
        ),
        channel("limited", url, {"limited": "limit429:limited", "swamped": "limit429:swamped"}),
        channel("limited-backup", url, {"limited": "ok:limited-b"}, priority=2),
        channel(
            "brittle", url, {"fragile": "fail500:fragile"}, breaker_failures=2, breaker_cooldown=2.0
        ),
        channel("sturdy", url, {"fragile": "ok:fragile-b"}, priority=2),
        channel("heavy", url, {"spread": "ok:w3"}, weight=3),
        channel("light", url, {"spread": "ok:w1"}, weight=1),
    )


@pytest.fixture(scope="module")
def standin(tmp_path_factory: pytest.TempPathFactory) -> Iterator[UpstreamProcess]:
    """A stand-in of this module's own, not the session's: these tests count its hits
    from zero."""
    process = start_standin(tmp_path_factory.mktemp("failover-standin"))
    yield process
    process.stop()


@pytest.fixture(scope="module")
def config_file(tmp_path_factory: pytest.TempPathFactory, standin: UpstreamProcess) -> Path:
    config = tmp_path_factory.mktemp("config") / "thinkgate.toml"
    config.write_text(_config(standin.base_url))
    return config


@pytest.fixture(scope="module")
def front(tmp_path_factory: pytest.TempPathFactory, config_file: Path) -> Iterator[ServerProcess]:
    process = ServerProcess(tmp_path_factory.mktemp("front") / "data", config=config_file)
    yield process
    process.stop()


@pytest.fixture(scope="module")
def api(front: ServerProcess) -> OpenAI:
    return make_client(front.base_url)


def _stats(standin: UpstreamProcess) -> dict[str, Any]:
    stats: dict[str, Any] = httpx.get(f"{standin.base_url}/stats").json()
    return stats


def _hits(standin: UpstreamProcess, model: str) -> int:
    return int(_stats(standin)["hits"].get(model, 0))


def _events(front: ServerProcess, payload: dict[str, Any]) -> list[dict[str, Any]]:
    with front.stream("/v1/responses", {**payload, "stream": True}) as reply:
        assert reply.status_code == 200
        return [
            json.loads(line[len("data: ") :])
            for line in reply.iter_lines()
            if line.startswith("data: ")
        ]


def _ledger_row(front: ServerProcess, response_id: str) -> dict[str, Any]:
    reply = httpx.get(
        f"{front.base_url}/admin/v1/requests",
        headers={"Authorization": f"Bearer {ADMIN_KEY}"},
        params={"limit": 1000},
    )
    assert reply.status_code == 200, reply.text
    rows = [row for row in reply.json()["data"] if row["request_id"] == response_id]
    assert len(rows) == 1, rows
    row: dict[str, Any] = rows[0]
    return row


# --- failover before the first byte ------------------------------------------------------


def test_500_fails_over_to_the_next_priority(api: OpenAI, standin: UpstreamProcess) -> None:
    response = api.responses.create(model="flaky", input="hi", max_output_tokens=16)
    assert response.output_text == ANSWER
    assert _hits(standin, "fail500:flaky") == 1
    assert _hits(standin, "ok:flaky-b") == 1


def test_hang_before_first_byte_fails_over(api: OpenAI, standin: UpstreamProcess) -> None:
    started = time.monotonic()
    response = api.responses.create(model="hangs", input="hi", max_output_tokens=16)
    assert response.output_text == ANSWER
    assert 1.0 <= time.monotonic() - started < 15
    assert _hits(standin, "hang:hangs") == 1


def test_malformed_first_event_fails_over(api: OpenAI, standin: UpstreamProcess) -> None:
    response = api.responses.create(model="garbled", input="hi", max_output_tokens=16)
    assert response.output_text == ANSWER
    assert _hits(standin, "garbled:g") == 1


def test_429_cools_the_channel_down(api: OpenAI, standin: UpstreamProcess) -> None:
    for _ in range(2):
        response = api.responses.create(model="limited", input="hi", max_output_tokens=16)
        assert response.output_text == ANSWER
    assert _hits(standin, "limit429:limited") == 1  # Retry-After: 30 kept it out of the second
    assert _hits(standin, "ok:limited-b") == 2


def test_only_rate_limited_channels_is_a_503(api: OpenAI) -> None:
    with pytest.raises(openai.InternalServerError) as caught:
        api.responses.create(model="swamped", input="hi", max_output_tokens=16)
    assert caught.value.status_code == 503
    # cooling down after the 429 above, or rate-limited now when run alone
    assert caught.value.code in ("upstream_unavailable", "upstream_rate_limited")
    assert "swamped" in caught.value.message


def test_circuit_breaker_opens_and_probes(api: OpenAI, standin: UpstreamProcess) -> None:
    for _ in range(4):
        response = api.responses.create(model="fragile", input="hi", max_output_tokens=16)
        assert response.output_text == ANSWER
    assert _hits(standin, "fail500:fragile") == 2  # open after two consecutive failures
    time.sleep(2.2)  # the cool-down: one half-open probe goes through, fails, reopens
    for _ in range(2):
        api.responses.create(model="fragile", input="hi", max_output_tokens=16)
    assert _hits(standin, "fail500:fragile") == 3
    assert _hits(standin, "ok:fragile-b") == 6


def test_weighted_choice_within_a_priority(api: OpenAI, standin: UpstreamProcess) -> None:
    for _ in range(24):
        api.responses.create(model="spread", input="hi", max_output_tokens=16)
    heavy, light = _hits(standin, "ok:w3"), _hits(standin, "ok:w1")
    assert heavy + light == 24
    assert heavy > light > 0


# --- errors when nothing can answer -------------------------------------------------------


def test_every_channel_failing_is_a_502(api: OpenAI) -> None:
    with pytest.raises(openai.InternalServerError) as caught:
        api.responses.create(model="doomed", input="hi", max_output_tokens=16)
    assert caught.value.status_code == 502
    body = caught.value.body
    assert isinstance(body, dict)
    assert body["type"] == "server_error" and body["code"] == "server_error"
    assert "bad-a" in body["message"] and "HTTP 500" in body["message"]


def test_timeout_before_first_byte_is_a_504(api: OpenAI) -> None:
    with pytest.raises(openai.InternalServerError) as caught:
        api.responses.create(model="stuck", input="hi", max_output_tokens=16)
    assert caught.value.status_code == 504
    assert caught.value.code == "timeout"
    assert "no first byte within 1s" in caught.value.message


def test_upstream_400_is_passed_back_without_failover(
    api: OpenAI, standin: UpstreamProcess
) -> None:
    with pytest.raises(openai.BadRequestError) as caught:
        api.responses.create(model="rejects", input="hi", max_output_tokens=16)
    assert isinstance(caught.value.body, dict)
    assert caught.value.body["message"] == "Bad thing in messages"
    assert caught.value.code == "invalid_value"
    assert _hits(standin, "ok:rejects-b") == 0


# --- after the first byte: no retry, a clean failure, partial output counted --------------


def test_mid_stream_cut_fails_cleanly(
    api: OpenAI, front: ServerProcess, standin: UpstreamProcess
) -> None:
    events = _events(front, {"model": "cuts", "input": "hi", "max_output_tokens": 16})
    check_stream_grammar(events)
    text = "".join(e["delta"] for e in events if e["type"] == "response.output_text.delta")
    assert text == "Hello from the"
    error = next(e for e in events if e["type"] == "error")
    assert error["error"]["code"] == "server_error"
    assert "bad-a" in error["error"]["message"]
    failed = events[-1]["response"]
    assert events[-1]["type"] == "response.failed" and failed["status"] == "failed"
    assert _hits(standin, "ok:cuts-b") == 0  # never retried once text was out
    stored = api.responses.retrieve(failed["id"])
    assert stored.status == "failed"
    assert stored.output[0].type == "message"
    assert stored.output[0].content[0].text == "Hello from the"  # type: ignore[union-attr]
    row = _ledger_row(front, failed["id"])
    assert row["status"] == "failed"
    assert row["output_tokens"] == 3  # the three chunks that were generated are billed


def test_malformed_event_mid_stream_fails_cleanly(front: ServerProcess) -> None:
    events = _events(front, {"model": "late-garble", "input": "hi", "max_output_tokens": 16})
    check_stream_grammar(events)
    assert events[-1]["type"] == "response.failed"
    error = next(e for e in events if e["type"] == "error")
    assert "malformed" in error["error"]["message"]


def test_client_disconnect_cancels_the_upstream(
    front: ServerProcess, standin: UpstreamProcess
) -> None:
    payload = {"model": "slow", "input": "hi", "max_output_tokens": 1000, "stream": True}
    with front.stream("/v1/responses", payload) as reply:
        lines = reply.iter_lines()
        seen = 0
        for line in lines:
            seen += line.startswith("data: ") and "output_text.delta" in line
            if seen >= 3:
                break
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and not _stats(standin)["closed_early"].get("slow:slow"):
        time.sleep(0.1)
    assert _stats(standin)["closed_early"].get("slow:slow") == 1


# --- translation both ways -----------------------------------------------------------------


def test_reasoning_and_usage_come_back(api: OpenAI, front: ServerProcess) -> None:
    response = api.responses.create(model="thinks", input="hi", max_output_tokens=64)
    assert [item.type for item in response.output] == ["reasoning", "message"]
    assert response.output_text == ANSWER
    usage = response.usage
    assert usage is not None
    assert (usage.input_tokens, usage.input_tokens_details.cached_tokens) == (42, 32)
    assert (usage.output_tokens, usage.output_tokens_details.reasoning_tokens) == (9, 3)
    row = _ledger_row(front, response.id)
    assert (row["input_tokens"], row["cached_tokens"], row["output_tokens"]) == (42, 32, 9)


def test_reasoning_streams_as_events(front: ServerProcess) -> None:
    events = _events(front, {"model": "thinks", "input": "hi", "max_output_tokens": 64})
    check_stream_grammar(events)
    kinds = [e["type"] for e in events]
    assert "response.reasoning_text.delta" in kinds
    assert events[-1]["type"] == "response.completed"


def test_every_text_piece_streams_as_its_own_delta(api: OpenAI, front: ServerProcess) -> None:
    """Pieces the upstream sent back to back (one network read) stay one delta each when
    the client streams; read whole, the answer is the same text."""
    events = _events(front, {"model": "thinks", "input": "hi", "max_output_tokens": 64})
    deltas = [e["delta"] for e in events if e["type"] == "response.output_text.delta"]
    assert deltas == TEXT
    whole = api.responses.create(model="thinks", input="hi", max_output_tokens=64)
    assert whole.output_text == "".join(TEXT) == ANSWER


def test_tool_calls_come_back(api: OpenAI, front: ServerProcess) -> None:
    tool = {"type": "function", "name": "get_weather", "parameters": {"type": "object"}}
    response = api.responses.create(
        model="tools",
        input="Weather in Paris?",
        tools=[tool],  # type: ignore[list-item]
        max_output_tokens=64,
    )
    calls = [item for item in response.output if item.type == "function_call"]
    assert len(calls) == 1
    assert calls[0].name == "get_weather"
    assert json.loads(calls[0].arguments) == {"city": "Paris"}
    events = _events(
        front,
        {"model": "tools", "input": "Weather?", "tools": [tool], "max_output_tokens": 64},
    )
    check_stream_grammar(events)
    kinds = [e["type"] for e in events]
    assert "response.function_call_arguments.delta" in kinds


def test_request_translates_to_chat(api: OpenAI, standin: UpstreamProcess) -> None:
    first = api.responses.create(model="history", input="My name is Ada.", max_output_tokens=16)
    tool = {"type": "function", "name": "lookup", "parameters": {"type": "object"}}
    schema = {"type": "object", "properties": {"a": {"type": "string"}}, "required": ["a"]}
    api.responses.create(
        model="history",
        input="What is my name?",
        instructions="Be brief.",
        previous_response_id=first.id,
        tools=[tool],  # type: ignore[list-item]
        tool_choice={"type": "function", "name": "lookup"},
        parallel_tool_calls=False,
        text={"format": {"type": "json_schema", "name": "out", "schema": schema}},
        reasoning={"effort": "low"},
        prompt_cache_key="tenant-7",
        max_output_tokens=20,
    )
    body = _stats(standin)["last_body"]
    assert body["model"] == "ok:history"
    assert [(m["role"], m["content"]) for m in body["messages"]] == [
        ("system", "Be brief."),
        ("user", "My name is Ada."),
        ("assistant", ANSWER),
        ("user", "What is my name?"),
    ]
    assert body["tools"] == [
        {
            "type": "function",
            "function": {"name": "lookup", "parameters": {"type": "object"}, "strict": True},
        }
    ]
    assert body["tool_choice"] == {"type": "function", "function": {"name": "lookup"}}
    assert body["parallel_tool_calls"] is False
    assert body["response_format"]["type"] == "json_schema"
    assert body["response_format"]["json_schema"]["schema"] == schema
    assert body["reasoning_effort"] == "low"
    assert body["prompt_cache_key"] == "tenant-7"
    assert body["max_completion_tokens"] == 20
    assert body["stream"] is True and body["stream_options"] == {"include_usage": True}


# --- `thinkgate channels test` ----------------------------------------------------------------


def _channels_test(name: str, config_file: Path) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "thinkgate", "channels", "test", name]
    command += ["--config", str(config_file)]
    env = {"COLUMNS": "200", "PATH": "/usr/bin:/bin"}
    return subprocess.run(command, capture_output=True, text=True, timeout=120, env=env)


def test_channels_test_reports_a_healthy_channel(config_file: Path) -> None:
    result = _channels_test("heavy", config_file)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "GET /models" in result.stdout
    assert "spread → ok:w3" in result.stdout
    assert "'Hello from the stand-in.', 9 tokens" in result.stdout
    assert " ms" in result.stdout


def test_channels_test_fails_on_a_broken_channel(config_file: Path) -> None:
    result = _channels_test("brittle", config_file)
    assert result.returncode == 1
    assert "failed" in result.stdout and "HTTP 500" in result.stdout


def test_channels_test_unknown_name(config_file: Path) -> None:
    result = _channels_test("nope", config_file)
    assert result.returncode != 0
    assert "no channel named 'nope'" in result.stderr


def test_tool_round_trip_translates_to_chat(api: OpenAI, standin: UpstreamProcess) -> None:
    tool = {"type": "function", "name": "get_weather", "parameters": {"type": "object"}}
    asked = api.responses.create(
        model="tools",
        input="Weather in Paris?",
        tools=[tool],  # type: ignore[list-item]
        max_output_tokens=64,
    )
    call = next(item for item in asked.output if item.type == "function_call")
    api.responses.create(
        model="tools",
        previous_response_id=asked.id,
        input=[{"type": "function_call_output", "call_id": call.call_id, "output": "sunny"}],
        tools=[tool],  # type: ignore[list-item]
        max_output_tokens=64,
    )
    messages = _stats(standin)["last_body"]["messages"]
    assert messages[-2] == {
        "role": "assistant",
        "content": None,
        "tool_calls": [
            {
                "id": call.call_id,
                "type": "function",
                "function": {"name": "get_weather", "arguments": '{"city": "Paris"}'},
            }
        ],
    }
    assert messages[-1] == {"role": "tool", "tool_call_id": call.call_id, "content": "sunny"}
