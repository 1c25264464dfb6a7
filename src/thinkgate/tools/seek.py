"""Find where a hunk goes and apply it: exact match first, then ever more tolerant ones.

Like Codex's seek_sequence: exact → trailing whitespace ignored → surrounding whitespace
ignored → typographic punctuation folded to ASCII. A stricter pass always wins over a
looser one, so a patch written from the file's real text lands exactly where it was meant.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence

from thinkgate.tools.errors import ContextNotFoundError
from thinkgate.tools.v4a import Chunk

_FOLD = str.maketrans(
    {
        "\u2010": "-",
        "\u2011": "-",
        "\u2012": "-",
        "\u2013": "-",
        "\u2014": "-",
        "\u2015": "-",
        "\u2212": "-",
        "\u2018": "'",
        "\u2019": "'",
        "\u201a": "'",
        "\u201b": "'",
        "\u201c": '"',
        "\u201d": '"',
        "\u201e": '"',
        "\u201f": '"',
        "\u00a0": " ",
        "\u2002": " ",
        "\u2003": " ",
        "\u2009": " ",
        "\u202f": " ",
        "\u3000": " ",
    }
)

_UNIFIED_HEADER = re.compile(r"-\d+(,\d+)? \+\d+(,\d+)? @@")
_UNIFIED_HINT = (
    " This looks like a unified-diff line-number header: V4A has no line numbers; write a"
    " bare '@@' or '@@ ' followed by a line of the file."
)

_PASSES: tuple[Callable[[str], str], ...] = (
    lambda s: s,
    str.rstrip,
    str.strip,
    lambda s: s.strip().translate(_FOLD),
)


def seek_sequence(
    lines: Sequence[str], pattern: Sequence[str], start: int, *, end_of_file: bool = False
) -> int | None:
    """Index where `pattern` occurs in `lines` at or after `start`, or None.

    With `end_of_file` the pattern must end the file (a final empty line, the trailing
    newline, may follow it)."""
    size = len(pattern)
    if size == 0:
        return start
    if size > len(lines):
        return None
    if end_of_file:
        ends = [len(lines) - size]
        if lines and lines[-1] == "" and len(lines) - 1 >= size:
            ends.append(len(lines) - 1 - size)
        candidates: Sequence[int] = [i for i in ends if i >= start]
    else:
        candidates = range(start, len(lines) - size + 1)
    for norm in _PASSES:
        wanted = [norm(p) for p in pattern]
        for i in candidates:
            if all(norm(lines[i + k]) == wanted[k] for k in range(size)):
                return i
    return None


def apply_chunks(text: str, chunks: Sequence[Chunk], path: str) -> str:
    """Apply update sections to a file's text, keeping its CRLF or LF newlines."""
    crlf = "\r\n" in text and text.count("\r\n") == text.count("\n")
    lines = (text.replace("\r\n", "\n") if crlf else text).split("\n")
    replacements = _locate(lines, chunks, path)
    for index, old_len, new in reversed(replacements):
        lines[index : index + old_len] = new
    result = "\n".join(lines)
    return result.replace("\n", "\r\n") if crlf else result


def _locate(
    lines: list[str], chunks: Sequence[Chunk], path: str
) -> list[tuple[int, int, list[str]]]:
    replacements: list[tuple[int, int, list[str]]] = []
    cursor = 0
    for number, chunk in enumerate(chunks, start=1):
        for anchor in chunk.anchors:
            found = seek_sequence(lines, [anchor], cursor)
            if found is None:
                hint = _UNIFIED_HINT if _UNIFIED_HEADER.match(anchor) else ""
                raise ContextNotFoundError(
                    f"Section {number} of the update to '{path}': the @@ anchor line "
                    f"{anchor!r} was not found at or after line {cursor + 1}. Anchors must "
                    f"copy a line of the file (e.g. a def or class line) exactly.{hint}"
                )
            cursor = found + 1
        if not chunk.old:
            at = len(lines) - 1 if lines[-1] == "" and not chunk.anchors else len(lines)
            at = cursor if chunk.anchors else at
            replacements.append((at, 0, list(chunk.new)))
            continue
        ops, old = chunk.ops, chunk.old
        found = seek_sequence(lines, old, cursor, end_of_file=chunk.end_of_file)
        if found is None and len(old) > 1 and old[-1] == "":
            # a blank line closing a section is often just spacing, not context (as in Codex)
            last = max(i for i, (kind, _) in enumerate(ops) if kind != "+")
            ops, old = ops[:last] + ops[last + 1 :], old[:-1]
            found = seek_sequence(lines, old, cursor, end_of_file=chunk.end_of_file)
        if found is None:
            raise ContextNotFoundError(_missing_context(number, path, chunk, cursor))
        replacements.append((found, len(old), _rebuild(ops, lines[found : found + len(old)])))
        cursor = found + len(old)
    return replacements


def _rebuild(ops: Sequence[tuple[str, str]], matched: Sequence[str]) -> list[str]:
    """The section's new lines, keeping the file's own text for context lines (a tolerant
    match must not rewrite the whitespace of lines the patch did not change)."""
    new: list[str] = []
    position = 0
    for kind, text in ops:
        if kind == "+":
            new.append(text)
            continue
        if kind == " ":
            new.append(matched[position])
        position += 1
    return new


def _missing_context(number: int, path: str, chunk: Chunk, cursor: int) -> str:
    where = "at the end of the file" if chunk.end_of_file else f"at or after line {cursor + 1}"
    shown = "\n".join(chunk.old)
    return (
        f"Section {number} of the update to '{path}': these context/removed lines were not "
        f"found {where} (sections must be in file order and copy the file's lines):\n{shown}"
    )
