"""The backend Protocol: everything above it is tested for real against any backend."""

from __future__ import annotations

from collections.abc import AsyncGenerator, AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Protocol

from thinkgate.core.deltas import Delta, PromptDelta
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
    # The backend's upstream runs hosted tools itself (`hosted_tools = "passthrough"` on
    # every channel serving the model): they are sent as declared, not run by thinkgate.
    runs_hosted_tools: bool = False
    # The model's own sampling where a request sets none (an embedded model's defaults,
    # backends.sampling_defaults); None: OpenAI's 1.0, or the upstream's own.
    default_temperature: float | None = None
    default_top_p: float | None = None
    # Whether clients should ask it for parallel tool calls (`/v1/models`
    # `supports_parallel_tool_calls`, which Codex turns into `parallel_tool_calls`); a
    # request that asks for them is served either way.
    parallel_tool_calls: bool = True


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


Batches = AsyncGenerator[Sequence[Delta], None]  # a stream: one batch of Deltas per read


@dataclass(slots=True, frozen=True)
class Health:
    """Whether a backend can serve now (the readiness check's `engine` line)."""

    ready: bool
    detail: str


@dataclass(slots=True, frozen=True)
class ChannelStatus:
    """One upstream channel behind a backend, as /metrics and the console show it."""

    name: str
    kind: str
    upstream_model: str
    breaker: str  # closed, half_open, open
    cooling_down: bool
    base_url: str
    priority: int


class Prepared(Protocol):
    """One generation checked and sized, nothing sent or generated yet (`Backend.prepare`).

    The walk is explicit: the pipeline admits the request on `prompt` (limits, budget),
    then `send`s it, then reads `stream`; a refused request is only dropped (`aclose`),
    so it never reaches an upstream.
    """

    @property
    def prompt(self) -> PromptDelta:
        """The prompt's size: counted (embedded), or an estimate (an upstream's tokenizer is
        remote; its own count arrives with the usage)."""
        ...

    async def send(self) -> None:
        """Commit: an upstream's request goes out here, with failover between channels, so
        that every channel failing is still a plain HTTP error. The embedded engine has
        nothing to send (it takes its turn when streamed)."""
        ...

    def stream(self) -> Batches:
        """Text, reasoning, tool calls …, then `FinishDelta`, in batches: one per read
        (an upstream's network read, a token of the embedded engine); read once, after
        `send`. Closing it cancels the generation."""
        ...

    async def aclose(self) -> None:
        """Let go of what `send` opened when the stream was never read (the client left
        first); after the stream ran or was closed, nothing is left to do."""
        ...


@dataclass(slots=True)
class Piped:
    """`inner` with its stream passed through `through` (a filter of Deltas)."""

    inner: Prepared
    through: Callable[[Batches], Batches]

    @property
    def prompt(self) -> PromptDelta:
        return self.inner.prompt

    async def send(self) -> None:
        await self.inner.send()

    def stream(self) -> Batches:
        return self.through(self.inner.stream())

    async def aclose(self) -> None:
        await self.inner.aclose()


class Backend(Protocol):
    name: str

    def capabilities(self) -> Capabilities: ...

    async def count_tokens(self, request: CanonicalRequest) -> int:
        """Input tokens of the prompt this request would send, with the model's tokenizer."""
        ...

    async def prepare(self, request: CanonicalRequest, plan: GenerationPlan) -> Prepared:
        """Check the request and size its prompt (or raise a client error, such as a prompt
        longer than the window); nothing is sent or generated yet."""
        ...

    async def load(self) -> None:
        """Open what the first request would otherwise wait for (the embedded model)."""
        ...

    def health(self) -> Health: ...

    def queue_depth(self) -> int:
        """Generations waiting for their turn (the embedded engine's /metrics queue)."""
        ...

    def channels(self) -> Sequence[ChannelStatus]:
        """The upstream channels serving it, in routing order (none: the embedded engine)."""
        ...

    async def aclose(self) -> None: ...


@asynccontextmanager
async def sent(
    backend: Backend, request: CanonicalRequest, plan: GenerationPlan
) -> AsyncIterator[Batches]:
    """A generation nobody admits on its own (a hidden pass of an admitted request):
    prepared, sent, its stream handed over, everything closed on the way out."""
    prepared = await backend.prepare(request, plan)
    try:
        await prepared.send()
        deltas = prepared.stream()
        try:
            yield deltas
        finally:
            await deltas.aclose()
    finally:
        await prepared.aclose()


async def generation(
    backend: Backend, request: CanonicalRequest, plan: GenerationPlan
) -> AsyncGenerator[Delta, None]:
    """One generation end to end with no admission between (probes, benchmarks): its
    `PromptDelta`, then the stream's Deltas one by one. Closing it cancels the generation."""
    prepared = await backend.prepare(request, plan)
    try:
        yield prepared.prompt
        await prepared.send()
        batches = prepared.stream()
        try:
            async for batch in batches:
                for delta in batch:
                    yield delta
        finally:
            await batches.aclose()
    finally:
        await prepared.aclose()
