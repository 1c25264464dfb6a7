"""Identifiers in OpenAI's shapes: a prefix and 50 hex digits, `call_` + 24 alnum."""

from __future__ import annotations

import secrets
import string

_ALNUM = string.ascii_letters + string.digits


def new_id(prefix: str) -> str:
    """`resp_…`, `msg_…`, `rs_…`: prefix plus 50 hex digits, as the live API sends."""
    return f"{prefix}_{secrets.token_hex(25)}"


def new_call_id() -> str:
    return "call_" + _alnum(24)


def new_chat_id() -> str:
    return "chatcmpl-" + _alnum(29)


def _alnum(length: int) -> str:
    """`length` random letters and digits from one read of the system's randomness (not
    one per character: this is on every chat request). Drawing 8 spare bytes keeps the
    modulo bias below 2^-64."""
    value = int.from_bytes(secrets.token_bytes(length + 8), "big")
    chars = []
    for _ in range(length):
        value, index = divmod(value, len(_ALNUM))
        chars.append(_ALNUM[index])
    return "".join(chars)
