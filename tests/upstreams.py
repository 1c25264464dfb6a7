"""Upstream servers for the upstream tests: subprocesses on free loopback ports."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import httpx

from tests.server import free_port


class UpstreamProcess:
    """A server in a subprocess, ready once `ready_path` answers 200."""

    def __init__(self, command: list[str], port: int, log_path: Path, ready_path: str) -> None:
        self.port = port
        self.base_url = f"http://127.0.0.1:{port}"
        self.log_path = log_path
        self._log = log_path.open("wb")
        self.process = subprocess.Popen(command, stdout=self._log, stderr=subprocess.STDOUT)
        self._wait_ready(ready_path)

    def _wait_ready(self, path: str, timeout: float = 90.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"upstream exited early:\n{self.log()}")
            try:
                if httpx.get(f"{self.base_url}{path}", timeout=1.0).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        self.stop()
        raise RuntimeError(f"upstream did not start:\n{self.log()}")

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


def start_standin(log_dir: Path) -> UpstreamProcess:
    port = free_port()
    command = [sys.executable, "-m", "tests.standin_upstream", str(port)]
    return UpstreamProcess(command, port, log_dir / f"standin-{port}.log", "/v1/models")


def start_llama_cpp_server(log_dir: Path) -> UpstreamProcess:
    """llama-cpp-python's own OpenAI-compatible server with the SmolLM2 file."""
    from thinkgate.backends.model_files import default_gguf_path

    port = free_port()
    command = [sys.executable, "-m", "llama_cpp.server", "--model", str(default_gguf_path())]
    command += ["--port", str(port), "--n_ctx", "4096", "--model_alias", "smollm2"]
    return UpstreamProcess(command, port, log_dir / f"llama-{port}.log", "/v1/models")
