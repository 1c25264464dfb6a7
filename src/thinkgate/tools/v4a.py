"""Parse V4A patches (the format of Codex's apply_patch) into typed operations.

Two entry points: `parse_patch` reads the full envelope (`*** Begin Patch` … `*** End Patch`),
as Codex-style harnesses send it; `parse_update_diff` / `parse_create_diff` read the per-file
body that GPT-5.1's `apply_patch_call.operation.diff` carries (no envelope).

Line model: a file's text is `text.split("\n")`, so a trailing newline is a final empty line.
That keeps "no newline at end of file" expressible without a special marker.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from thinkgate.tools.errors import PatchSyntaxError

BEGIN = "*** Begin Patch"
END = "*** End Patch"
ADD = "*** Add File: "
DELETE = "*** Delete File: "
UPDATE = "*** Update File: "
MOVE = "*** Move to: "
EOF_MARKER = "*** End of File"
HEADERS_HELP = (
    "Valid hunk headers: '*** Add File: {path}', '*** Delete File: {path}', "
    "'*** Update File: {path}'"
)


@dataclass(slots=True)
class Chunk:
    """One `@@` section: where it goes (anchors), what it replaces, and with what."""

    anchors: list[str] = field(default_factory=list)
    old: list[str] = field(default_factory=list)
    new: list[str] = field(default_factory=list)
    ops: list[tuple[str, str]] = field(default_factory=list)
    end_of_file: bool = False
    has_lines: bool = False


@dataclass(frozen=True, slots=True)
class AddFile:
    path: str
    content: str


@dataclass(frozen=True, slots=True)
class DeleteFile:
    path: str


@dataclass(frozen=True, slots=True)
class UpdateFile:
    path: str
    chunks: tuple[Chunk, ...]
    move_to: str | None = None


FileOp = AddFile | DeleteFile | UpdateFile


def split_lines(text: str) -> list[str]:
    """Diff text → lines; a CRLF diff loses its CRs; the final newline ends the last line."""
    if "\r\n" in text and text.count("\r\n") == text.count("\n"):
        text = text.replace("\r\n", "\n")
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    return lines


def parse_patch(text: str) -> list[FileOp]:
    """Parse a whole `*** Begin Patch` envelope into file operations, in order."""
    lines = _strip_heredoc(split_lines(text.strip()))
    if not lines or lines[0].strip() != BEGIN:
        raise PatchSyntaxError("The first line of the patch must be '*** Begin Patch'")
    if len(lines) < 2 or lines[-1].strip() != END:
        raise PatchSyntaxError("The last line of the patch must be '*** End Patch'")
    body = lines[1:-1]
    ops: list[FileOp] = []
    index = 0
    while index < len(body):
        line = body[index]
        if not line.strip():
            index += 1
            continue
        op, index = _parse_op(body, index)
        ops.append(op)
    if not ops:
        raise PatchSyntaxError("The patch contains no file operations. " + HEADERS_HELP)
    return ops


def parse_create_diff(diff: str) -> str:
    """The body of a `create_file` operation: every line starts with `+`; lines are joined
    by newlines (a final bare `+` line gives the file its trailing newline)."""
    lines = split_lines(diff)
    bad = [line for line in lines if not line.startswith("+")]
    if bad:
        raise PatchSyntaxError(
            f"Invalid Add File line {bad[0]!r}: every line of a new file must start with '+'"
        )
    return "\n".join(line[1:] for line in lines)


def parse_update_diff(diff: str, path: str = "<file>") -> list[Chunk]:
    """The body of an `update_file` operation: `@@` sections of ` `/`-`/`+` lines."""
    chunks = _parse_chunks(split_lines(diff), path)
    if not chunks:
        raise PatchSyntaxError(f"Update for '{path}' is empty: give at least one @@ section")
    return chunks


def _strip_heredoc(lines: list[str]) -> list[str]:
    """Models sometimes wrap the patch in `<<'EOF' … EOF` (a gpt-4.1 habit Codex tolerates)."""
    if len(lines) >= 4 and lines[0].strip().startswith("<<") and lines[-1].strip() == "EOF":
        return lines[1:-1]
    return lines


def _parse_op(body: list[str], index: int) -> tuple[FileOp, int]:
    header = body[index].rstrip()
    if header.startswith(ADD):
        path = _path(header, ADD)
        index += 1
        content: list[str] = []
        while index < len(body) and body[index].startswith("+"):
            content.append(body[index][1:] + "\n")
            index += 1
        return AddFile(path, "".join(content)), index
    if header.startswith(DELETE):
        return DeleteFile(_path(header, DELETE)), index + 1
    if header.startswith(UPDATE):
        path = _path(header, UPDATE)
        index += 1
        move_to = None
        if index < len(body) and body[index].startswith(MOVE):
            move_to = _path(body[index].rstrip(), MOVE)
            index += 1
        end = index
        while end < len(body) and not _is_file_header(body[end]):
            end += 1
        chunks = _parse_chunks(body[index:end], path)
        if not chunks and move_to is None:
            raise PatchSyntaxError(f"Update file hunk for path '{path}' is empty")
        return UpdateFile(path, tuple(chunks), move_to), end
    raise PatchSyntaxError(f"'{header}' is not a valid hunk header. {HEADERS_HELP}")


def _is_file_header(line: str) -> bool:
    return line.startswith((ADD, DELETE, UPDATE))


def _path(line: str, prefix: str) -> str:
    path = line[len(prefix) :].strip()
    if not path:
        raise PatchSyntaxError(f"'{line}' names no file path")
    return path


def _parse_chunks(lines: list[str], path: str) -> list[Chunk]:
    chunks: list[Chunk] = []
    current: Chunk | None = None
    for number, line in enumerate(lines, start=1):
        if line.startswith("@@"):
            anchor = line[2:].strip()
            if current is None or current.has_lines or current.end_of_file:
                current = Chunk()
                chunks.append(current)
            if anchor:
                current.anchors.append(anchor)
            continue
        if line.rstrip() == EOF_MARKER:
            if current is None or not current.has_lines:
                raise PatchSyntaxError(f"'{EOF_MARKER}' in '{path}' must follow a section's lines")
            current.end_of_file = True
            continue
        if current is None or current.end_of_file:
            if current is not None and not line.strip():
                continue
            current = Chunk()
            chunks.append(current)
        _add_line(current, line, path, number)
    for chunk in chunks:
        if not chunk.has_lines:
            raise PatchSyntaxError(f"A @@ section in '{path}' has no lines to change")
    return chunks


def _add_line(chunk: Chunk, line: str, path: str, number: int) -> None:
    kind, text = (line[0], line[1:]) if line else (" ", "")
    if kind == " ":
        chunk.old.append(text)
        chunk.new.append(text)
    elif kind == "-":
        chunk.old.append(text)
    elif kind == "+":
        chunk.new.append(text)
    else:
        raise PatchSyntaxError(
            f"Line {number} of the update to '{path}' is {line!r}: inside a @@ section every "
            "line must start with ' ' (context), '-' (remove) or '+' (add)"
        )
    chunk.ops.append((kind, text))
    chunk.has_lines = True
