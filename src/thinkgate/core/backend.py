"""The backend Protocol: everything above it is tested for real against any backend."""

from __future__ import annotations

from collections.abc import AsyncGenerator
from dataclasses import dataclass, field
from typing import Protocol

from thinkgate.core.deltas import Delta
from thinkgate.core.request import CanonicalRequest

ALL_EFFORTS = ("none", "minimal", "low", "medium", "high", "xhigh")


@dataclass(slots=True, frozen=True)
class Capabilities:
    context_window: int
    reasoning_efforts: tuple[str, ...] = ALL_EFFORTS
    structured_outputs: bool = True
    image_input: bool = False
    owned_by: str = "thinkgate"
    # The longest answer it can write (None: not known; /v1/models publishes it).
    max_output_tokens: int | None = None
    # The output cap of a request that sets none (None: only the window limits it).
    default_max_output_tokens: int | None = None
    # What reasoning budgets are a share of (None: `context_window`): the embedded model's
    # trained context, so a window stretched past it does not stretch the budgets too.
    reasoning_window: int | None = None
    # The backend reasons by itself (an upstream given `reasoning_effort`): the reasoning
    # layer passes the request straight through instead of scaffolding a thinking pass.
    native_reasoning: bool = False
    # The first `PromptDelta` is an estimate made before anything is sent (an upstream);
    # a second one follows once the upstream has answered. Admission (limits, budget) is
    # decided between the two, so a refused request never reaches the upstream.
    confirms_prompt: bool = False
    # The backend's upstream runs hosted tools itself (`hosted_tools = "passthrough"` on
    # every channel serving the model): they are sent as declared, not run by thinkgate.
    runs_hosted_tools: bool = False


@dataclass(slots=True)
class UsageMeter:
    """Tokens produced so far, counted by the backend as it goes.

    The source of truth when a generation is cut short (client gone): the tokens it
    computed are counted even if their Deltas were never delivered.
    """

    output_tokens: int = 0
    reasoning_tokens: int = 0
    # the upstream channel that served (or, failing, was tried last): the ledger's `channel`
    channel: str | None = None
    # the Responses-native upstream's `x-codex-turn-state` reply header (Codex's sticky-
    # routing token), passed back to the client (protocol.client_headers)
    turn_state: str | None = None


@dataclass(slots=True, frozen=True)
class GenerationPlan:
    """What the engine decided before generation: the output cap and the thinking budget."""

    max_output_tokens: int | None = None
    reasoning_budget: int = 0
    meter: UsageMeter = field(default_factory=UsageMeter)
    # Nobody reads the answer as it comes (the client asked for it whole): a backend may
    # hand over the text it has at once as one Delta instead of a Delta per token.
    whole_answer: bool = False


class Backend(Protocol):
    name: str

    def capabilities(self) -> Capabilities: ...

    async def count_tokens(self, request: CanonicalRequest) -> int:
        """Input tokens of the prompt this request would send, with the model's tokenizer."""
        ...

    def generate(
        self, request: CanonicalRequest, plan: GenerationPlan
    ) -> AsyncGenerator[Delta, None]:
        """Yield `PromptDelta` first (or raise a client error), then text, then `FinishDelta`
        (`Capabilities.confirms_prompt`: a second `PromptDelta` once the request is sent).

        Closing the iterator cancels the generation.
        """
        ...

    async def aclose(self) -> None: ...
