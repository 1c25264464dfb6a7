"""`[code_interpreter]`: the hosted code interpreter's sandbox and containers
(docs/code-interpreter.md)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class CodeInterpreterConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    # Served when bubblewrap works here (checked at start-up); false: never offered.
    enabled: bool = True
    # The interpreter run inside the sandbox, and host paths it may read (a virtualenv
    # with numpy and matplotlib, say); /usr is always there, read-only.
    python: str = "/usr/bin/python3"
    read_only_paths: list[str] = Field(default_factory=list)
    # A container expires after this many idle minutes (`expires_after` may set its own).
    idle_minutes: float = Field(default=20.0, gt=0, le=24 * 60)
    # Per call: wall-clock and CPU seconds, processes and threads, stdout and stderr each.
    timeout_seconds: float = Field(default=30.0, gt=0, le=3600)
    cpu_seconds: int = Field(default=30, ge=1, le=3600)
    max_processes: int = Field(default=32, ge=4, le=4096)
    max_output_bytes: int = Field(default=64 * 1024, ge=1024)
    # Memory per process: the container's `memory_limit`, never above this.
    max_memory: Literal["1g", "4g", "16g", "64g"] = "4g"
    # Files: the largest one code may write or a client upload, all of a container's.
    max_file_bytes: int = Field(default=16 * 1024 * 1024, ge=1024)
    max_container_bytes: int = Field(default=256 * 1024 * 1024, ge=1024)
    # Sandboxes running at once (more calls wait); as root, each slot runs as its own
    # uid from `uid_base` on (the process limit counts per uid).
    concurrency: int = Field(default=2, ge=1, le=64)
    uid_base: int = Field(default=60000, ge=1000)
