"""Containers: a directory each (the sandbox's /mnt/data), rows in the store, an owner,
an idle time after which the container expires and its files are removed.

The server only ever opens a container's files by their recorded path, without following
links (code in the sandbox may leave a link to a host path behind), and rescans the
directory after each run: files the code wrote join the container as `assistant` files.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import shutil
import stat
import time
from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any, BinaryIO

from thinkgate.hosted.code_interpreter.sandbox import MOUNT
from thinkgate.ids import new_id
from thinkgate.store.containers import (
    ContainerFileRow,
    ContainerRepository,
    ContainerRow,
    Order,
    Page,
)

log = logging.getLogger(__name__)

MEMORY_LIMITS = {"1g": 1 << 30, "4g": 4 << 30, "16g": 16 << 30, "64g": 64 << 30}
_CHUNK = 1 << 16


class FileTooLarge(ValueError):
    pass


@dataclass(slots=True, frozen=True)
class Snapshot:
    """The container's files before a run: path → (size, mtime_ns)."""

    files: dict[str, tuple[int, int]]


def container_wire(row: ContainerRow) -> dict[str, Any]:
    minutes = row.expires_minutes or max(1, round(row.idle_seconds / 60))
    return {
        "id": row.id,
        "object": "container",
        "created_at": row.created_at,
        "status": row.status,
        "expires_after": {"anchor": "last_active_at", "minutes": minutes},
        "last_active_at": row.last_active_at,
        "memory_limit": row.memory_limit,
        "name": row.name,
        "network_policy": {"type": "disabled"},
    }


def file_wire(row: ContainerFileRow) -> dict[str, Any]:
    return {
        "id": row.id,
        "object": "container.file",
        "bytes": row.bytes,
        "container_id": row.container_id,
        "created_at": row.created_at,
        "path": row.path,
        "source": row.source,
    }


class Containers:
    def __init__(
        self,
        repository: ContainerRepository,
        root: Path,
        *,
        idle_seconds: float,
        max_file_bytes: int,
    ) -> None:
        self.repository = repository
        self._root = root
        self._idle = idle_seconds
        self.max_file_bytes = max_file_bytes
        self._sweeper: asyncio.Task[None] | None = None

    # --- containers ---------------------------------------------------------------------

    async def create(
        self,
        owner: str,
        name: str,
        *,
        memory_limit: str = "1g",
        minutes: int | None = None,
        container_id: str | None = None,
    ) -> ContainerRow:
        now = int(time.time())
        row = ContainerRow(
            id=container_id or new_id("cntr"),
            owner=owner,
            name=name,
            status="running",
            created_at=now,
            last_active_at=now,
            idle_seconds=int(minutes * 60) if minutes else max(int(self._idle), 1),
            expires_minutes=minutes,
            memory_limit=memory_limit,
        )
        directory = self.directory(row.id)
        directory.mkdir(parents=True)
        directory.chmod(0o777)  # the sandbox's uid (not the server's) writes here
        self.start()
        return await self.repository.create(row)

    async def get(self, container_id: str, owner: str | None) -> ContainerRow | None:
        row = await self.repository.get(container_id, owner=owner)
        if row is not None and row.status == "expired":
            await self.repository.forget_files(row.id)
            await self._purge([row.id])
        return row

    async def page(
        self, owner: str, *, after: str | None, limit: int, order: Order, name: str | None
    ) -> Page[ContainerRow]:
        return await self.repository.page(owner, after=after, limit=limit, order=order, name=name)

    async def delete(self, row: ContainerRow) -> None:
        await self.repository.delete(row.id)
        shutil.rmtree(self.directory(row.id), ignore_errors=True)

    async def touch(self, row: ContainerRow) -> None:
        await self.repository.touch(row.id)

    def directory(self, container_id: str) -> Path:
        return self._root / container_id

    # --- files --------------------------------------------------------------------------

    async def upload(
        self, row: ContainerRow, filename: str, data: BinaryIO, *, source: str = "user"
    ) -> ContainerFileRow:
        """Write the upload as /mnt/data/<its base name> (an earlier one of that name is
        replaced); more than the size limit is refused and nothing is kept."""
        name = PurePosixPath(filename.replace("\\", "/")).name.lstrip(".") or "upload"
        target = self.directory(row.id) / name
        partial = target.with_name(f".{name}.{os.getpid()}.part")
        written = await asyncio.to_thread(_copy_capped, data, partial, self.max_file_bytes)
        if written is None:
            partial.unlink(missing_ok=True)
            raise FileTooLarge(name)
        partial.chmod(0o666)
        os.replace(partial, target)
        path = f"{MOUNT}/{name}"
        stale = [f.id for f in await self.repository.files(row.id) if f.path == path]
        await self.repository.delete_files(stale)
        record = ContainerFileRow(
            id=new_id("cfile"),
            container_id=row.id,
            path=path,
            bytes=written,
            source=source,
            created_at=int(time.time()),
        )
        await self.repository.touch(row.id)
        return await self.repository.add_file(record)

    def open(self, file: ContainerFileRow) -> BinaryIO | None:
        """The file's bytes, opened without following any link; None if it is gone."""
        relative = PurePosixPath(file.path).relative_to(MOUNT)
        directory = os.open(self.directory(file.container_id), os.O_RDONLY | os.O_DIRECTORY)
        try:
            for part in relative.parts[:-1]:
                inner = os.open(
                    part, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW, dir_fd=directory
                )
                os.close(directory)
                directory = inner
            handle = os.open(relative.parts[-1], os.O_RDONLY | os.O_NOFOLLOW, dir_fd=directory)
        except OSError:
            return None
        finally:
            os.close(directory)
        if not stat.S_ISREG(os.fstat(handle).st_mode):
            os.close(handle)
            return None
        return os.fdopen(handle, "rb")

    async def remove_file(self, file: ContainerFileRow) -> None:
        relative = PurePosixPath(file.path).relative_to(MOUNT)
        target = self.directory(file.container_id).joinpath(*relative.parts)
        with contextlib.suppress(OSError):
            if not target.is_dir() or target.is_symlink():
                target.unlink()
        await self.repository.delete_files([file.id])

    # --- after a run --------------------------------------------------------------------

    def snapshot(self, container_id: str) -> Snapshot:
        return Snapshot(dict(_scan(self.directory(container_id))))

    async def sync(self, container_id: str, before: Snapshot) -> list[ContainerFileRow]:
        """Record what the run changed; the files it wrote or rewrote, in path order."""
        now = dict(_scan(self.directory(container_id)))
        known = {f.path: f for f in await self.repository.files(container_id)}
        changed: list[ContainerFileRow] = []
        for relative, (size, mtime) in sorted(now.items()):
            path = f"{MOUNT}/{relative}"
            record = known.get(path)
            if record is None:
                record = ContainerFileRow(
                    id=new_id("cfile"),
                    container_id=container_id,
                    path=path,
                    bytes=size,
                    source="assistant",
                    created_at=int(time.time()),
                )
                changed.append(await self.repository.add_file(record))
            elif before.files.get(relative) != (size, mtime):
                await self.repository.update_file(record.id, size)
                record.bytes = size
                changed.append(record)
        gone = [f.id for path, f in known.items() if path.removeprefix(f"{MOUNT}/") not in now]
        await self.repository.delete_files(gone)
        return changed

    def undo(self, container_id: str, before: Snapshot) -> None:
        """Remove what a run that broke the disk quota wrote (what it rewrote too)."""
        for relative, state in _scan(self.directory(container_id)):
            if before.files.get(relative) != state:
                with contextlib.suppress(OSError):
                    (self.directory(container_id) / relative).unlink()

    # --- expiry -------------------------------------------------------------------------

    async def sweep(self) -> None:
        await self._purge(await self.repository.expired_ids())

    async def _purge(self, ids: Iterable[str]) -> None:
        for container_id in ids:
            directory = self.directory(container_id)
            if directory.exists():
                await asyncio.to_thread(shutil.rmtree, directory, True)
                log.info("container %s expired: its files are removed", container_id)

    def start(self) -> None:
        """Sweep expired containers from now on (idempotent)."""
        if self._sweeper is None or self._sweeper.done():
            self._sweeper = asyncio.get_running_loop().create_task(self._sweep_forever())

    async def _sweep_forever(self) -> None:
        period = min(60.0, max(self._idle / 2, 0.5))
        while True:
            await asyncio.sleep(period)
            try:
                await self.sweep()
            except Exception:  # the store may be briefly away: the next sweep tries again
                log.exception("container sweep failed")

    async def aclose(self) -> None:
        if self._sweeper is not None:
            self._sweeper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._sweeper


def _scan(root: Path) -> Iterable[tuple[str, tuple[int, int]]]:
    """(path under root, (size, mtime_ns)) of each regular file, links never followed,
    partial uploads left out."""
    for directory, dirs, files in os.walk(root):
        dirs[:] = [d for d in dirs if not os.path.islink(os.path.join(directory, d))]
        for name in files:
            full = os.path.join(directory, name)
            try:
                info = os.lstat(full)
            except OSError:
                continue
            if stat.S_ISREG(info.st_mode) and not name.endswith(".part"):
                yield os.path.relpath(full, root), (info.st_size, info.st_mtime_ns)


def _copy_capped(source: BinaryIO, target: Path, limit: int) -> int | None:
    written = 0
    with target.open("wb") as out:
        while chunk := source.read(_CHUNK):
            written += len(chunk)
            if written > limit:
                return None
            out.write(chunk)
    return written


async def stream(handle: BinaryIO) -> AsyncIterator[bytes]:
    try:
        while chunk := await asyncio.to_thread(handle.read, _CHUNK):
            yield chunk
    finally:
        handle.close()
