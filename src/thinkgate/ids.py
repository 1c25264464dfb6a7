"""Identifiers in OpenAI's shapes: a prefix and 50 hex digits, `call_` + 24 alnum."""

from __future__ import annotations

import base64
import os
import secrets
import socket


def new_id(prefix: str) -> str:
    """`resp_…`, `msg_…`, `rs_…`: prefix plus 50 hex digits, as the live API sends."""
    return f"{prefix}_{secrets.token_hex(25)}"


def new_call_id() -> str:
    return "call_" + _alnum(24)


def new_chat_id() -> str:
    return "chatcmpl-" + _alnum(29)


def _alnum(length: int) -> str:
    """`length` random letters and digits, uniform: base64 of system randomness with its two
    symbols that are not alphanumeric dropped (each character stays uniform over the other
    62). A few C calls, not a loop of divisions in Python: this is on every chat request."""
    while True:
        text = base64.b64encode(os.urandom(length * 3 // 4 + 8)).translate(None, b"+/=")
        if len(text) >= length:  # short only when very many symbols were dropped
            return text[:length].decode()


def replica_id(configured: str | None) -> str:
    """This process's name as a job owner: the configured one, else host, pid and a
    random tag (two processes on one host, or one restarted, never share it)."""
    if configured:
        return configured
    return f"{socket.gethostname()}-{os.getpid()}-{secrets.token_hex(3)}"
