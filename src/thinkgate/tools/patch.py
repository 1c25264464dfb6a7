"""Apply V4A patches to a workspace: all operations are checked first, then written.

A patch is planned against an in-memory overlay of the files it touches; only when every
operation succeeds are the results written (each atomically). A failing hunk therefore
leaves the workspace as it was, and the error says which file and section to fix.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from thinkgate.tools.errors import PatchSyntaxError, TargetExistsError, TargetMissingError
from thinkgate.tools.seek import apply_chunks
from thinkgate.tools.v4a import (
    AddFile,
    DeleteFile,
    FileOp,
    UpdateFile,
    parse_create_diff,
    parse_patch,
    parse_update_diff,
)
from thinkgate.tools.workspace import Workspace


@dataclass(slots=True)
class PatchResult:
    """What was done, one line per file, as the tool output tells the model."""

    changes: list[str] = field(default_factory=list)

    @property
    def output(self) -> str:
        return "\n".join(self.changes)


def apply_patch(workspace: Workspace, text: str) -> PatchResult:
    """Apply a full `*** Begin Patch` envelope."""
    return _apply_ops(workspace, parse_patch(text))


def apply_operation(workspace: Workspace, operation: Mapping[str, Any]) -> PatchResult:
    """Apply one GPT-5.1 `apply_patch_call.operation` (create_file / update_file / delete_file)."""
    return _apply_ops(workspace, [operation_to_op(operation)])


def operation_to_op(operation: Mapping[str, Any]) -> FileOp:
    kind, path = operation.get("type"), operation.get("path")
    if not isinstance(path, str) or not path:
        raise PatchSyntaxError("The operation needs a non-empty string 'path'")
    if kind == "delete_file":
        return DeleteFile(path)
    diff = operation.get("diff")
    if not isinstance(diff, str):
        raise PatchSyntaxError(f"A {kind} operation needs a string 'diff' (the V4A body)")
    if kind == "create_file":
        return AddFile(path, parse_create_diff(diff))
    if kind == "update_file":
        return UpdateFile(path, tuple(parse_update_diff(diff, path)))
    raise PatchSyntaxError(
        f"Unknown operation type {kind!r}: use create_file, update_file or delete_file"
    )


def _apply_ops(workspace: Workspace, ops: list[FileOp]) -> PatchResult:
    overlay: dict[str, str | None] = {}
    result = PatchResult()

    def current(path: str) -> str | None:
        key = str(workspace.resolve(path))
        return overlay[key] if key in overlay else workspace.read_text(path)

    def put(path: str, text: str | None) -> None:
        overlay[str(workspace.resolve(path))] = text

    for op in ops:
        before = current(op.path)
        if isinstance(op, AddFile):
            if before is not None:
                raise TargetExistsError(
                    f"Cannot add '{op.path}': the file already exists; use an update instead"
                )
            put(op.path, op.content)
            result.changes.append(f"Created {op.path}")
            continue
        if before is None:
            raise TargetMissingError(
                f"Cannot {'delete' if isinstance(op, DeleteFile) else 'update'} "
                f"'{op.path}': no such file in the workspace"
            )
        if isinstance(op, DeleteFile):
            put(op.path, None)
            result.changes.append(f"Deleted {op.path}")
            continue
        after = apply_chunks(before, op.chunks, op.path) if op.chunks else before
        if op.move_to is not None and op.move_to != op.path:
            if current(op.move_to) is not None:
                raise TargetExistsError(f"Cannot move '{op.path}' to '{op.move_to}': it exists")
            put(op.path, None)
            put(op.move_to, after)
            result.changes.append(f"Moved {op.path} to {op.move_to}")
        else:
            put(op.path, after)
            result.changes.append(f"Updated {op.path}")
    _commit(workspace, overlay)
    return result


def _commit(workspace: Workspace, overlay: dict[str, str | None]) -> None:
    for real, text in overlay.items():
        relative = Path(real).relative_to(workspace.root).as_posix()
        if text is None:
            if workspace.read_text(relative) is not None:
                workspace.delete(relative)
        else:
            workspace.write_text(relative, text)
