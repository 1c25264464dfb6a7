"""`[mcp]`: the hosted remote-MCP tool (docs/mcp.md): which request-declared server URLs
are allowed, the timeouts, and the servers the operator configures by label."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

LABEL_PATTERN = r"^[a-zA-Z0-9_-]{1,40}$"


class McpServerConfig(BaseModel):
    """`[[mcp.servers]]`: a server clients name by `server_label` alone. Its URL is the
    operator's and trusted (not judged by the SSRF guard, like a channel's); its headers'
    values come from environment variables, never from a request.

    `access`: who may use it, by user id or key id, and the tools each may call (`["*"]`:
    all). Empty: every caller, every tool in `allowed_tools`."""

    model_config = ConfigDict(extra="forbid")

    label: str = Field(pattern=LABEL_PATTERN)
    url: str = Field(pattern=r"^https?://")
    transport: Literal["streamable_http", "sse"] = "streamable_http"
    description: str | None = None
    headers_env: dict[str, str] = Field(default_factory=dict)  # header → env variable
    allowed_tools: list[str] | None = None  # None: all the server lists
    require_approval: Literal["always", "never"] | None = None  # None: the request decides
    access: dict[str, list[str]] = Field(default_factory=dict)


class McpConfig(BaseModel):
    """`[mcp]`. A request may declare its own `server_url` only where it matches one of
    `allowed_urls` (shell-style patterns: `https://mcp.example.com/*`); the default, none,
    refuses every request-declared URL. Allowed URLs still pass the SSRF guard."""

    model_config = ConfigDict(extra="forbid")

    allowed_urls: list[str] = Field(default_factory=list)
    list_timeout: float = Field(default=10.0, gt=0, le=120)  # seconds to list a server's tools
    call_timeout: float = Field(default=30.0, gt=0, le=600)  # seconds for one tool call
    max_output_chars: int = Field(default=20_000, ge=100, le=1_000_000)
    servers: list[McpServerConfig] = Field(default_factory=list)

    @field_validator("servers")
    @classmethod
    def _unique(cls, servers: list[McpServerConfig]) -> list[McpServerConfig]:
        labels = [server.label for server in servers]
        if len(labels) != len(set(labels)):
            raise ValueError("mcp.servers: each label must be unique")
        return servers
