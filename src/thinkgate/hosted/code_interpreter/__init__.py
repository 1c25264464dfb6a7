"""The hosted code interpreter: containers (`/v1/containers`) and Python run in a
bubblewrap sandbox per call (docs/code-interpreter.md)."""

from __future__ import annotations

import io
import logging
from typing import BinaryIO

from thinkgate.config import Settings
from thinkgate.files import file_record
from thinkgate.files.store import FileStore
from thinkgate.hosted.code_interpreter.containers import Containers, FileTooLarge
from thinkgate.hosted.code_interpreter.sandbox import Limits, Sandbox
from thinkgate.hosted.code_interpreter.tool import CodeInterpreter
from thinkgate.store.containers import ContainerRepository
from thinkgate.store.database import Database

log = logging.getLogger(__name__)

__all__ = ["CodeInterpreter", "Containers", "FileTooLarge", "code_interpreter_for"]


async def code_interpreter_for(
    settings: Settings, database: Database
) -> tuple[Containers, list[CodeInterpreter]]:
    """The containers (always: `/v1/containers` works without a sandbox) and the tool,
    none where it is switched off or bubblewrap cannot run here (logged, said per request)."""
    config = settings.code_interpreter
    root = settings.data_dir / "containers"
    root.mkdir(parents=True, exist_ok=True)
    containers = Containers(
        ContainerRepository(database),
        root,
        idle_seconds=config.idle_minutes * 60,
        max_file_bytes=config.max_file_bytes,
    )
    containers.start()  # expired containers' files go, whether or not code runs here
    if not config.enabled:
        return containers, []
    sandbox = Sandbox(
        python=config.python,
        read_only=tuple(config.read_only_paths),
        uid_base=config.uid_base,
        slots=config.concurrency,
    )
    problem = await sandbox.probe(root / ".probe")
    if problem is not None:
        log.warning("code_interpreter is not served: the sandbox does not run here: %s", problem)
        return containers, []
    limits = Limits(
        wall_seconds=config.timeout_seconds,
        cpu_seconds=config.cpu_seconds,
        processes=config.max_processes,
        file_bytes=config.max_file_bytes,
        disk_bytes=config.max_container_bytes,
        output_bytes=config.max_output_bytes,
    )

    async def uploaded(owner: str, file_id: str) -> tuple[str, BinaryIO] | None:
        record = await file_record(database, owner, file_id)
        if record is None:
            return None
        return record.filename, io.BytesIO(await FileStore(database).read_all(file_id))

    tool = CodeInterpreter(
        containers, sandbox, limits, max_memory=config.max_memory, files=uploaded
    )
    log.info("code_interpreter: sandboxed with bubblewrap (%s)", sandbox.mode)
    return containers, [tool]
