"""Deltas: the small typed values a backend yields; only the assembler writes the wire.

A generation is `PromptDelta` first (the prompt was accepted: its token count is
known and it fits), then any number of `TextDelta`, then one `FinishDelta` with usage.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

FinishReason = Literal["stop", "length", "cancelled"]


@dataclass(slots=True, frozen=True)
class TokenLogprob:
    token: str
    logprob: float
    bytes: list[int]
    top: list[tuple[str, float, list[int]]] = field(default_factory=list)


@dataclass(slots=True, frozen=True)
class PromptDelta:
    input_tokens: int
    cached_tokens: int = 0
    kind: Literal["prompt"] = "prompt"


@dataclass(slots=True, frozen=True)
class TextDelta:
    text: str
    logprobs: tuple[TokenLogprob, ...] = ()
    kind: Literal["text"] = "text"


@dataclass(slots=True, frozen=True)
class FinishDelta:
    reason: FinishReason
    output_tokens: int
    reasoning_tokens: int = 0
    kind: Literal["finish"] = "finish"


Delta = PromptDelta | TextDelta | FinishDelta
