"""What a stream delta carries besides its text, the same on both endpoints: log
probabilities in the wire's shape, and the `obfuscation` padding OpenAI adds to each delta
event so that an event's size does not give away its token's length."""

from __future__ import annotations

import random
from typing import Any

from thinkgate.core.deltas import TokenLogprob


def logprob_wire(logprob: TokenLogprob) -> dict[str, Any]:
    return {
        "token": logprob.token,
        "bytes": logprob.bytes,
        "logprob": logprob.logprob,
        "top_logprobs": [
            {"token": token, "bytes": raw, "logprob": value} for token, value, raw in logprob.top
        ],
    }


def _paddings() -> tuple[str, ...]:
    digits = f"{random.getrandbits(64):016x}"
    return tuple(digits[:length] for length in range(1, 17))


PADDINGS = _paddings()  # 16: a length is drawn with `padding_index()`


def padding_index() -> int:
    return random.getrandbits(4)


def obfuscation_padding() -> str:
    """1 to 16 characters of padding, the length drawn per delta: the length is what hides
    the delta's size (the characters hide nothing, so they are drawn once; this runs per
    delta)."""
    return PADDINGS[padding_index()]
