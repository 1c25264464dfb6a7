"""The hosted tools this server serves, built from its settings at start-up.

A declared tool whose type no configured tool serves (web search without a provider) is
accepted and echoed but not offered; the response says so (`x-thinkgate-unavailable-tools`).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

import httpx

from thinkgate.config import ConfigError, Settings, WebSearchConfig
from thinkgate.hosted.base import HostedTool
from thinkgate.hosted.mcp import Approvals, RemoteMcp
from thinkgate.hosted.web_search import WebSearch
from thinkgate.hosted.web_search.brave import BraveProvider
from thinkgate.hosted.web_search.provider import SearchProvider
from thinkgate.hosted.web_search.searxng import SearxngProvider
from thinkgate.hosted.web_search.tavily import TavilyProvider
from thinkgate.net import UrlPolicy

Tool = dict[str, Any]


class HostedTools:
    def __init__(self, tools: Sequence[HostedTool] = ()) -> None:
        self._tools = list(tools)
        self._by_type = {kind: tool for tool in tools for kind in tool.types}

    def serves(self, kind: str) -> bool:
        return kind in self._by_type

    def offered(self, declared: Sequence[Tool] | None) -> list[tuple[Tool, HostedTool]]:
        """(declared tool, the tool serving it) for each served tool declared, once per tool
        (of `web_search` and `web_search_preview` declared together, the first counts);
        a tool that serves each declaration on its own (MCP: one per server) every time."""
        chosen: dict[int, tuple[Tool, HostedTool]] = {}
        for index, tool in enumerate(declared or ()):
            serving = self._by_type.get(str(tool.get("type")))
            key = -1 - index if getattr(serving, "per_declaration", False) else id(serving)
            if serving is not None and key not in chosen:
                chosen[key] = (tool, serving)
        return list(chosen.values())

    async def aclose(self) -> None:
        for tool in self._tools:
            await tool.aclose()


def hosted_tools_for(
    settings: Settings, policy: UrlPolicy, *, extra: Sequence[HostedTool] = ()
) -> HostedTools:
    """`extra`: tools built by the lifespan from what it opened (file_search's index)."""
    tools: list[HostedTool] = list(extra)
    if settings.web_search is not None:
        provider = _provider(settings.web_search)
        tools.append(WebSearch(provider, policy=policy, timeout=settings.web_search.timeout))
    secret = settings.reasoning_key.get_secret_value() if settings.reasoning_key else None
    approvals = Approvals.from_settings(secret, settings.data_dir)
    tools.append(RemoteMcp(settings.mcp, policy, approvals))  # request URLs: docs/mcp.md
    return HostedTools(tools)


def _provider(config: WebSearchConfig) -> SearchProvider:
    if config.provider == "searxng":
        assert config.base_url is not None  # the config refuses searxng without one
        return SearxngProvider(_client(config), config.base_url)
    key = os.environ.get(config.api_key_env or "", "")
    if not key:
        raise ConfigError(
            f"web_search: provider {config.provider} needs its API key in the environment "
            f"variable {config.api_key_env!r}, which is not set"
        )
    if config.provider == "brave":
        return BraveProvider(_client(config), config.base_url, key)
    return TavilyProvider(_client(config), config.base_url, key)


def _client(config: WebSearchConfig) -> httpx.AsyncClient:
    """The provider's own client: its configured address is trusted (no guard), no proxy
    from the environment, the configured timeout on every phase."""
    return httpx.AsyncClient(timeout=config.timeout, trust_env=False)
