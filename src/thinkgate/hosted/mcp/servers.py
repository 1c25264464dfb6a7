"""Which MCP server a declared `mcp` tool means, and what the caller may do with it.

server_url given   the request's own server: its URL must match `[mcp] allowed_urls`
                   (none by default) and pass the SSRF guard; `headers` and
                   `authorization` are the request's, used for this request only
server_url absent  an operator's `[[mcp.servers]]` entry by `server_label`: its URL and
                   headers are the operator's; `access` limits who may use which tools
"""

from __future__ import annotations

import fnmatch
import os
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from thinkgate.config import McpConfig, McpServerConfig
from thinkgate.errors import InvalidRequestError, PermissionDeniedError
from thinkgate.hosted.mcp.client import ListedTool, Server, Transport
from thinkgate.net import UrlPolicy
from thinkgate.net.guard import check_url

Tool = dict[str, Any]


@dataclass(slots=True, frozen=True)
class Resolved:
    server: Server
    permitted: frozenset[str] | None  # tools the caller may call (None: all allowed)
    approval: Any  # the effective `require_approval`
    description: str | None


async def resolve(
    declared: Tool, config: McpConfig, policy: UrlPolicy, owner: str | None, key_id: str | None
) -> Resolved:
    label = str(declared["server_label"])
    if declared.get("connector_id"):
        raise InvalidRequestError(
            "MCP connectors ('connector_id') are not supported by this server: give a "
            "'server_url', or the 'server_label' of a server configured here.",
            param="tools.connector_id",
            code="unsupported_value",
        )
    url = declared.get("server_url")
    if url:
        server = await _declared_server(label, str(url), declared, config, policy)
        approval = declared.get("require_approval") or "always"
        return Resolved(server, None, approval, declared.get("server_description"))
    configured = next((s for s in config.servers if s.label == label), None)
    if configured is None:
        raise InvalidRequestError(
            f"MCP server '{label}' has no 'server_url' and no server with that label is "
            "configured here.",
            param="tools.server_url",
            code="missing_required_parameter",
        )
    return Resolved(
        _configured_server(configured),
        _permitted(configured, owner, key_id),
        _approval(configured, declared),
        declared.get("server_description") or configured.description,
    )


async def _declared_server(
    label: str, url: str, declared: Tool, config: McpConfig, policy: UrlPolicy
) -> Server:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname or parts.username is not None:
        raise InvalidRequestError(
            f"Invalid 'server_url' for MCP server '{label}': an http or https URL without "
            "credentials in it is expected.",
            param="tools.server_url",
            code="invalid_url",
        )
    if not any(fnmatch.fnmatchcase(url, pattern) for pattern in config.allowed_urls):
        raise InvalidRequestError(
            f"MCP server URL for '{label}' is not allowed by this server: the operator "
            "allows request-declared MCP servers only on listed URLs ([mcp] allowed_urls).",
            param="tools.server_url",
            code="invalid_url",
        )
    await check_url(url, policy, param="tools.server_url")
    headers = {str(k): str(v) for k, v in (declared.get("headers") or {}).items()}
    if declared.get("authorization"):
        headers["Authorization"] = f"Bearer {declared['authorization']}"
    sse = parts.path.rstrip("/").endswith("/sse")
    transport: Transport = "sse" if sse else "streamable_http"
    return Server(label, url, transport, headers, trusted=False)


def _configured_server(config: McpServerConfig) -> Server:
    headers = {name: os.environ.get(env, "") for name, env in config.headers_env.items()}
    return Server(config.label, config.url, config.transport, headers, trusted=True)


def _permitted(
    config: McpServerConfig, owner: str | None, key_id: str | None
) -> frozenset[str] | None:
    allowed = None if config.allowed_tools is None else frozenset(config.allowed_tools)
    if not config.access:
        return allowed
    grant = None
    for who in (key_id, owner):
        if who is not None and who in config.access:
            grant = config.access[who]
            break
    if grant is None:
        raise PermissionDeniedError(
            f"You may not use the MCP server '{config.label}' (ask the operator for access).",
            code="mcp_server_not_permitted",
        )
    if "*" in grant:
        return allowed
    granted = frozenset(grant)
    return granted if allowed is None else granted & allowed


def _approval(config: McpServerConfig, declared: Tool) -> Any:
    if config.require_approval == "always":
        return "always"
    return declared.get("require_approval") or config.require_approval or "always"


def offered_tools(declared: Tool, resolved: Resolved, listed: list[ListedTool]) -> list[ListedTool]:
    """The listed tools the model may call: the request's `allowed_tools`, the operator's."""
    wanted = declared.get("allowed_tools")
    chosen = []
    for tool in listed:
        if resolved.permitted is not None and tool.name not in resolved.permitted:
            continue
        if isinstance(wanted, list) and tool.name not in wanted:
            continue
        if isinstance(wanted, dict) and not matches(wanted, tool):
            continue
        chosen.append(tool)
    return chosen


def matches(spec: dict[str, Any], tool: ListedTool) -> bool:
    """A filter `{"tool_names": [...], "read_only": bool}` (each part optional, all must
    match; `read_only` is the tool's `readOnlyHint`)."""
    names = spec.get("tool_names")
    if names is not None and tool.name not in names:
        return False
    read_only = spec.get("read_only")
    if read_only is not None and bool((tool.annotations or {}).get("readOnlyHint")) != read_only:
        return False
    return names is not None or read_only is not None


def needs_approval(policy: Any, tool: ListedTool) -> bool:
    """`always` (OpenAI's default), `never`, or `{"always": filter, "never": filter}` (a
    tool neither filter names needs approval)."""
    if policy == "never":
        return False
    if not isinstance(policy, dict):
        return True
    if policy.get("always") and matches(policy["always"], tool):
        return True
    return not (policy.get("never") and matches(policy["never"], tool))
