"""Codex's turn state (`x-codex-turn-state`), which travels both ways.

The server answers a turn's first request with an opaque sticky-routing token in this
reply header; Codex keeps the first it gets in a turn and repeats it as a request header
on every later request of that turn, never into the next turn (codex-rs `core/src/client.rs`,
`ModelClientSession::turn_state`, a `OnceLock` filled from the HTTP reply's headers or the
WebSocket handshake's). thinkgate passes a Responses-native upstream's token back; with
no upstream token it echoes the client's own and mints none (one process, nothing to pin).
"""

from __future__ import annotations

from collections.abc import Mapping

from thinkgate.protocol.client_headers import session_headers

TURN_STATE = "x-codex-turn-state"


def reply_turn_state(headers: Mapping[str, str]) -> str | None:
    """An upstream's turn state from its reply `headers` (names lower-case), if usable."""
    value = headers.get(TURN_STATE)
    if value is None:
        return None
    return session_headers([(TURN_STATE, value)]).get(TURN_STATE)  # the same value rules


def turn_state_reply(upstream: str | None, request: Mapping[str, str]) -> str | None:
    """What thinkgate answers with: the upstream's token, else the client's own (its
    session headers, already checked), else nothing."""
    return upstream or request.get(TURN_STATE)
