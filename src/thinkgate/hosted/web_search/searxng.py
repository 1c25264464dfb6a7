"""SearXNG's JSON API: `GET {base_url}/search?q=…&format=json` (the instance must list
`json` under `search.formats`)."""

from __future__ import annotations

import httpx

from thinkgate.hosted.web_search.provider import (
    SearchFailed,
    SearchQuery,
    SearchResult,
    get_json,
    site_terms,
    text_of,
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
        if not isinstance(results, list):
            raise SearchFailed("the search provider (searxng) sent no result list")
        return [
            SearchResult(
                text_of(hit.get("url")), text_of(hit.get("title")), text_of(hit.get("content"))
            )
            for hit in results
            if isinstance(hit, dict) and text_of(hit.get("url"))
        ]

    async def aclose(self) -> None:
        await self._client.aclose()
