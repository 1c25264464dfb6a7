"""Codex CLI on the embedded default, as `make serve` runs it (no config file).

Codex's first request is ~8,700 SmolLM2 tokens (its instructions and tool schemas), past
the 8,192 positions SmolLM2 was trained on: the stretched window reads it and the turn
completes. The next request of the session starts with the same prefix, which the prompt
cache hands back (`cached_tokens` in the ledger and in Codex's own usage).

The Codex run takes about two minutes on a 2-core machine (103 to 205 s over six runs
with other work on it), most of it reading the first prompt. Codex fails a turn whose
answer runs into the 1,024-token default cap (`incomplete`); its first request calls
Codex's `request_user_input`, whose `options` array the tiny model used to repeat to the
cap: one call a response (the model declares no parallel calls), the loop guard and the
soft length (backends.output_policy) end the call and the message after it first
(docs/clients.md, "Known limits", records the runs).
The item Codex sends after its `create_goal` tool (a `function_call_output` without
`call_id`) is checked here on every run, without Codex.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from openai import BadRequestError, OpenAI

from tests.support.codex_cli import require_codex, run_codex
from tests.support.server import ADMIN_KEY, ServerProcess

TRAINED_CONTEXT = 8192
# Codex settings a user of a slow local model sets (docs/long-context.md): the idle timeout
# outlasts the first prompt's reading on a loaded CPU, no retries of a slow request.
SLOW = {"sandbox": "read-only", "idle_ms": 1_200_000, "timeout": 1200}
# What Codex 0.171 sends after the model called its `create_goal` tool (recorded from
# `codex exec`): the call, its output, then an output of its own that answers no call.
GOAL_TOOL = {
    "type": "function",
    "name": "create_goal",
    "description": "Create a goal only when explicitly requested.",
    "strict": False,
    "parameters": {
        "type": "object",
        "properties": {"objective": {"type": "string"}},
        "required": ["objective"],
        "additionalProperties": False,
    },
}
GOAL_TURN: list[dict[str, Any]] = [
    {"type": "message", "role": "user", "content": "Reply with one short greeting."},
    {
        "type": "function_call",
        "id": "fc_1",
        "call_id": "call_goal1",
        "name": "create_goal",
        "arguments": '{"objective": "Say hello"}',
        "status": "completed",
    },
    {
        "type": "function_call_output",
        "id": "fco_1",
        "call_id": "call_goal1",
        "output": '{"goal":{"objective":"Say hello","status":"active"}}',
    },
    {
        "type": "function_call_output",
        "id": "fco_2",
        "name": "goal_objective",
        "namespace": "agent",
        "output": "Say hello",
    },
]


def test_codex_goal_output_without_call_id_is_accepted(client: OpenAI) -> None:
    """OpenAI's `function_call_output.call_id` is optional; thinkgate accepts Codex's item,
    keeps it as sent, and (right after tool output) the embedded model answers."""
    response = client.responses.create(
        model="gpt-5.1",
        input=GOAL_TURN,  # type: ignore[arg-type]
        tools=[GOAL_TOOL],  # type: ignore[list-item]
        tool_choice="auto",
        max_output_tokens=16,
        temperature=0,
    )
    assert [item.type for item in response.output] == ["message"]
    listed = client.responses.input_items.list(response.id).data
    own = [item for item in listed if getattr(item, "id", None) == "fco_2"]
    assert len(own) == 1 and own[0].type == "function_call_output"
    dumped = own[0].model_dump(exclude_none=True)
    assert dumped["name"] == "goal_objective" and dumped["namespace"] == "agent"
    assert "call_id" not in dumped and dumped["output"] == "Say hello"


def test_function_call_output_naming_nothing_is_refused(client: OpenAI) -> None:
    """Without `call_id` an output must name its tool: else the old 400, naming call_id."""
    body: Any = [GOAL_TURN[0], {"type": "function_call_output", "output": "orphan"}]
    with pytest.raises(BadRequestError) as refused:
        client.responses.create(model="gpt-5.1", input=body, max_output_tokens=16)
    error = refused.value.body
    assert isinstance(error, dict)
    assert error["param"] == "input[1].call_id"
    assert error["code"] == "missing_required_parameter"


def test_the_embedded_model_asks_clients_for_one_call_at_a_time(client: OpenAI) -> None:
    """A client that reads `/v1/models` (Codex's `ModelInfo`) asks for parallel calls when a
    model says it supports them; the tiny model then repeats one call (eight
    `request_user_input` calls in one recorded run, Codex 0.171 without catalog metadata).
    Its entry says no; a request that asks is still served."""
    entry = client.models.retrieve("gpt-5.1").model_extra or {}
    assert entry["supports_parallel_tool_calls"] is False


@pytest.fixture(scope="module")
def default_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    process = ServerProcess(tmp_path_factory.mktemp("codex-embedded") / "data")
    yield process
    process.stop()


def ledger(server: ServerProcess) -> list[dict[str, Any]]:
    """The server's request ledger, oldest first."""
    reply = httpx.get(
        f"{server.base_url}/admin/v1/requests",
        headers={"Authorization": f"Bearer {ADMIN_KEY}"},
        timeout=30,
    )
    assert reply.status_code == 200, reply.text
    rows: list[dict[str, Any]] = reply.json()["data"]
    return rows[::-1]  # the server lists newest first


@pytest.mark.timeout(2600)  # minutes on a loaded 2-core machine: the prompt is read on the CPU
def test_codex_completes_turns_on_the_embedded_default(
    default_server: ServerProcess, tmp_path: Path
) -> None:
    require_codex()
    workdir, home = tmp_path / "work", tmp_path / "codex-home"
    workdir.mkdir()
    prompt = "Reply with one short greeting. Do not run any command."
    first = run_codex(default_server.base_url, "gpt-5.1", prompt, workdir, home, **SLOW)
    assert first.returncode == 0, first.describe()
    assert [message for message in first.messages() if message.strip()], first.describe()
    [usage] = first.usage()
    assert usage["input_tokens"] > TRAINED_CONTEXT  # past the trained context, served

    again = "Once more, please."
    second = run_codex(
        default_server.base_url, "gpt-5.1", again, workdir, home, resume=True, **SLOW
    )
    assert second.returncode == 0, second.describe()
    [usage] = second.usage()
    assert usage["cached_input_tokens"] > TRAINED_CONTEXT  # the first request's prefix

    rows = [row for row in ledger(default_server) if row["endpoint"] == "responses"]
    assert len(rows) >= 2, rows
    assert rows[0]["input_tokens"] > TRAINED_CONTEXT and rows[0]["cached_tokens"] == 0
    assert rows[1]["cached_tokens"] > TRAINED_CONTEXT, rows  # the second request reused it
    assert all(row["status"] == "completed" for row in rows), rows
