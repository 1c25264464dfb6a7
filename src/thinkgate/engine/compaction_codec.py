"""The `encrypted_content` of a `compaction` item: the summary a compaction wrote.

OpenAI's is encrypted for its own models; ours is an opaque, versioned envelope
(URL-safe base64 of JSON) that only this server reads back. It is not a secret:
it holds the caller's own conversation, summarised. See README "Compaction".
"""

from __future__ import annotations

import base64
import binascii

import orjson

_PREFIX = "tgc1."


def encode_summary(summary: str) -> str:
    payload = orjson.dumps({"summary": summary})
    return _PREFIX + base64.urlsafe_b64encode(payload).decode("ascii")


def decode_summary(content: str) -> str | None:
    """The summary, or None when `content` was not made by this server."""
    if not content.startswith(_PREFIX):
        return None
    try:
        payload = orjson.loads(base64.urlsafe_b64decode(content[len(_PREFIX) :].encode()))
    except (binascii.Error, ValueError, orjson.JSONDecodeError):
        return None
    summary = payload.get("summary") if isinstance(payload, dict) else None
    return summary if isinstance(summary, str) else None
