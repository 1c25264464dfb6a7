"""SearXNG's JSON API: `GET {base_url}/search?q=…&format=json` (the instance must list
`json` under `search.formats`)."""

from __future__ import annotations

import httpx

from thinkgate.hosted.web_search.provider import (
    SearchQuery,
    SearchResult,
    get_json,
    results_from,
    site_terms,
)


class SearxngProvider:
    name = "searxng"

    def __init__(self, client: httpx.AsyncClient, base_url: str) -> None:
        self._client = client
        self._url = base_url.rstrip("/") + "/search"

    async def search(self, query: SearchQuery) -> list[SearchResult]:
        params = {"q": site_terms(query), "format": "json"}
        if query.location.country:
            params["language"] = f"all-{query.location.country.upper()}"
        body = await get_json(self._client, "GET", self._url, self.name, params=params)
        results = body.get("results") if isinstance(body, dict) else None
        return results_from(results, self.name, "content")

    async def aclose(self) -> None:
        await self._client.aclose()
