"""Codex CLI (from npm, pinned by scripts/install-codex.sh) run against a real thinkgate.

Codex runs non-interactively (`codex exec --json`) with a temporary CODEX_HOME, so nothing
of the host's configuration or credentials is read, configured with a custom provider
exactly as the README's "Use it with Codex" section says (`wire_api = "responses"`).
"""

from __future__ import annotations

import json
import os
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.support.server import ADMIN_KEY

REPO = Path(__file__).resolve().parents[2]
CODEX = REPO / ".clients" / "codex" / "node_modules" / ".bin" / "codex"
KEY_ENV = "THINKGATE_API_KEY"  # the README's env_key


SKIP_NOTE = REPO / ".clients" / "codex.skip"  # why scripts/install-codex.sh could not


def require_codex() -> Path:
    if not CODEX.exists():
        why = SKIP_NOTE.read_text().strip() if SKIP_NOTE.exists() else "not installed"
        pytest.skip(f"Codex CLI: {why} (scripts/install-codex.sh, which make test runs)")
    return CODEX


@dataclass
class CodexRun:
    returncode: int
    events: list[dict[str, Any]]
    stderr: str

    def messages(self) -> list[str]:
        return [
            str(item.get("text", ""))
            for item in self.items()
            if item.get("type") in ("agent_message", "assistant_message")
        ]

    def items(self) -> list[dict[str, Any]]:
        return [e["item"] for e in self.events if e.get("type") == "item.completed"]

    def usage(self) -> list[dict[str, Any]]:
        return [e.get("usage") or {} for e in self.events if e.get("type") == "turn.completed"]

    def describe(self) -> str:
        return (
            f"codex exited {self.returncode}\nevents: {self.events}\nstderr: {self.stderr[-4000:]}"
        )


def run_codex(
    base_url: str,
    model: str,
    prompt: str,
    workdir: Path,
    home: Path,
    *,
    resume: bool = False,
    sandbox: str | None = None,
    idle_ms: int | None = None,
    timeout: float = 300,
) -> CodexRun:
    """One `codex exec` turn (`resume`: the next turn of the last session in `home`;
    `idle_ms`: Codex's `stream_idle_timeout_ms`, for a slow first prompt)."""
    home.mkdir(parents=True, exist_ok=True)
    provider: dict[str, str | int] = {
        "name": "thinkgate",
        "base_url": f"{base_url}/v1",
        "env_key": KEY_ENV,
        "wire_api": "responses",
        "request_max_retries": 0,
        "stream_max_retries": 0,
    }
    if idle_ms is not None:
        provider["stream_idle_timeout_ms"] = idle_ms
    overrides = ["-c", "model_provider=thinkgate"]
    for key, value in provider.items():
        overrides += ["-c", f"model_providers.thinkgate.{key}={json.dumps(value)}"]
    command = [str(require_codex()), "exec"]
    if resume:
        command += ["resume", "--last"]
    command += ["--skip-git-repo-check", "--json", "-m", model, *overrides]
    if sandbox is not None:  # a model that is not scripted: its commands stay sandboxed
        # (as a config value: `codex exec resume` has no `--sandbox` flag)
        command += ["-c", f"sandbox_mode={json.dumps(sandbox)}", prompt]
    else:  # the stand-in's scripted commands, in the test's temporary repository (the
        # sandbox's bubblewrap needs user namespaces, which CI containers may lack)
        command += ["--dangerously-bypass-approvals-and-sandbox", prompt]
    env = {key: value for key, value in os.environ.items() if not key.startswith("CODEX_")}
    env |= {"CODEX_HOME": str(home), KEY_ENV: ADMIN_KEY, "NO_COLOR": "1"}
    env.pop("OPENAI_API_KEY", None)
    done = subprocess.run(
        command,
        cwd=workdir,
        env=env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    events = []
    for line in done.stdout.splitlines():
        if line.startswith("{"):
            events.append(json.loads(line))
    return CodexRun(done.returncode, events, done.stderr)
