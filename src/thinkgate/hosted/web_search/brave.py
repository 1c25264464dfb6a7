"""Brave Search API: `GET {base_url}/res/v1/web/search?q=…` with `X-Subscription-Token`."""

from __future__ import annotations

import httpx

from thinkgate.hosted.web_search.provider import (
    SearchQuery,
    SearchResult,
    get_json,
    results_from,
    site_terms,
)

DEFAULT_URL = "https://api.search.brave.com"


class BraveProvider:
    name = "brave"

    def __init__(self, client: httpx.AsyncClient, base_url: str | None, api_key: str) -> None:
        self._client = client
        self._url = (base_url or DEFAULT_URL).rstrip("/") + "/res/v1/web/search"
        self._key = api_key

    async def search(self, query: SearchQuery) -> list[SearchResult]:
        params: dict[str, str | int] = {"q": site_terms(query), "count": min(query.count, 20)}
        if query.location.country:
            params["country"] = query.location.country.lower()
        headers = {"X-Subscription-Token": self._key, "Accept": "application/json"}
        body = await get_json(
            self._client, "GET", self._url, self.name, params=params, headers=headers
        )
        web = body.get("web") if isinstance(body, dict) else None
        results = web.get("results") if isinstance(web, dict) else []
        return results_from(results, self.name, "description")

    async def aclose(self) -> None:
        await self._client.aclose()
