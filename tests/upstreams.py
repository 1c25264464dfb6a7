"""Upstream servers for the upstream tests: subprocesses on free loopback ports."""

from __future__ import annotations

import sys
from pathlib import Path

from tests.server import ManagedProcess, free_port

UpstreamProcess = ManagedProcess  # an upstream is any server ready on a path


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
