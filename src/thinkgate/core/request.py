"""The canonical request: what every endpoint is translated into before generation."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

Item = dict[str, Any]
# A response object in the Responses API's wire shape, as stored and sent.
ResponseDict = dict[str, Any]


@dataclass(slots=True, frozen=True)
class OutputFormat:
    """`text`, `json_object`, or `json_schema` (with its schema and strictness)."""

    type: Literal["text", "json_object", "json_schema"] = "text"
    name: str | None = None
    schema: dict[str, Any] | None = None
    strict: bool | None = None
    description: str | None = None

    def to_wire(self) -> dict[str, Any]:
        """The Responses API's flat echo form."""
        if self.type != "json_schema":
            return {"type": self.type}
        wire: dict[str, Any] = {"type": "json_schema", "name": self.name, "schema": self.schema}
        wire["description"] = self.description
        wire["strict"] = self.strict
        return wire


@dataclass(slots=True)
class Sampling:
    temperature: float = 1.0
    top_p: float = 1.0
    seed: int | None = None
    presence_penalty: float = 0.0
    frequency_penalty: float = 0.0
    stop: tuple[str, ...] = ()
    logprobs: bool = False
    top_logprobs: int = 0


@dataclass(slots=True)
class RequestContext:
    """What the server knows about a request beyond what its client sent: who sent it,
    how its surface names things, the stored state it resolves to, and what the pipeline
    decided for it. Kept apart from the wire fields so that `CanonicalRequest` reads as
    the API's request, and a stage that sets server state says so (`request.context.x`).
    `dataclasses.replace(request, ...)` shares the context: a copy that changes a context
    field gets its own, `replace(request, context=replace(request.context, ...))`."""

    # Who may see the stored response and its chain (api/deps.py `OwnerDep`); None: anyone.
    owner: str | None = None
    key_id: str | None = None  # the caller's key (per-key MCP permissions, docs/mcp.md)
    # Whether upstream failures name their channel and quote the upstream (an admin key or
    # a keyless server) or say only what kind of failure it was (a member key).
    upstream_detail: bool = True
    # The client's session headers (Codex's `session-id`, `x-codex-turn-state`...), passed
    # to Responses-native upstreams only (an allow-list: protocol.client_headers).
    session_headers: dict[str, str] = field(default_factory=dict)
    # How this request's surface names a parameter, for error messages (keys: "effort",
    # "input", "schema"; a missing key means the Responses name).
    param_names: dict[str, str] = field(default_factory=dict)
    # Sampling parameters the client set itself (GPT-5.1 refuses them above effort `none`).
    explicit_sampling: tuple[str, ...] = ()
    # Chat's legacy `max_tokens` set the output cap: refused for reasoning models (§7.3).
    legacy_max_tokens: bool = False
    # Items replayed from stored responses or the conversation (engine.pipeline `prepare`).
    history: list[Item] = field(default_factory=list)
    # A stored prompt template's messages (`prompt`, engine.prompt_templates): seen first
    # and never stored as input.
    prompt_items: list[Item] = field(default_factory=list)
    # Compaction items' summaries by their sealed `encrypted_content`, opened by the
    # pipeline (engine.compaction_codec): a prompt renderer never sees an unopened one.
    summaries: dict[str, str] = field(default_factory=dict)
    # Affinity routing (backends.upstream.affinity): the upstream channel that served
    # `previous_response_id`, and each upstream-sealed reasoning blob (as the upstream sent
    # it) by the channel that sealed it (None: sealed before channels were recorded).
    previous_channel: str | None = None
    sealed_by: dict[str, str | None] = field(default_factory=dict)
    # Whether reasoning items carry the raw thought (`reasoning_text`): open models yes,
    # like open-weight engines; `gpt-5.1` no, as OpenAI (engine.model_rules sets it).
    raw_reasoning: bool = True
    # Text the model's reply starts with (prefilled, not generated): the reasoning layer
    # continues a thought or asks for the answer after it. Backends append it to the prompt.
    assistant_prefix: str = ""
    # The price keys of the hosted tools this request may call (run here or passed
    # through; set by the pipeline): the budget reserves their worst case up front.
    hosted_price_keys: tuple[str, ...] = ()


@dataclass(slots=True)
class CanonicalRequest:
    """Responses-shaped: what the client asked for (`context`: what the server knows
    about it, `RequestContext`)."""

    model: str
    input_items: list[Item]
    instructions: str | None = None
    max_output_tokens: int | None = None
    sampling: Sampling = field(default_factory=Sampling)
    output_format: OutputFormat = field(default_factory=OutputFormat)
    verbosity: str = "medium"
    reasoning_effort: str = "none"
    reasoning_summary: str | None = None
    # What the model may call (flat: `protocol.tool_catalog.callable_tools`).
    tools: list[dict[str, Any]] = field(default_factory=list)
    # The tools as the client declared them (namespaces, deferred, hosted), echoed in the
    # response; None: `tools` is all there is (chat completions)
    declared_tools: list[dict[str, Any]] | None = None
    tool_choice: str | dict[str, Any] = "auto"
    parallel_tool_calls: bool = True
    max_tool_calls: int | None = None
    truncation: Literal["auto", "disabled"] = "disabled"
    store: bool = True
    metadata: dict[str, str] = field(default_factory=dict)
    previous_response_id: str | None = None
    prompt_cache_key: str | None = None
    prompt_cache_retention: str | None = None
    safety_identifier: str | None = None
    user: str | None = None
    service_tier: str | None = None
    include: tuple[str, ...] = ()
    include_obfuscation: bool = True
    # Events are read as they come (`stream: true`, a background job one may follow);
    # False: the answer is read whole
    streamed: bool = False
    background: bool = False
    # `conversation` on the request: its items come first; this turn's are appended after.
    conversation_id: str | None = None
    # `context_management` (server-side compaction): 0 = the model's own threshold; None:
    # off (engine.context_management).
    compact_threshold: int | None = None
    # `prompt` (a stored template, engine.prompt_templates): the echo of what was used
    # (id, version, variables); its messages are `context.prompt_items`.
    prompt: dict[str, Any] | None = None
    context: RequestContext = field(default_factory=RequestContext)

    @property
    def all_items(self) -> list[Item]:
        """The prompt template's messages, the history, then this turn's input: the whole
        conversation the model sees."""
        context = self.context
        return [*context.prompt_items, *context.history, *self.input_items]
