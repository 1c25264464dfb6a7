"""The backend Protocol: everything above it is tested for real against any backend."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Protocol

from thinkgate.engine.deltas import Delta
from thinkgate.engine.request import CanonicalRequest

ALL_EFFORTS = ("none", "minimal", "low", "medium", "high", "xhigh")


@dataclass(slots=True, frozen=True)
class Capabilities:
    context_window: int
    reasoning_efforts: tuple[str, ...] = ALL_EFFORTS
    structured_outputs: bool = True
    image_input: bool = False
    owned_by: str = "thinkgate"


@dataclass(slots=True, frozen=True)
class GenerationPlan:
    """What the engine decided before generation: the output cap and the thinking budget."""

    max_output_tokens: int | None = None
    reasoning_budget: int = 0


class Backend(Protocol):
    name: str

    def capabilities(self) -> Capabilities: ...

    async def count_tokens(self, request: CanonicalRequest) -> int:
        """Input tokens of the prompt this request would send, with the model's tokenizer."""
        ...

    def generate(self, request: CanonicalRequest, plan: GenerationPlan) -> AsyncIterator[Delta]:
        """Yield `PromptDelta` first (or raise a client error), then text, then `FinishDelta`.

        Closing the iterator cancels the generation.
        """
        ...

    async def aclose(self) -> None: ...
