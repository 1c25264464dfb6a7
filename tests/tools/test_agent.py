"""The agent loop: parallel execution against a stand-in upstream, and `thinkgate agent`
end to end against the real embedded server."""

from __future__ import annotations

import asyncio
import json
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import uvicorn
from openai import AsyncOpenAI
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from tests.support.server import ADMIN_KEY, free_port
from thinkgate.tools import Workspace, apply_operation, make_policy
from thinkgate.tools.agent import Agent, FunctionTool


def _response(
    response_id: str, output: list[dict[str, Any]], body: dict[str, Any]
) -> dict[str, Any]:
    return {
        "id": response_id,
        "object": "response",
        "created_at": time.time(),
        "status": "completed",
        "model": body.get("model", "stand-in"),
        "output": output,
        "parallel_tool_calls": True,
        "tool_choice": body.get("tool_choice", "auto"),
        "tools": body.get("tools", []),
        "error": None,
        "incomplete_details": None,
        "instructions": None,
        "metadata": {},
        "temperature": 1.0,
        "top_p": 1.0,
        "usage": None,
    }


def _shell_call(call_id: str, command: str) -> dict[str, Any]:
    return {
        "id": f"sh_{call_id}",
        "type": "shell_call",
        "status": "completed",
        "call_id": call_id,
        "action": {"commands": [command], "timeout_ms": 10_000, "max_output_length": 4096},
    }


FIRST_OUTPUT = [
    _shell_call("call_a", "date +%s.%N > a.start; sleep 1; date +%s.%N > a.end; echo A"),
    _shell_call("call_b", "date +%s.%N > b.start; sleep 1; date +%s.%N > b.end; echo B"),
    _shell_call("call_bad", "touch pwned"),
    {
        "id": "apc_1",
        "type": "apply_patch_call",
        "status": "completed",
        "call_id": "call_p",
        "operation": {"type": "create_file", "path": "notes.md", "diff": "+hello\n+"},
    },
    {
        "id": "fc_1",
        "type": "function_call",
        "status": "completed",
        "call_id": "call_f",
        "name": "add",
        "arguments": '{"a": 2, "b": 3}',
    },
]
FINAL_OUTPUT = [
    {
        "id": "msg_1",
        "type": "message",
        "role": "assistant",
        "status": "completed",
        "content": [{"type": "output_text", "text": "all done", "annotations": []}],
    }
]


class StandIn:
    """An OpenAI-compatible upstream that answers with canned Responses JSON."""

    def __init__(self) -> None:
        self.requests: list[dict[str, Any]] = []
        app = Starlette(routes=[Route("/v1/responses", self.create, methods=["POST"])])
        self.port = free_port()
        config = uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning")
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    async def create(self, request: Request) -> JSONResponse:
        body = await request.json()
        if body["model"] == "missing":
            error = {
                "message": "The model `missing` does not exist",
                "type": "invalid_request_error",
            }
            return JSONResponse({"error": {**error, "param": None, "code": None}}, status_code=404)
        self.requests.append(body)
        output = FIRST_OUTPUT if len(self.requests) == 1 else FINAL_OUTPUT
        return JSONResponse(_response(f"resp_{len(self.requests)}", output, body))

    def __enter__(self) -> StandIn:
        self.thread.start()
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            with socket.socket() as sock:
                if sock.connect_ex(("127.0.0.1", self.port)) == 0:
                    return self
            time.sleep(0.05)
        raise RuntimeError("stand-in did not start")

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(5)


@pytest.fixture
def stand_in() -> Iterator[StandIn]:
    with StandIn() as upstream:
        yield upstream


def _run_agent(stand_in: StandIn, workspace: Path, *, stateless: bool) -> Any:
    async def main() -> Any:
        client = AsyncOpenAI(
            base_url=f"http://127.0.0.1:{stand_in.port}/v1",
            api_key="sk-stand-in",
            max_retries=0,
            _strict_response_validation=True,
        )
        async with client:
            space = Workspace(workspace)
            agent = Agent(
                client,
                model="stand-in",
                workspace=space,
                policy=make_policy("allowlist", space, allow=["date *", "sleep *", "echo *"]),
                functions=[
                    FunctionTool(
                        "add",
                        {"type": "object", "properties": {"a": {}, "b": {}}},
                        lambda args: str(args["a"] + args["b"]),
                    )
                ],
                tool_choices=["required"],
                stateless=stateless,
                max_turns=4,
            )
            return await agent.run("do things")

    return asyncio.run(main())


def _floats(path: Path) -> float:
    return float(path.read_text())


@pytest.mark.parametrize("stateless", [False, True], ids=["chained", "stateless"])
def test_loop_runs_calls_in_parallel_and_sends_outputs_back(
    stand_in: StandIn, tmp_path: Path, stateless: bool
) -> None:
    result = _run_agent(stand_in, tmp_path, stateless=stateless)
    assert (result.final_text, result.stopped, result.turns) == ("all done", "answer", 2)

    # the two one-second commands overlapped in time: they really ran in parallel
    a0, a1 = _floats(tmp_path / "a.start"), _floats(tmp_path / "a.end")
    b0, b1 = _floats(tmp_path / "b.start"), _floats(tmp_path / "b.end")
    assert a0 < b1 and b0 < a1, (a0, a1, b0, b1)
    # the denied command was not executed; the patch was applied
    assert not (tmp_path / "pwned").exists()
    assert (tmp_path / "notes.md").read_text() == "hello\n"

    first, second = stand_in.requests
    assert first["tools"][:2] == [{"type": "apply_patch"}, {"type": "shell"}]
    assert first["tools"][2]["name"] == "add"
    assert first["tool_choice"] == "required"
    assert second["tool_choice"] == "auto"
    if stateless:
        assert "previous_response_id" not in second
        assert second["store"] is False
        replayed = [
            item.get("call_id") for item in second["input"] if item.get("type", "").endswith("call")
        ]
        assert replayed == ["call_a", "call_b", "call_bad", "call_p", "call_f"]
        sent = second["input"][1 + len(FIRST_OUTPUT) :]
    else:
        assert second["previous_response_id"] == "resp_1"
        sent = second["input"]
    outputs = {item["call_id"]: item for item in sent}
    assert list(outputs) == ["call_a", "call_b", "call_bad", "call_p", "call_f"]
    assert outputs["call_a"] == {
        "type": "shell_call_output",
        "call_id": "call_a",
        "max_output_length": 4096,
        "output": [{"stdout": "A\n", "stderr": "", "outcome": {"type": "exit", "exit_code": 0}}],
    }
    denied = outputs["call_bad"]["output"][0]
    assert "Denied by the 'allowlist' execution policy" in denied["stderr"]
    assert "NOT executed" in denied["stderr"]
    assert denied["outcome"] == {"type": "exit", "exit_code": 126}
    assert outputs["call_p"] == {
        "type": "apply_patch_call_output",
        "call_id": "call_p",
        "status": "completed",
        "output": "Created notes.md",
    }
    assert outputs["call_f"] == {"type": "function_call_output", "call_id": "call_f", "output": "5"}


def test_failed_patch_is_reported_not_raised(stand_in: StandIn, tmp_path: Path) -> None:
    (tmp_path / "notes.md").write_text("already here\n")
    result = _run_agent(stand_in, tmp_path, stateless=False)
    patch_output = next(r.output for r in result.calls if r.call["type"] == "apply_patch_call")
    assert patch_output["status"] == "failed"
    assert "already exists" in patch_output["output"]
    assert (tmp_path / "notes.md").read_text() == "already here\n"


def test_cli_transcript_against_stand_in(stand_in: StandIn, tmp_path: Path) -> None:
    from click.testing import CliRunner

    from thinkgate.cli import main

    transcript = tmp_path / "t.json"
    workspace = tmp_path / "ws"
    workspace.mkdir()
    outcome = CliRunner().invoke(
        main,
        [
            "agent",
            "do things",
            "--workspace",
            str(workspace),
            "--base-url",
            f"http://127.0.0.1:{stand_in.port}/v1",
            "--api-key",
            "sk-x",
            "--model",
            "stand-in",
            "--policy",
            "deny",
            "--transcript",
            str(transcript),
        ],
    )
    assert outcome.exit_code == 0, outcome.output
    assert outcome.stdout.strip() == "all done"
    data = json.loads(transcript.read_text())
    assert [c["allowed"] for c in data["calls"]] == [False] * 5
    assert "no function named 'add'" in data["calls"][4]["output"]["output"]
    assert not any(workspace.iterdir()), "deny ran nothing"


def test_cli_reports_api_errors_without_a_traceback(stand_in: StandIn, tmp_path: Path) -> None:
    from click.testing import CliRunner

    from thinkgate.cli import main

    base_url = f"http://127.0.0.1:{stand_in.port}/v1"
    args = [
        "agent",
        "x",
        "--workspace",
        str(tmp_path),
        "--base-url",
        base_url,
        "--model",
        "missing",
    ]
    outcome = CliRunner().invoke(main, [*args, "--api-key", "k", "--policy", "auto"])
    assert outcome.exit_code == 1
    assert "does not exist" in outcome.output
    assert "Traceback" not in outcome.output


def test_cli_approve_policy_shows_and_asks(stand_in: StandIn, tmp_path: Path) -> None:
    from click.testing import CliRunner

    from thinkgate.cli import main

    base_url = f"http://127.0.0.1:{stand_in.port}/v1"
    args = ["agent", "x", "--workspace", str(tmp_path), "--base-url", base_url, "--api-key", "k"]
    outcome = CliRunner().invoke(main, [*args, "--policy", "approve"], input="n\n" * 4)
    assert outcome.exit_code == 0, outcome.output
    assert outcome.output.count("allow?") == 4, outcome.output  # 3 commands + 1 patch
    assert "touch pwned" in outcome.output
    assert "+hello" in outcome.output
    assert not (tmp_path / "pwned").exists()
    assert not (tmp_path / "notes.md").exists()


# --- end to end: `thinkgate agent` against the real embedded server ---------------------

E2E_TASK = (
    "Create the file hello.txt containing the line Hello. "
    "Then list the files in the current directory."
)
# One program with plain arguments: no redirection, globbing or other metacharacters (and the
# policy itself refuses substitution and checks each part of a compound line). SmolLM2-135M
# picks its own command, so the allowlist admits plain commands rather than guessing one.
E2E_ALLOW = [r"re:[A-Za-z][\w.-]*( [\w./=-]+)*"]


def _logging_bash(bin_dir: Path, log: Path) -> None:
    """A `bash` first on PATH that records every command the runner starts, then runs it."""
    bin_dir.mkdir()
    script = bin_dir / "bash"
    script.write_text(f'#!/bin/sh\nprintf "%s\\n" "$2" >> {log}\nexec /bin/bash "$@"\n')
    script.chmod(0o755)


def _run_cli(server: Any, tmp_path: Path, allow: list[str]) -> tuple[dict[str, Any], Path, Path]:
    workspace, log = tmp_path / "ws", tmp_path / "bash.log"
    workspace.mkdir()
    (workspace / "notes.txt").write_text("hello world\n")
    _logging_bash(tmp_path / "bin", log)
    transcript = tmp_path / "transcript.json"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("THINKGATE_", "OPENAI_"))}
    env["PATH"] = f"{tmp_path / 'bin'}:{env.get('PATH', '/usr/bin:/bin')}"
    env["E2E_AGENT_KEY"] = ADMIN_KEY
    command = [sys.executable, "-m", "thinkgate", "agent", E2E_TASK]
    command += ["--workspace", str(workspace), "--base-url", f"{server.base_url}/v1"]
    command += ["--api-key-env", "E2E_AGENT_KEY", "--model", "smollm2-135m-instruct"]
    command += ["--policy", "allowlist", *(f"--allow={pattern}" for pattern in allow)]
    command += ["--tool-choice", "apply_patch", "--tool-choice", "shell", "--max-turns", "3"]
    command += ["--temperature", "0", "--max-output-tokens", "120", "--timeout", "600"]
    command += ["--transcript", str(transcript)]
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=1400)
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(transcript.read_text()), workspace, log


def _stored_inputs(http: Any, response_id: str) -> list[dict[str, Any]]:
    reply = http.get(f"/v1/responses/{response_id}/input_items", params={"order": "asc"})
    assert reply.status_code == 200, reply.text
    return list(reply.json()["data"])


def _check_patch_turn(data: dict[str, Any], workspace: Path) -> None:
    first = data["calls"][0]
    assert first["call"]["type"] == "apply_patch_call", "tool_choice apply_patch forces it"
    operation = first["call"]["operation"]
    assert first["output"]["status"] == "completed", first["output"]
    assert operation["type"] in ("create_file", "update_file")
    # replaying every applied patch call on a fresh copy gives exactly the workspace's files
    replay = workspace.parent / "replay"
    replay.mkdir()
    (replay / "notes.txt").write_text("hello world\n")
    for record in data["calls"]:
        if (
            record["call"]["type"] == "apply_patch_call"
            and record["output"]["status"] == "completed"
        ):
            apply_operation(Workspace(replay), record["call"]["operation"])
    assert {p.name: p.read_text() for p in workspace.iterdir()} == {
        p.name: p.read_text() for p in replay.iterdir()
    }
    assert (workspace / operation["path"]).read_text() != "hello world\n"


def _shell_calls(data: dict[str, Any]) -> list[dict[str, Any]]:
    shell = [c for c in data["calls"] if c["call"]["type"] == "shell_call"]
    assert shell, "tool_choice shell forces a shell_call on turn 2"
    assert data["calls"].index(shell[0]) >= 1
    return shell


@pytest.mark.timeout(1500)
def test_agent_e2e_patch_then_allowed_shell(server: Any, http: Any, tmp_path: Path) -> None:
    data, workspace, log = _run_cli(server, tmp_path, E2E_ALLOW)
    _check_patch_turn(data, workspace)
    shell = _shell_calls(data)[0]
    commands = shell["call"]["action"]["commands"]
    assert shell["allowed"], f"the model ran {commands}, outside the allowlist {E2E_ALLOW}"
    ran = [c for r in _shell_calls(data) if r["allowed"] for c in r["call"]["action"]["commands"]]
    assert sorted(log.read_text().splitlines()) == sorted(ran), "every allowed command ran once"
    outcomes = [o["outcome"]["type"] for o in shell["output"]["output"]]
    assert outcomes == ["exit"] * len(commands)
    # turn 3 carried the real output back to the model
    assert len(data["response_ids"]) == 3
    # (input_items lists the whole chain: the call itself, from turn 2's output, then this)
    sent = [i for i in _stored_inputs(http, data["response_ids"][2]) if i.get("call_id")]
    told = [i for i in sent if i["call_id"] == shell["call"]["call_id"]][-1]
    assert told["type"] == "shell_call_output"
    for stored, ran in zip(told["output"], shell["output"]["output"], strict=True):
        assert (stored["stdout"], stored["stderr"]) == (ran["stdout"], ran["stderr"])
        assert stored["outcome"] == ran["outcome"]


@pytest.mark.timeout(1500)
def test_agent_e2e_denied_command_not_run_and_model_told(
    server: Any, http: Any, tmp_path: Path
) -> None:
    data, workspace, log = _run_cli(server, tmp_path, ["nothing-matches-this"])
    _check_patch_turn(data, workspace)
    shell = _shell_calls(data)
    assert not any(call["allowed"] for call in shell)
    assert not log.exists(), "no shell process was started at all"
    assert len(data["response_ids"]) == 3
    stored = _stored_inputs(http, data["response_ids"][2])
    for call in shell[:1]:
        told = [i for i in stored if i.get("call_id") == call["call"]["call_id"]][-1]
        assert told["type"] == "shell_call_output"
        message = told["output"][0]["stderr"]
        assert "Denied by the 'allowlist' execution policy" in message
        assert "NOT executed" in message
