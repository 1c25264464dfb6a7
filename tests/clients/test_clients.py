"""Real third-party clients, unmodified and pinned, against a real thinkgate.

scripts/install-clients.sh (run by `make test`) installs them in their own environments:
the OpenAI Agents SDK, LangChain's ChatOpenAI and Simon Willison's `llm` in `.clients/py`,
openai-node and the Vercel AI SDK in `.clients/node`. Each client is driven by one script
in tests/clients/ that configures it as its docs say and runs its basic, streaming, tool
and structured-output paths against the session's server (the embedded model, the real
store), asserting what matters, and prints a JSON verdict per path; one test per path
reads it. The script runs once per module (a fixture), so each client costs one process.

Tool calls are forced (`tool_choice` naming the tool): the tiny embedded model's own
call-or-answer judgement is not under test here. Structured outputs always parse: the
embedded engine enforces the schema by grammar. Where the clients could not be installed,
the tests skip with the installer's reason (`.clients/<py|node>.skip`).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from tests.support.server import ADMIN_KEY, ServerProcess

ROOT = Path(__file__).resolve().parents[2]
CLIENTS = ROOT / ".clients"
SCRIPTS = Path(__file__).resolve().parent
SCRIPT_TIMEOUT = 540  # seconds for all of one client's paths (a minute or so on 2 idle cores)

Results = dict[str, dict[str, Any]]


def _missing(kind: str) -> str | None:
    """Why the `kind` (py or node) clients cannot run, or None when they can."""
    reason = CLIENTS / f"{kind}.skip"
    if reason.exists():
        return reason.read_text().strip()
    if not list((CLIENTS / kind).glob(".installed-*")):
        return f"the {kind} clients are not installed: run scripts/install-clients.sh"
    return None


def _command(script: str) -> list[str]:
    if script.endswith(".py"):
        return [str(CLIENTS / "py" / "bin" / "python"), str(SCRIPTS / script)]
    # Node resolves packages from the script's own folder up: run a copy that sits beside
    # the pinned node_modules.
    target = CLIENTS / "node" / "scripts"
    target.mkdir(exist_ok=True)
    for source in SCRIPTS.glob("*.mjs"):
        shutil.copyfile(source, target / source.name)
    return [shutil.which("node") or "node", str(target / script)]


def run_client(server: ServerProcess, script: str) -> Results:
    kind = "py" if script.endswith(".py") else "node"
    if (reason := _missing(kind)) is not None:
        pytest.skip(reason)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("THINKGATE_", "OPENAI_"))}
    env |= {"THINKGATE_BASE_URL": f"{server.base_url}/v1", "THINKGATE_API_KEY": ADMIN_KEY}
    done = subprocess.run(
        _command(script),
        env=env,
        cwd=SCRIPTS,
        capture_output=True,
        text=True,
        timeout=SCRIPT_TIMEOUT,
    )
    lines = done.stdout.strip().splitlines()
    if done.returncode != 0 or not lines:
        pytest.fail(f"{script} exited {done.returncode}:\n{done.stdout}\n{done.stderr}")
    results: Results = json.loads(lines[-1])
    return results


def verdict(results: Results, case: str) -> dict[str, Any]:
    """The case's result, failing with the client's own error and traceback if it broke."""
    assert case in results, f"{case} did not run"
    result = results[case]
    assert result["ok"], f"{case}: {result['error']}\n{result.get('traceback') or result['stack']}"
    return result


def check_city(output: dict[str, Any]) -> None:
    """The structured-output schema every script uses: {city: string ≤ 12, rank: int}."""
    assert set(output) == {"city", "rank"}
    assert isinstance(output["city"], str) and len(output["city"]) <= 12
    assert isinstance(output["rank"], int)


def check_case(case: str, result: dict[str, Any]) -> None:
    """What the pytest side checks again from each path's report."""
    if "stream" in case and "structured" not in case:
        assert max(result.get("deltas", 0), result.get("chunks", 0)) > 1
    if any(word in case for word in ("structured", "schema", "object")):
        check_city(result["output"])
    if "tool" in case:
        args = result.get("args") or result.get("arguments") or result.get("input")
        assert isinstance(args, dict), result
        assert isinstance(args["a"], int) and isinstance(args["b"], int)


def _cases(paths: list[str], apis: list[str]) -> list[str]:
    return [f"{path}_{api}" for path in paths for api in apis]


AGENTS_CASES = _cases(["basic", "stream", "tool", "handoff", "structured"], ["responses", "chat"])
LANGCHAIN_CASES = _cases(
    ["basic", "stream", "tool", "structured", "stream_structured"], ["responses", "chat"]
)
LLM_CASES = _cases(["cli", "cli_schema", "conversation", "schema"], ["chat", "responses"])
OPENAI_NODE_CASES = [
    f"{api}_{path}"
    for api in ("responses", "chat")
    for path in ("basic", "stream", "tool", "structured")
]
AI_SDK_CASES = _cases(["basic", "stream", "tool", "object"], ["responses", "chat"])


@pytest.fixture(scope="module")
def agents_sdk(server: ServerProcess) -> Results:
    return run_client(server, "run_agents_sdk.py")


@pytest.fixture(scope="module")
def langchain(server: ServerProcess) -> Results:
    return run_client(server, "run_langchain.py")


@pytest.fixture(scope="module")
def llm_cli(server: ServerProcess) -> Results:
    return run_client(server, "run_llm.py")


@pytest.fixture(scope="module")
def openai_node(server: ServerProcess) -> Results:
    return run_client(server, "run_openai_node.mjs")


@pytest.fixture(scope="module")
def ai_sdk(server: ServerProcess) -> Results:
    return run_client(server, "run_ai_sdk.mjs")


@pytest.mark.timeout(SCRIPT_TIMEOUT + 60)
@pytest.mark.parametrize("case", AGENTS_CASES)
def test_agents_sdk(agents_sdk: Results, case: str) -> None:
    result = verdict(agents_sdk, case)
    check_case(case, result)
    if case.startswith("handoff_"):
        assert result["last_agent"] == "Spanish agent"


@pytest.mark.timeout(SCRIPT_TIMEOUT + 60)
@pytest.mark.parametrize("case", LANGCHAIN_CASES)
def test_langchain(langchain: Results, case: str) -> None:
    check_case(case, verdict(langchain, case))


@pytest.mark.timeout(SCRIPT_TIMEOUT + 60)
@pytest.mark.parametrize("case", LLM_CASES)
def test_llm(llm_cli: Results, case: str) -> None:
    check_case(case, verdict(llm_cli, case))


@pytest.mark.timeout(SCRIPT_TIMEOUT + 60)
@pytest.mark.parametrize("case", OPENAI_NODE_CASES)
def test_openai_node(openai_node: Results, case: str) -> None:
    check_case(case, verdict(openai_node, case))


@pytest.mark.timeout(SCRIPT_TIMEOUT + 60)
@pytest.mark.parametrize("case", AI_SDK_CASES)
def test_ai_sdk(ai_sdk: Results, case: str) -> None:
    check_case(case, verdict(ai_sdk, case))
