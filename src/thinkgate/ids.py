"""Identifiers in OpenAI's shapes: a prefix and 50 hex digits, `call_` + 24 alnum."""

from __future__ import annotations

import secrets
import string

_ALNUM = string.ascii_letters + string.digits


def new_id(prefix: str) -> str:
    """`resp_…`, `msg_…`, `rs_…`: prefix plus 50 hex digits, as the live API sends."""
    return f"{prefix}_{secrets.token_hex(25)}"


def new_call_id() -> str:
    return "call_" + "".join(secrets.choice(_ALNUM) for _ in range(24))


def new_chat_id() -> str:
    return "chatcmpl-" + "".join(secrets.choice(_ALNUM) for _ in range(29))
