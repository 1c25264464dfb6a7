"""The upstream services in the config file: `[[channels]]` (providers thinkgate fronts)
and `[web_search]` (the hosted search provider), with the adaptive-reasoning thresholds a
channel or a local model may set. Re-exported by `thinkgate.config`."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator


class AdaptiveThresholds(BaseModel):
    """`adaptive_thresholds = {skip_confidence = 0.9, stop_confidence = 0.5, agree = 2}`."""

    model_config = ConfigDict(extra="forbid")

    skip_confidence: float = Field(ge=0, le=1.01)  # 1.01: never skip thinking
    stop_confidence: float = Field(ge=0, le=1.01)  # 1.01: never stop early
    agree: int = Field(default=2, ge=2, le=8)


class ChannelTimeouts(BaseModel):
    """Seconds: to connect, to the upstream's first byte (failover is allowed until
    then), and for the whole generation."""

    model_config = ConfigDict(extra="forbid")

    connect: float = Field(default=5.0, gt=0)
    first_byte: float = Field(default=60.0, gt=0)
    total: float = Field(default=600.0, gt=0)
    idle: float = Field(default=30.0, ge=0)  # a keep-alive connection idle longer is closed


class ChannelModelLimits(BaseModel):
    """What one public model of a channel can take and give (`[channels.model_limits."name"]`),
    published by `/v1/models` so clients (Codex) size their prompts from it."""

    model_config = ConfigDict(extra="forbid")

    context_window: int | None = Field(default=None, ge=256)
    max_output_tokens: int | None = Field(default=None, ge=1)
    input_modalities: list[Literal["text", "image"]] | None = Field(default=None, min_length=1)


class ChannelConfig(BaseModel):
    """An upstream provider (`[[channels]]`): OpenAI, a reseller, vLLM, SGLang, llama.cpp...

    The API key is read at boot from the environment variable `api_key_env` names,
    so it never sits in the config file or the database.
    """

    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.:-]+$")
    kind: Literal["openai-chat", "openai-responses"]
    base_url: str = Field(pattern=r"^https?://")
    api_key_env: str | None = None
    models: dict[str, str] = Field(default_factory=dict)  # public name → upstream name
    # Embedding models it serves at `{base_url}/embeddings` (public name → upstream name)
    embeddings: dict[str, str] = Field(default_factory=dict)
    priority: int = 1  # lower is tried first
    weight: int = Field(default=1, ge=1)  # among channels of one priority
    timeouts: ChannelTimeouts = Field(default_factory=ChannelTimeouts)
    max_concurrency: int = Field(default=64, ge=1)
    context_window: int = Field(default=131072, ge=256)
    max_output_tokens: int | None = Field(default=None, ge=1)  # None: not published
    # Per public model, overriding the two above (and the input modalities, text + image).
    model_limits: dict[str, ChannelModelLimits] = Field(default_factory=dict)
    breaker_failures: int = Field(default=5, ge=1)  # consecutive failures that open it
    breaker_cooldown: float = Field(default=30.0, ge=0)  # seconds before a half-open probe
    # The longest a reply is polled for before the process sleeps, in µs (adaptive: only
    # while this channel's replies come that fast; 0 = never, the default). See
    # net.short_waits: an opt-in for hosts where it is measured to help.
    busy_poll_us: int = Field(default=0, ge=0, le=100_000)
    # The HTTP client (backends/upstream/transport.py): "http1" (lean, the default) or
    # "httpx"; behind a proxy (HTTPS_PROXY / HTTP_PROXY, not NO_PROXY) httpx either way.
    transport: Literal["http1", "httpx"] = "http1"
    # TLS: trust this CA (PEM) instead of the system's; present this client certificate
    # (PEM; its key in the same file or in `client_key`).
    ca_file: Path | None = None
    client_cert: Path | None = None
    client_key: Path | None = None
    # Quirks of the engine behind the channel: "llama-cpp-python" (its server takes
    # `max_tokens` and a schema inside `response_format: json_object`).
    compat: Literal["openai", "llama-cpp-python"] = "openai"
    # Thinking-token caps per effort for the upstream's own reasoning (default: a share
    # of `context_window`); at the cap the stream is cut and the answer forced
    # (reasoning.upstream_budget).
    reasoning_budgets: dict[
        Literal["minimal", "low", "medium", "high", "xhigh"], Annotated[int, Field(ge=1)]
    ] = Field(default_factory=dict)
    # Probe the upstream's answer during its thought and close the thought when probes
    # agree (reasoning.policy); off by default: each probe is a billed upstream request.
    adaptive_reasoning: bool = False
    adaptive_thresholds: AdaptiveThresholds | None = None
    # The tiers this upstream has, by the client's `service_tier` (`{fast = "priority"}`):
    # only a tier named here is sent, as its value. None: OpenAI's own `default`, `flex`,
    # `priority`, `scale` pass as sent, nothing else (docs/clients.md "Service tiers").
    service_tiers: (
        dict[
            Literal["auto", "default", "flex", "scale", "priority", "fast", "ultrafast"],
            Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.:-]+$")],
        ]
        | None
    ) = None

    # Hosted tools (web_search, mcp, code_interpreter): "emulate" runs them in thinkgate's
    # own loop, the model offered functions; "passthrough" (Responses-native upstreams that
    # run them, as OpenAI does) sends them as declared and hands back the upstream's items
    # (docs/hosted-tools.md "Pass-through").
    hosted_tools: Literal["emulate", "passthrough"] = "emulate"

    @model_validator(mode="after")
    def _limits_name_served_models(self) -> ChannelConfig:
        if not self.models and not self.embeddings:
            raise ValueError("a channel serves at least one model: set `models` or `embeddings`")
        unknown = sorted(set(self.model_limits) - set(self.models))
        if unknown:
            raise ValueError(f"model_limits names models this channel does not serve: {unknown}")
        if self.hosted_tools == "passthrough" and self.kind != "openai-responses":
            raise ValueError(
                'hosted_tools = "passthrough" needs kind = "openai-responses": Chat Completions '
                "has no hosted tools"
            )
        return self

    def limits_for(self, model: str) -> tuple[int, int | None, list[str]]:
        """(context window, max output tokens, input modalities) of one public model."""
        own = self.model_limits.get(model) or ChannelModelLimits()
        return (
            own.context_window or self.context_window,
            own.max_output_tokens or self.max_output_tokens,
            list(own.input_modalities or ("text", "image")),
        )


class WebSearchConfig(BaseModel):
    """`[web_search]`: the provider the hosted `web_search` tool searches with
    (docs/hosted-tools.md). Without this table a `web_search` tool is accepted, not offered."""

    model_config = ConfigDict(extra="forbid")

    provider: Literal["searxng", "brave", "tavily"]
    base_url: str | None = Field(default=None, pattern=r"^https?://")  # searxng: required
    api_key_env: str | None = None  # brave, tavily: the variable holding the key
    timeout: float = Field(default=10.0, gt=0, le=120)  # seconds, search and pages together

    @model_validator(mode="after")
    def _needs(self) -> WebSearchConfig:
        if self.provider == "searxng" and self.base_url is None:
            raise ValueError("web_search: provider searxng needs base_url")
        if self.provider != "searxng" and not self.api_key_env:
            raise ValueError(f"web_search: provider {self.provider} needs api_key_env")
        return self
