"""Tavily's search API: `POST {base_url}/search` with a bearer key; it filters domains
itself (`include_domains`)."""

from __future__ import annotations

from typing import Any

import httpx

from thinkgate.hosted.web_search.provider import (
    SearchQuery,
    SearchResult,
    get_json,
    results_from,
)

DEFAULT_URL = "https://api.tavily.com"


class TavilyProvider:
    name = "tavily"

    def __init__(self, client: httpx.AsyncClient, base_url: str | None, api_key: str) -> None:
        self._client = client
        self._url = (base_url or DEFAULT_URL).rstrip("/") + "/search"
        self._key = api_key

    async def search(self, query: SearchQuery) -> list[SearchResult]:
        payload: dict[str, Any] = {"query": query.query, "max_results": min(query.count, 20)}
        if query.allowed_domains:
            payload["include_domains"] = list(query.allowed_domains)
        if query.location.country:
            payload["country"] = query.location.country
        headers = {"Authorization": f"Bearer {self._key}"}
        body = await get_json(
            self._client, "POST", self._url, self.name, json=payload, headers=headers
        )
        results = body.get("results") if isinstance(body, dict) else None
        return results_from(results, self.name, "content")

    async def aclose(self) -> None:
        await self._client.aclose()
