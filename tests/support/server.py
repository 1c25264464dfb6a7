"""A real thinkgate server in a subprocess on a free loopback port (no in-process transport:
it would buffer streamed bodies)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
from openai import OpenAI

ADMIN_KEY = "sk-test-admin-0123456789abcdef"
STARTS: Counter[str] = Counter()  # processes started this session, by kind (the run's summary)


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def make_client(base_url: str, api_key: str = ADMIN_KEY) -> OpenAI:
    """The official SDK against a test server: no retries, so a test sees the first answer."""
    return OpenAI(
        base_url=f"{base_url}/v1",
        api_key=api_key,
        max_retries=0,
        timeout=120,
        _strict_response_validation=True,
    )


class ManagedProcess:
    """A server in a subprocess on a loopback port, ready once `ready_path` answers 200."""

    def __init__(
        self,
        command: list[str],
        port: int,
        log_path: Path,
        ready_path: str,
        env: dict[str, str] | None = None,
    ) -> None:
        STARTS["thinkgate" if isinstance(self, ServerProcess) else "upstream"] += 1
        self.port = port
        self.base_url = f"http://127.0.0.1:{port}"
        self.log_path = log_path
        self._log = log_path.open("wb")
        self.process = subprocess.Popen(
            command, env=env, stdout=self._log, stderr=subprocess.STDOUT
        )
        self._wait_ready(ready_path)

    def _wait_ready(self, path: str, timeout: float = 90.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"{self.log_path.name}: exited early:\n{self.log()}")
            try:
                if httpx.get(f"{self.base_url}{path}", timeout=1.0).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        self.stop()
        raise RuntimeError(f"{self.log_path.name}: did not start in {timeout}s:\n{self.log()}")

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self._log.close()


class ServerProcess(ManagedProcess):
    """`thinkgate serve` with its own data dir, ready when `/health` answers."""

    def __init__(
        self,
        data_dir: Path,
        *,
        admin_key: str | None = ADMIN_KEY,
        config: Path | None = None,
        extra_env: dict[str, str] | None = None,
        port: int | None = None,
    ) -> None:
        self.data_dir = data_dir
        port = port or free_port()  # a given port: a restarted replica behind a proxy
        env = {k: v for k, v in os.environ.items() if not k.startswith("THINKGATE_")}
        # Teardown should not wait out the production grace (30 s) for a request a test
        # left hanging; tests of shutdown itself set their own.
        env["THINKGATE_SHUTDOWN_GRACE_SECONDS"] = "5"
        if admin_key is not None:
            env["THINKGATE_ADMIN_KEY"] = admin_key
        env.update(extra_env or {})
        command = [sys.executable, "-m", "thinkgate", "serve", "--port", str(port)]
        command += ["--data-dir", str(data_dir)]
        if config is not None:
            command += ["--config", str(config)]
        log_path = data_dir.parent / f"server-{port}.log"
        super().__init__(command, port, log_path, "/health", env=env)

    @contextmanager
    def stream(
        self, path: str, payload: dict[str, Any], key: str = ADMIN_KEY
    ) -> Iterator[httpx.Response]:
        """A raw streamed POST (for what the SDK hides: framing, mid-stream disconnects)."""
        with httpx.stream(
            "POST",
            f"{self.base_url}{path}",
            json=payload,
            headers={"Authorization": f"Bearer {key}"},
            timeout=120,
        ) as reply:
            yield reply


class SharedServers:
    """One server per distinct config for the whole session, started when a module first
    asks for it by its key (the config's name) and stopped at the session's end. For
    modules whose tests make their own users and keys, so another module's rows do not
    matter to them; a test that needs a fresh database keeps a server of its own."""

    def __init__(self, root: Path) -> None:
        self._root = root
        self._started: dict[str, ServerProcess] = {}

    def get(self, key: str, start: Callable[[Path], ServerProcess]) -> ServerProcess:
        """The server for `key`, started as `start(data_dir)` the first time."""
        if key not in self._started:
            (self._root / key).mkdir()
            self._started[key] = start(self._root / key / "data")
        return self._started[key]

    def stop(self) -> None:
        for process in self._started.values():
            process.stop()
