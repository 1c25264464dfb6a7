"""Write V4A: the update diff that turns one text into another (difflib underneath).

The diff must apply back exactly through our own parser and applier, whose search finds the
first match at or after the end of the previous section. So each section's leading context
grows until its first match from that cursor is the intended place; growing it back to the
cursor always succeeds, because the section then starts right where the search starts.
"""

from __future__ import annotations

import difflib

from thinkgate.tools.seek import seek_sequence

CONTEXT = 3


def write_update_diff(old: str, new: str, context: int = CONTEXT) -> str:
    """The `update_file` diff body from `old` to `new` ("" when they are equal).

    When `old` uses CRLF the applier works on LF lines and restores CRLF, so the diff is
    written between the LF-normalised texts (`new` is then expected to use CRLF too)."""
    if old == new:
        return ""
    if _is_crlf(old):
        old, new = old.replace("\r\n", "\n"), new.replace("\r\n", "\n")
    a, b = old.split("\n"), new.split("\n")
    matcher = difflib.SequenceMatcher(None, a, b, autojunk=False)
    out: list[str] = []
    cursor = 0
    for group in matcher.get_grouped_opcodes(context):
        start, end = group[0][1], group[-1][2]
        while start > cursor and seek_sequence(a, a[start:end], cursor) != start:
            start -= 1
        out.append("@@")
        out.extend(" " + line for line in a[start : group[0][1]])
        for tag, i1, i2, j1, j2 in group:
            if tag == "equal":
                out.extend(" " + line for line in a[i1:i2])
                continue
            out.extend("-" + line for line in a[i1:i2])
            out.extend("+" + line for line in b[j1:j2])
        cursor = end
    return "\n".join(out) + "\n"


def write_patch(path: str, old: str | None, new: str | None) -> str:
    """A full `*** Begin Patch` envelope for one file (None means absent)."""
    if old is None and new is None:
        raise ValueError("a patch needs an old or a new text")
    if new is None:
        body = f"*** Delete File: {path}\n"
    elif old is None:
        if new and not new.endswith("\n"):
            raise ValueError("Add File content always ends with a newline in V4A")
        lines = new[:-1].split("\n") if new else []
        body = f"*** Add File: {path}\n" + "".join(f"+{line}\n" for line in lines)
    else:
        body = f"*** Update File: {path}\n" + write_update_diff(old, new)
    return "*** Begin Patch\n" + body + "*** End Patch\n"


def _is_crlf(text: str) -> bool:
    return "\r\n" in text and text.count("\r\n") == text.count("\n")
