"""How a thought is written into the model's reply: the scaffold or the model's own tags.

Both feed the same think-then-answer loop (`reasoning.scaffold`); only the text around
the thought differs:

- `ScaffoldFormat` (models without native thinking, SmolLM2): an instruction to reason,
  the reply prefilled with `Reasoning:`, the thought ended by `Answer:`.
- `NativeFormat` (chat templates with `<think>`-style tags): the reply opened with the
  open tag; the model thinks until it writes the close tag or reaches the budget, and
  then the server closes the block itself (close tag + the template's transition) and
  the answer is generated after it. This is budget forcing as in s1 (Muennighoff et
  al., 2025): the close is forced at the budget; no "Wait" extension.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

THINK_INSTRUCTION = (
    "Think step by step. Write your reasoning first, then write 'Answer:' followed by "
    "the final answer."
)
THINK_PREFIX = "Reasoning:"
ANSWER_MARKER = "Answer:"


class ThoughtFormat(Protocol):
    @property
    def instructions(self) -> str:
        """Appended to the system text of every pass ("" when the template needs none)."""
        ...

    @property
    def think_stop(self) -> tuple[str, ...]:
        """Where the model ends its thought by itself."""
        ...

    @property
    def answer_stop(self) -> tuple[str, ...]:
        """Cut the answer if the model starts a second thought."""
        ...

    def think_prefix(self, thought: str) -> str:
        """The reply so far while thinking (the thought left open)."""
        ...

    def answer_prefix(self, thought: str) -> str:
        """The reply so far when answering (the thought closed)."""
        ...


@dataclass(slots=True, frozen=True)
class ScaffoldFormat:
    instructions: str = THINK_INSTRUCTION
    think_stop: tuple[str, ...] = (ANSWER_MARKER,)
    answer_stop: tuple[str, ...] = (THINK_PREFIX,)

    def think_prefix(self, thought: str) -> str:
        return THINK_PREFIX + thought

    def answer_prefix(self, thought: str) -> str:
        if not thought:
            return ANSWER_MARKER
        return f"{THINK_PREFIX} {thought.strip()}\n{ANSWER_MARKER}"


@dataclass(slots=True, frozen=True)
class NativeFormat:
    """`open`/`close` are the template's tags; `transition` follows the close tag."""

    open: str = "<think>\n"
    close: str = "</think>"
    transition: str = "\n\n"
    instructions: str = ""

    @property
    def think_stop(self) -> tuple[str, ...]:
        return (self.close,)

    @property
    def answer_stop(self) -> tuple[str, ...]:
        return (self.open.strip(),)

    def think_prefix(self, thought: str) -> str:
        return self.open + thought

    def answer_prefix(self, thought: str) -> str:
        body = thought.rstrip()
        if body and not self.close.startswith("\n"):
            body += "\n"
        return f"{self.open}{body}{self.close}{self.transition}"
