"""Codex CLI through thinkgate to upstreams: a full edit + command round trip per channel kind.

The upstream is a scripted coding model (tests/support/codex_standin.py): `apply_patch`, then a
shell call that runs the check, then a final message. Codex edits a file in a temporary
git repository and runs the command; thinkgate sits between, as a chat-only channel
(translated) and as a Responses-native one (passed through, with Codex's session headers).
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support.codex_cli import require_codex, run_codex
from tests.support.codex_standin import EXPECTED
from tests.support.config import channel, write_config
from tests.support.server import ManagedProcess, ServerProcess
from tests.support.upstreams import serve_module

CHANNEL_KEY = "sk-standin-channel-key-0123"
KEY_ENV = "TEST_CODEX_STANDIN_KEY"  # ServerProcess drops THINKGATE_* variables


@pytest.fixture(scope="module")
def standin(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ManagedProcess]:
    require_codex()
    yield from serve_module(tmp_path_factory, "tests.support.codex_standin")


@pytest.fixture(scope="module")
def front(
    tmp_path_factory: pytest.TempPathFactory, standin: ManagedProcess
) -> Iterator[ServerProcess]:
    root = tmp_path_factory.mktemp("codex-front")
    config = write_config(
        root / "thinkgate.toml",
        channel("standin-chat", standin.base_url, {"codex-chat": "codex-standin"}),
        channel(
            "standin-responses",
            standin.base_url,
            {"codex-responses": "codex-standin"},
            kind="openai-responses",
            api_key_env=KEY_ENV,
        ),
    )
    os.environ[KEY_ENV] = CHANNEL_KEY  # read by the front at boot
    try:
        process = ServerProcess(root / "data", config=config)
    finally:
        del os.environ[KEY_ENV]
    yield process
    process.stop()


def _repository(root: Path) -> Path:
    repo = root / "repo"
    repo.mkdir()
    (repo / "greeting.py").write_text('print("hello")\n')
    for command in (["git", "init", "-q"], ["git", "add", "."]):
        subprocess.run(command, cwd=repo, check=True)
    return repo


def _requests(standin: ManagedProcess, since: int) -> list[dict[str, Any]]:
    requests: list[dict[str, Any]] = httpx.get(f"{standin.base_url}/stats").json()["requests"]
    return requests[since:]


def _round_trip(
    front: ServerProcess, standin: ManagedProcess, model: str, tmp_path: Path
) -> list[dict[str, Any]]:
    before = len(_requests(standin, 0))
    repo = _repository(tmp_path)
    run = run_codex(
        front.base_url,
        model,
        "Make greeting.py print 'hello, thinkgate', then run it to check.",
        repo,
        tmp_path / "codex-home",
    )
    assert run.returncode == 0, run.describe()
    assert (repo / "greeting.py").read_text() == f'print("{EXPECTED}")\n'  # Codex applied it
    commands = [item for item in run.items() if item.get("type") == "command_execution"]
    assert any("python3 greeting.py" in str(item.get("command")) for item in commands)
    assert any("CHECK PASSED" in text for text in run.messages()), run.describe()
    requests = _requests(standin, before)
    assert len(requests) == 3  # edit, check, final answer: one upstream request each
    return requests


def test_codex_round_trip_through_a_chat_channel(
    front: ServerProcess, standin: ManagedProcess, tmp_path: Path
) -> None:
    requests = _round_trip(front, standin, "codex-chat", tmp_path)
    assert {request["path"] for request in requests} == {"/v1/chat/completions"}
    last = requests[-1]["body"]["messages"]
    assert [m["role"] for m in last].count("tool") == 2  # both results went back up
    assert all("session-id" not in request["headers"] for request in requests)  # chat: none


def test_codex_round_trip_through_a_responses_channel(
    front: ServerProcess, standin: ManagedProcess, tmp_path: Path
) -> None:
    requests = _round_trip(front, standin, "codex-responses", tmp_path)
    assert {request["path"] for request in requests} == {"/v1/responses"}
    bodies = [request["body"] for request in requests]
    assert all(body["store"] is False for body in bodies)
    assert all("reasoning.encrypted_content" in body.get("include", []) for body in bodies)
    # Each turn's sealed reasoning came back to the upstream as it sent it.
    replayed = [
        item.get("encrypted_content")
        for item in bodies[-1]["input"]
        if item.get("type") == "reasoning"
    ]
    assert replayed == ["standin-sealed-edit", "standin-sealed-check"]
    # Codex's session headers reached the upstream; the client's own key did not.
    headers = [request["headers"] for request in requests]
    session = {h.get("session-id") for h in headers}
    assert len(session) == 1 and None not in session
    assert all(h.get("x-client-request-id") for h in headers)
    assert all(h["authorization"] == f"Bearer {CHANNEL_KEY}" for h in headers)
    assert all(not name.startswith("x-codex-turn-metadata") for h in headers for name in h)
