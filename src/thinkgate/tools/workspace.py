"""The directory tools may touch: every path is resolved and checked to stay inside it.

Containment is checked on the fully resolved path (symlinks followed), so a link inside the
workspace that points outside is refused, not followed. Writes are atomic: a temp file in the
target's directory, then `os.replace`, so a reader never sees half a file.
"""

from __future__ import annotations

import contextlib
import functools
import os
import stat
import tempfile
from pathlib import Path, PurePosixPath, PureWindowsPath

from thinkgate.tools.errors import PatchError, WorkspaceEscapeError


class Workspace:
    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.root = Path(root).resolve(strict=True)
        if not self.root.is_dir():
            raise NotADirectoryError(f"workspace {self.root} is not a directory")

    def resolve(self, path: str) -> Path:
        """The real location of a workspace-relative path, refused if it leaves the root."""
        if not path or "\x00" in path:
            raise WorkspaceEscapeError(f"Invalid path {path!r}: give a non-empty relative path")
        posix, windows = PurePosixPath(path), PureWindowsPath(path)
        if posix.is_absolute() or windows.is_absolute() or windows.drive:
            raise WorkspaceEscapeError(
                f"Absolute path {path!r} refused: paths must be relative to the workspace root"
            )
        if ".." in posix.parts or ".." in windows.parts:
            raise WorkspaceEscapeError(
                f"Path {path!r} refused: '..' may not be used to leave the workspace"
            )
        real = (self.root / posix).resolve(strict=False)
        if not real.is_relative_to(self.root):
            raise WorkspaceEscapeError(
                f"Path {path!r} refused: it resolves (through a symlink) to {real}, "
                "outside the workspace"
            )
        return real

    def contains(self, path: str) -> bool:
        try:
            self.resolve(path)
        except WorkspaceEscapeError:
            return False
        return True

    def read_text(self, path: str) -> str | None:
        """The file's text, or None when it does not exist."""
        real = self.resolve(path)
        if not real.exists():
            return None
        if not real.is_file():
            raise PatchError(f"'{path}' is not a regular file")
        try:
            return real.read_bytes().decode("utf-8")
        except UnicodeDecodeError as exc:
            raise PatchError(f"'{path}' is not UTF-8 text; it cannot be patched") from exc

    def write_text(self, path: str, text: str) -> None:
        """Atomically replace (or create) the file, keeping an existing file's mode."""
        real = self.resolve(path)
        real.parent.mkdir(parents=True, exist_ok=True)
        mode = stat.S_IMODE(real.stat().st_mode) if real.exists() else _default_mode()
        fd, temp = tempfile.mkstemp(dir=real.parent, prefix=f".{real.name}.", suffix=".tmp")
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(text.encode("utf-8"))
                handle.flush()
                os.fsync(handle.fileno())
            os.chmod(temp, mode)
            os.replace(temp, real)
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(temp)
            raise

    def delete(self, path: str) -> None:
        self.resolve(path).unlink()


@functools.cache
def _default_mode() -> int:
    """What `open()` would give a new file (mkstemp's own 0600 is for secrets); read once,
    since reading the umask means setting it."""
    umask = os.umask(0)
    os.umask(umask)
    return 0o666 & ~umask
