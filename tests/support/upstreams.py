"""Upstream servers for the upstream tests: subprocesses on free loopback ports."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.server import ManagedProcess, free_port

UpstreamProcess = ManagedProcess  # an upstream is any server ready on a path


def serve_module(
    tmp_path_factory: pytest.TempPathFactory, module: str, *args: str
) -> Iterator[UpstreamProcess]:
    """A stand-in written as a module (`python -m tests.x PORT [ARGS]`), for a fixture to
    `yield from`: started on a free port, ready on `/v1/models`, stopped after."""
    port = free_port()
    name = module.rsplit(".", 1)[-1]
    log = tmp_path_factory.mktemp(name) / f"{name}-{port}.log"
    process = ManagedProcess(
        [sys.executable, "-m", module, str(port), *args], port, log, "/v1/models"
    )
    try:
        yield process
    finally:
        process.stop()


def start_standin(log_dir: Path) -> UpstreamProcess:
    port = free_port()
    command = [sys.executable, "-m", "tests.support.standin_upstream", str(port)]
    return UpstreamProcess(command, port, log_dir / f"standin-{port}.log", "/v1/models")


def start_llama_cpp_server(log_dir: Path) -> UpstreamProcess:
    """llama-cpp-python's own OpenAI-compatible server with the SmolLM2 file."""
    from thinkgate.backends.model_files import default_gguf_path

    port = free_port()
    command = [sys.executable, "-m", "llama_cpp.server", "--model", str(default_gguf_path())]
    command += ["--port", str(port), "--n_ctx", "4096", "--model_alias", "smollm2"]
    return UpstreamProcess(command, port, log_dir / f"llama-{port}.log", "/v1/models")
