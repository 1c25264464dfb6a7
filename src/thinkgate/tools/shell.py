"""Run a `shell_call`'s commands in the workspace and shape the `shell_call_output`.

Each command runs in `bash -c` with the workspace as its working directory, in a new process
group (so a timeout kills the command and everything it started), with an environment
scrubbed of secrets. Output is captured up to a bound, then the combined stdout+stderr of
the whole call is cut to `max_output_length` characters, as the API defines it.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import signal
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

DEFAULT_TIMEOUT_MS = 30_000
DEFAULT_MAX_OUTPUT = 10_000
_CAPTURE_CAP = 1 << 20
_SECRET_WORDS = ("KEY", "TOKEN", "SECRET", "PASSWORD")
_SECRET_PREFIXES = ("OPENAI_", "THINKGATE_")


def scrub_env(env: Mapping[str, str]) -> dict[str, str]:
    """The environment minus anything that looks like a credential."""
    return {
        name: value
        for name, value in env.items()
        if not any(word in name.upper() for word in _SECRET_WORDS)
        and not name.upper().startswith(_SECRET_PREFIXES)
    }


@dataclass(frozen=True, slots=True)
class CommandResult:
    stdout: str
    stderr: str
    exit_code: int | None

    def to_item(self) -> dict[str, Any]:
        outcome: dict[str, Any] = (
            {"type": "timeout"}
            if self.exit_code is None
            else {"type": "exit", "exit_code": self.exit_code}
        )
        return {"stdout": self.stdout, "stderr": self.stderr, "outcome": outcome}


class ShellRunner:
    """Runs commands jailed (by working directory) to one workspace."""

    def __init__(
        self,
        workspace: str | os.PathLike[str],
        *,
        default_timeout_ms: int = DEFAULT_TIMEOUT_MS,
        default_max_output: int = DEFAULT_MAX_OUTPUT,
        env: Mapping[str, str] | None = None,
        shell: str | None = None,
    ) -> None:
        self.workspace = Path(workspace).resolve(strict=True)
        self.default_timeout_ms = default_timeout_ms
        self.default_max_output = default_max_output
        self.env = scrub_env(os.environ if env is None else env)
        self.shell = shell or shutil.which("bash", path=self.env.get("PATH")) or "/bin/sh"

    async def run_action(self, action: Mapping[str, Any]) -> list[dict[str, Any]]:
        """`shell_call.action` → the `output` list of a `shell_call_output` item."""
        commands = action.get("commands") or []
        timeout_ms = action.get("timeout_ms") or self.default_timeout_ms
        limit = action.get("max_output_length") or self.default_max_output
        results = [await self.run(str(command), timeout_ms / 1000) for command in commands]
        return [result.to_item() for result in truncate(results, int(limit))]

    async def run(self, command: str, timeout_s: float) -> CommandResult:
        process = await asyncio.create_subprocess_exec(
            self.shell,
            "-c",
            command,
            cwd=self.workspace,
            env=self.env,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            start_new_session=True,
        )
        assert process.stdout is not None and process.stderr is not None
        readers = asyncio.gather(_read(process.stdout), _read(process.stderr))
        exit_code = await _wait_exit(process, timeout_s)
        _kill_group(process.pid)  # on timeout, and background leftovers die with the command
        try:
            stdout, stderr = await asyncio.wait_for(readers, 2.0)
        except TimeoutError:  # a grandchild left the process group and holds the pipes
            readers.cancel()
            stdout, stderr = b"", b""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(process.wait(), 2.0)
        return CommandResult(_text(stdout), _text(stderr), exit_code)


def truncate(results: Sequence[CommandResult], limit: int) -> list[CommandResult]:
    """Keep at most `limit` characters of stdout+stderr over the whole call, in order."""
    budget = max(limit, 0)
    kept: list[CommandResult] = []
    for result in results:
        stdout = result.stdout[:budget]
        budget -= len(stdout)
        stderr = result.stderr[:budget]
        budget -= len(stderr)
        kept.append(CommandResult(stdout, stderr, result.exit_code))
    return kept


async def _wait_exit(process: asyncio.subprocess.Process, timeout_s: float) -> int | None:
    """The exit code, or None on timeout. `process.wait()` would also wait for the pipes to
    close, which a backgrounded child can hold open, so the exit status is polled instead."""
    deadline = time.monotonic() + timeout_s
    delay = 0.005
    while process.returncode is None:
        if time.monotonic() >= deadline:
            return None
        await asyncio.sleep(delay)
        delay = min(delay * 2, 0.05)
    return process.returncode


async def _read(stream: asyncio.StreamReader) -> bytes:
    """Read to EOF, keeping at most _CAPTURE_CAP bytes (the rest is drained, not stored)."""
    chunks: list[bytes] = []
    size = 0
    while block := await stream.read(65536):
        if size < _CAPTURE_CAP:
            chunks.append(block[: _CAPTURE_CAP - size])
            size += len(chunks[-1])
    return b"".join(chunks)


def _kill_group(pid: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, signal.SIGKILL)


def _text(data: bytes) -> str:
    return data.decode("utf-8", errors="replace")
