"""The one interface every search provider module speaks, and the failures they raise.

    SearchQuery ─► provider.search() ─► [SearchResult…]   (or SearchFailed: a failed call)

Providers are reached at the operator's configured `base_url` (trusted, like a channel);
pages a search returns are fetched only through the SSRF guard (`pages`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol
from urllib.parse import urlsplit

import httpx


@dataclass(slots=True, frozen=True)
class Location:
    """`user_location` (approximate): providers use what they understand of it."""

    country: str | None = None
    region: str | None = None
    city: str | None = None
    timezone: str | None = None


@dataclass(slots=True, frozen=True)
class SearchQuery:
    query: str
    count: int
    allowed_domains: tuple[str, ...] = ()
    location: Location = field(default_factory=Location)


@dataclass(slots=True, frozen=True)
class SearchResult:
    url: str
    title: str
    snippet: str


class SearchFailed(Exception):
    """The provider could not answer (timeout, refusal, nonsense): the call fails."""


class SearchProvider(Protocol):
    name: str

    async def search(self, query: SearchQuery) -> list[SearchResult]: ...

    async def aclose(self) -> None: ...


def allowed(url: str, domains: tuple[str, ...]) -> bool:
    """A result is kept when its host is one of `domains` or under one (no list: all)."""
    if not domains:
        return True
    host = (urlsplit(url).hostname or "").lower().rstrip(".")
    for domain in domains:
        bare = domain.lower().strip().removeprefix("https://").removeprefix("http://")
        bare = bare.split("/")[0].rstrip(".")
        if host == bare or host.endswith("." + bare):
            return True
    return False


def site_terms(query: SearchQuery) -> str:
    """The query with `site:` terms, for engines that filter by domain only that way."""
    if not query.allowed_domains:
        return query.query
    sites = " OR ".join(f"site:{domain}" for domain in query.allowed_domains)
    return (
        f"{query.query} ({sites})" if len(query.allowed_domains) > 1 else f"{query.query} {sites}"
    )


async def get_json(
    client: httpx.AsyncClient, method: str, url: str, provider: str, **kwargs: object
) -> object:
    """One provider request; every way it can go wrong becomes `SearchFailed`."""
    try:
        reply = await client.request(method, url, **kwargs)  # type: ignore[arg-type]
    except httpx.TimeoutException:
        raise SearchFailed(f"the search provider ({provider}) timed out") from None
    except httpx.HTTPError as exc:
        raise SearchFailed(
            f"the search provider ({provider}) could not be reached ({type(exc).__name__})"
        ) from None
    if reply.status_code != 200:
        raise SearchFailed(f"the search provider ({provider}) answered {reply.status_code}")
    try:
        return reply.json()
    except ValueError:
        raise SearchFailed(
            f"the search provider ({provider}) sent a reply that is not JSON"
        ) from None


def text_of(value: object) -> str:
    return value if isinstance(value, str) else ""


def results_from(results: object, provider: str, snippet: str) -> list[SearchResult]:
    """A provider's list of hits as results (hits without a URL dropped); one parser for
    the three APIs, which differ only in where the list sits and the snippet's key."""
    if not isinstance(results, list):
        raise SearchFailed(f"the search provider ({provider}) sent no result list")
    return [
        SearchResult(text_of(hit.get("url")), text_of(hit.get("title")), text_of(hit.get(snippet)))
        for hit in results
        if isinstance(hit, dict) and text_of(hit.get("url"))
    ]
