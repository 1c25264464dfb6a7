"""`code_interpreter` as a hosted tool: the model calls `code_interpreter(code)`; the code
runs in the container's sandbox; the public item is a `code_interpreter_call` with the code,
the container and (with `include: ["code_interpreter_call.outputs"]`) its logs and images;
files the code wrote join the container, cited with `container_file_citation`.

    container: "cntr_…"            that container (the request checked it is the caller's)
    container: {"type": "auto"}   one container for the response, made at its first call:
                                  the one of the conversation's last call while it runs,
                                  else a new one (`memory_limit`, `file_ids` copied in)

A Python exception is a completed call (its traceback is the log, as OpenAI's); a limit the
sandbox hit (time, output, disk) fails the call with the reason in the log.
"""

from __future__ import annotations

import asyncio
import base64
import logging
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, BinaryIO, ClassVar

from thinkgate.hosted.base import CallOutcome, HostedCall, Source, Tool
from thinkgate.hosted.code_interpreter.containers import MEMORY_LIMITS, Containers
from thinkgate.hosted.code_interpreter.sandbox import Limits, RunResult, Sandbox
from thinkgate.ids import new_id
from thinkgate.store.containers import ContainerFileRow, ContainerRow

log = logging.getLogger(__name__)

OUTPUTS = "code_interpreter_call.outputs"
_IMAGES = {".png": "image/png", ".jpg": "image/jpeg", ".jpeg": "image/jpeg", ".gif": "image/gif"}
_IMAGE_BYTES = 2 << 20  # larger images are listed as files, not inlined as outputs
_MODEL_CHARS = 4000  # of the log, what the model reads
# A file the request names by id (`file_ids`): (its name, its bytes), None if not the owner's.
# This response's auto container, kept in the turn's scratch (hosted.base.Turn).
_CONTAINER, _FRESH, _LOCK = (
    "code_interpreter.container",
    "code_interpreter.fresh",
    "code_interpreter.lock",
)
FileSource = Callable[[str, str], Awaitable[tuple[str, BinaryIO] | None]]


class CodeInterpreter:
    types: ClassVar[tuple[str, ...]] = ("code_interpreter",)
    item_type: ClassVar[str] = "code_interpreter_call"
    id_prefix: ClassVar[str] = "ci"
    price_key: ClassVar[str] = "code_interpreter"
    opening: ClassVar[tuple[str, ...]] = ("response.code_interpreter_call.in_progress",)
    working: ClassVar[tuple[str, ...]] = ("response.code_interpreter_call.interpreting",)
    closing: ClassVar[tuple[str, ...]] = ("response.code_interpreter_call.completed",)

    def __init__(
        self,
        containers: Containers,
        sandbox: Sandbox,
        limits: Limits,
        *,
        max_memory: str = "4g",
        files: FileSource | None = None,
    ) -> None:
        self._containers = containers
        self._sandbox = sandbox
        self._limits = limits
        self._max_memory = MEMORY_LIMITS[max_memory]
        self._files = files

    def functions(self, declared: Tool) -> list[Tool]:
        description = (
            "Run Python 3 code in a sandbox (no network). Files are read and written in "
            "/mnt/data and persist between calls; the value of the last expression is "
            "printed. Returns the output. Name each file you write in your answer."
        )
        return [
            {
                "type": "function",
                "name": "code_interpreter",
                "description": description,
                "parameters": {
                    "type": "object",
                    "properties": {"code": {"type": "string", "description": "Python code."}},
                    "required": ["code"],
                    "additionalProperties": False,
                },
                "strict": True,
            }
        ]

    def begin(self, call: HostedCall) -> None:
        container = call.declared.get("container")
        scratch = call.turn.scratch
        if isinstance(container, str):
            chosen = container
        else:  # auto: this response's, else the conversation's last, else a new one
            chosen = scratch.get(_CONTAINER) or _last_container(call.turn.items) or ""
            if not chosen:
                chosen = scratch[_FRESH] = new_id("cntr")
            scratch[_CONTAINER] = chosen
        code = _code(call.arguments) or ""
        call.item.update(
            type=self.item_type, status="in_progress", code=code, container_id=chosen, outputs=None
        )
        call.opening = (
            *self.opening,  # the code came whole: one delta, then done
            ("response.code_interpreter_call_code.delta", {"delta": code}),
            ("response.code_interpreter_call_code.done", {"code": code}),
        )

    async def run(self, call: HostedCall) -> CallOutcome:
        code = _code(call.arguments)
        if code is None:
            return _failed(call, "the call needs a non-empty 'code' string")
        container = await self._container(call)
        if container is None:
            return _failed(call, "its container has expired or does not exist")
        call.item["container_id"] = container.id
        directory = self._containers.directory(container.id)
        before = await asyncio.to_thread(self._containers.snapshot, container.id)
        limits = self._limits_for(container)
        await self._containers.touch(container)  # in use: not to expire while it runs
        result = await self._sandbox.run(code, directory, limits)
        await self._containers.touch(container)
        if result.stopped and "quota" in result.stopped:
            await asyncio.to_thread(self._containers.undo, container.id, before)
        written = await self._containers.sync(container.id, before)
        return self._outcome(call, container, result, written, limits)

    def _outcome(
        self,
        call: HostedCall,
        container: ContainerRow,
        result: RunResult,
        written: Sequence[ContainerFileRow],
        limits: Limits,
    ) -> CallOutcome:
        logs = _logs(result, limits)
        outputs: list[dict[str, Any]] = [{"type": "logs", "logs": logs}] if logs else []
        outputs += self._images(written)
        status = "failed" if result.stopped else "completed"
        item = {
            **call.item,
            "status": status,
            "outputs": outputs if OUTPUTS in call.include else None,
        }
        told = logs[-_MODEL_CHARS:] if logs else "(no output)"
        if written:
            told += "\nFiles written: " + ", ".join(f"{f.path} ({f.bytes} bytes)" for f in written)
        sources = [
            Source(
                url=f.path.rsplit("/", 1)[-1],
                title=f.path,
                annotation={
                    "type": "container_file_citation",
                    "container_id": container.id,
                    "file_id": f.id,
                    "filename": f.path.rsplit("/", 1)[-1],
                },
            )
            for f in written
        ]
        return CallOutcome(item, told, sources)

    def _images(self, written: Sequence[ContainerFileRow]) -> list[dict[str, Any]]:
        images = []
        for file in written:
            kind = _IMAGES.get("." + file.path.rsplit(".", 1)[-1].lower())
            if kind is None or file.bytes > _IMAGE_BYTES:
                continue
            handle = self._containers.open(file)
            if handle is None:
                continue
            with handle:
                data = base64.b64encode(handle.read(_IMAGE_BYTES)).decode()
            images.append({"type": "image", "url": f"data:{kind};base64,{data}"})
        return images

    async def _container(self, call: HostedCall) -> ContainerRow | None:
        """The call's container: named (owned, running), else this response's auto one."""
        declared = call.declared.get("container")
        if isinstance(declared, str):
            row = await self._containers.get(declared, call.turn.owner)
            return row if row is not None and row.status == "running" else None
        scratch = call.turn.scratch
        lock: asyncio.Lock = scratch.setdefault(_LOCK, asyncio.Lock())
        async with lock:  # calls side by side share the response's one container
            chosen = str(scratch.get(_CONTAINER) or "")
            row = await self._containers.get(chosen, call.turn.owner) if chosen else None
            if row is not None and row.status == "running":
                return row
            fresh = chosen if row is None and scratch.get(_FRESH) == chosen else None
            auto = declared if isinstance(declared, dict) else {}
            memory = str(auto.get("memory_limit") or "1g")
            owner = call.turn.owner or ""
            row = await self._containers.create(
                owner, "code interpreter", memory_limit=memory, container_id=fresh
            )
            scratch[_CONTAINER] = row.id
            await self._copy_files(row, owner, auto.get("file_ids") or [])
            return row

    async def _copy_files(self, row: ContainerRow, owner: str, file_ids: list[str]) -> None:
        if self._files is None:
            return
        for file_id in file_ids:
            found = await self._files(owner, str(file_id))
            if found is not None:
                name, data = found
                with data:
                    await self._containers.upload(row, name, data)

    def _limits_for(self, container: ContainerRow) -> Limits:
        memory = min(MEMORY_LIMITS.get(container.memory_limit, 1 << 30), self._max_memory)
        memory = min(memory, self._limits.memory_bytes) if self._limits.memory_bytes else memory
        return Limits(**{**_as_dict(self._limits), "memory_bytes": memory})

    async def aclose(self) -> None:
        """The containers outlive the tool (the lifespan closes them after)."""


def _as_dict(limits: Limits) -> dict[str, Any]:
    return {name: getattr(limits, name) for name in Limits.__slots__}


def _last_container(items: Sequence[dict[str, Any]]) -> str | None:
    for item in reversed(items):
        if item.get("type") == "code_interpreter_call" and item.get("container_id"):
            return str(item["container_id"])
    return None


def _code(arguments: dict[str, Any] | None) -> str | None:
    code = (arguments or {}).get("code")
    return code if isinstance(code, str) and code.strip() else None


def _logs(result: RunResult, limits: Limits) -> str:
    logs = result.stdout + result.stderr
    hint = _hint(result.stderr, limits)
    if hint:
        logs += hint + "\n"
    if result.stopped:
        logs += f"The sandbox stopped the code: {result.stopped}.\n"
    return logs


def _hint(stderr: str, limits: Limits) -> str | None:
    """Name the limit behind an error Python reports in its own words (processes that
    forked may each have printed one: any line counts)."""
    lines = stderr.splitlines()
    if any(line.startswith("MemoryError") for line in lines):
        return f"(The sandbox allows {limits.memory_bytes >> 20} MiB of memory per process.)"
    if any(line.startswith("BlockingIOError") and "temporarily" in line for line in lines):
        return f"(The sandbox allows at most {limits.processes} processes and threads.)"
    if "Network is unreachable" in stderr or "Temporary failure in name resolution" in stderr:
        return "(The sandbox has no network access.)"
    return None


def _failed(call: HostedCall, reason: str) -> CallOutcome:
    item = {**call.item, "status": "failed"}
    return CallOutcome(item, f"The code interpreter failed: {reason}.")
