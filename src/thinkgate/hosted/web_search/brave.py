"""Brave Search API: `GET {base_url}/res/v1/web/search?q=…` with `X-Subscription-Token`."""

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
        if not isinstance(results, list):
            raise SearchFailed("the search provider (brave) sent no result list")
        return [
            SearchResult(
                text_of(hit.get("url")), text_of(hit.get("title")), text_of(hit.get("description"))
            )
            for hit in results
            if isinstance(hit, dict) and text_of(hit.get("url"))
        ]

    async def aclose(self) -> None:
        await self._client.aclose()
