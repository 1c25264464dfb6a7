"""The request headers real clients send to keep a session together, by an allow-list.

Codex names its session and turn in headers (codex-rs `codex-api`: `session-id`, the
older `session_id`, `thread-id`, `x-client-request-id`, `x-codex-window-id`,
`x-codex-turn-state`, `x-codex-parent-thread-id`, `x-openai-subagent`; other clients
send `x-session-id`); a Responses-native upstream (OpenAI) uses them for cache locality
and sticky routing, so they are passed on to such upstreams, and to nothing else (our
own router keys a session's channel on them too: backends.upstream.affinity). Only these
names travel: never `Authorization`, cookies, or anything not on the list (docs/clients.md).
"""

from __future__ import annotations

from collections.abc import Iterable

SESSION_HEADERS = frozenset(
    {
        "session-id",
        "session_id",
        "thread-id",
        "x-client-request-id",
        "x-codex-window-id",
        "x-codex-turn-state",
        "x-codex-parent-thread-id",
        "x-openai-subagent",
        "x-session-id",
    }
)
MAX_VALUE = 1024  # characters; a longer value is not a session id: left out


def session_headers(headers: Iterable[tuple[str, str]]) -> dict[str, str]:
    """The allowed headers among `headers` (name, value), names lower-cased. A value that
    could not be written back into an HTTP/1.1 header line unchanged is left out."""
    kept: dict[str, str] = {}
    for name, value in headers:
        lowered = name.lower()
        if lowered in SESSION_HEADERS and _clean(value):
            kept[lowered] = value
    return kept


def _clean(value: str) -> bool:
    return (
        0 < len(value) <= MAX_VALUE
        and value.isascii()
        and all(ch == "\t" or " " <= ch < "\x7f" for ch in value)
    )
