"""`web_search` as a hosted tool: the model calls `web_search(query)`; a provider searches;
the results (and, at `search_context_size: "high"`, the top pages' text) are what the model
reads; the public item is a `web_search_call` with its `search` action. With live access
(`external_web_access` not false) the model may also `open_page(url)` and
`find_in_page(url, pattern)` on a result (`browse`): `open_page` / `find_in_page` actions.

    search_context_size   low: 3 results   medium (default): 5   high: 8, top 3 pages read
    filters.allowed_domains  results outside them are dropped (and the provider is asked)
    user_location         passed to the provider (country, where it understands one)
    external_web_access   false: no page is fetched (no `open_page`, `find_in_page`),
                          only the provider's own snippets
"""

from __future__ import annotations

from typing import Any, ClassVar

import anyio
import httpx

from thinkgate.hosted.base import CallOutcome, HostedCall, Source, Tool
from thinkgate.hosted.web_search.browse import (
    BROWSE_FUNCTIONS,
    PAGE_CHARS,
    browsing,
    find,
    kept,
    refusal,
    remember_results,
    title_of,
)
from thinkgate.hosted.web_search.pages import page_text
from thinkgate.hosted.web_search.provider import (
    Location,
    SearchFailed,
    SearchProvider,
    SearchQuery,
    SearchResult,
    allowed,
)
from thinkgate.net import FetchLimits, UrlPolicy
from thinkgate.protocol.tool_models import WEB_SEARCH

SOURCES = "web_search_call.action.sources"
_RESULTS = {"low": 3, "medium": 5, "high": 8}
_PAGES_READ = 3
_PAGE_CHARS = 2000
_SNIPPET_CHARS = 500
_QUERY_CHARS = 64


class WebSearch:
    types: ClassVar[tuple[str, ...]] = WEB_SEARCH
    item_type: ClassVar[str] = "web_search_call"
    id_prefix: ClassVar[str] = "ws"
    price_key: ClassVar[str] = "web_search"
    opening: ClassVar[tuple[str, ...]] = ("response.web_search_call.in_progress",)
    working: ClassVar[tuple[str, ...]] = ("response.web_search_call.searching",)
    closing: ClassVar[tuple[str, ...]] = ("response.web_search_call.completed",)

    def __init__(
        self,
        provider: SearchProvider,
        *,
        policy: UrlPolicy,
        timeout: float,
        pages: httpx.AsyncClient | None = None,
    ) -> None:
        self._provider = provider
        self._policy = policy
        self._timeout = timeout
        self._pages = pages or httpx.AsyncClient(follow_redirects=False, trust_env=False)

    def functions(self, declared: Tool) -> list[Tool]:
        description = (
            "Search the web for current information. Returns numbered results, each with "
            "its URL; name the URL of each source you use in your answer."
        )
        domains = _domains(declared)
        if domains:
            description += " Only these sites are searched: " + ", ".join(domains) + "."
        function = {
            "type": "function",
            "name": "web_search",
            "description": description,
            "parameters": {
                "type": "object",
                "properties": {
                    "query": {
                        "type": "string",
                        "description": "What to search for.",
                        "maxLength": _QUERY_CHARS,  # a small model's query stays a query
                    }
                },
                "required": ["query"],
                "additionalProperties": False,
            },
            "strict": False,  # maxLength is not in every strict dialect
        }
        if declared.get("external_web_access") is False:
            return [function]  # no live access: the provider's snippets are all there is
        return [function, *BROWSE_FUNCTIONS]

    def begin(self, call: HostedCall) -> None:
        action: dict[str, Any] = {"type": "search", "query": _query(call.arguments) or ""}
        if call.name == "open_page":
            action = {"type": "open_page", "url": _text(call.arguments, "url")}
        elif call.name == "find_in_page":
            action = {"type": "find_in_page", "url": _text(call.arguments, "url")}
            action["pattern"] = _text(call.arguments, "pattern")
        call.item.update(type=self.item_type, status="in_progress", action=action)

    async def run(self, call: HostedCall) -> CallOutcome:
        if call.name in ("open_page", "find_in_page"):
            return await self._browse(call)
        query = _query(call.arguments)
        if not query:
            return self._failed(call, "the call needs a non-empty 'query' string")
        search = _search_query(query, call.declared)
        try:
            with anyio.fail_after(self._timeout):
                results = await self._provider.search(search)
                results = [r for r in results if allowed(r.url, search.allowed_domains)]
                results = results[: search.count]
                pages = await self._read_pages(call.declared, results)
        except TimeoutError:
            return self._failed(call, f"the search took longer than {self._timeout:g} s")
        except SearchFailed as failure:
            return self._failed(call, str(failure))
        remember_results(call.turn, results)
        action: dict[str, Any] = {"type": "search", "query": query}
        if SOURCES in call.include:
            action["sources"] = [{"type": "url", "url": r.url} for r in results]
        item = {**call.item, "status": "completed", "action": action}
        sources = tuple(Source(r.url, r.title) for r in results)
        return CallOutcome(item, _results_text(query, results, pages), sources)

    async def _read_pages(self, declared: Tool, results: list[SearchResult]) -> list[str | None]:
        """The top pages' text at context size `high`, unless live access is off."""
        pages: list[str | None] = [None] * len(results)
        if (
            declared.get("search_context_size") != "high"
            or declared.get("external_web_access") is False
        ):
            return pages
        limits = FetchLimits(max_bytes=1 << 20, timeout=self._timeout)

        async def read(index: int) -> None:
            pages[index] = await page_text(
                results[index].url, self._policy, limits, self._pages, _PAGE_CHARS
            )

        async with anyio.create_task_group() as group:
            for index in range(min(_PAGES_READ, len(results))):
                group.start_soon(read, index)
        return pages

    async def _browse(self, call: HostedCall) -> CallOutcome:
        """`open_page(url)`: the page's text; `find_in_page(url, pattern)`: where the
        pattern occurs in it (the page read first if it was not yet)."""
        action = dict(call.item["action"])
        url = action["url"]
        if call.declared.get("external_web_access") is False:
            return self._failed(call, "live web access is off for this request")
        refused = refusal(call.turn, url, _domains(call.declared))
        if refused is not None:
            return self._failed(call, refused)
        if call.name == "find_in_page" and not action["pattern"].strip():
            return self._failed(call, "the call needs a non-empty 'pattern' string")
        pages = browsing(call.turn).pages
        text = pages.get(url)
        if text is None:
            limits = FetchLimits(max_bytes=1 << 20, timeout=self._timeout)
            text = await page_text(url, self._policy, limits, self._pages, 1 << 20)
            if text is None:
                return self._failed(call, f"the page {url} could not be read")
            text = pages[url] = kept(text)
        item = {**call.item, "status": "completed"}
        source = (Source(url, title_of(call.turn, url)),)
        if call.name == "open_page":
            body = text[:PAGE_CHARS] or "(the page has no text)"
            return CallOutcome(item, f"Page {url}:\n{body}", source)
        hits = find(text, action["pattern"])
        if not hits:
            return CallOutcome(item, f'"{action["pattern"]}" does not occur on {url}.', source)
        lines = [f'"{action["pattern"]}" on {url}:', *(f"- {hit}" for hit in hits)]
        return CallOutcome(item, "\n".join(lines), source)

    def _failed(self, call: HostedCall, reason: str) -> CallOutcome:
        return CallOutcome({**call.item, "status": "failed"}, f"Web search failed: {reason}.")

    async def aclose(self) -> None:
        await self._provider.aclose()
        await self._pages.aclose()


def _query(arguments: dict[str, Any] | None) -> str | None:
    query = (arguments or {}).get("query")
    return query.strip() if isinstance(query, str) and query.strip() else None


def _text(arguments: dict[str, Any] | None, name: str) -> str:
    value = (arguments or {}).get(name)
    return value.strip() if isinstance(value, str) else ""


def _domains(declared: Tool) -> tuple[str, ...]:
    filters = declared.get("filters") or {}
    return tuple(str(domain) for domain in filters.get("allowed_domains") or ())


def _search_query(query: str, declared: Tool) -> SearchQuery:
    place = declared.get("user_location") or {}
    location = Location(
        country=place.get("country"),
        region=place.get("region"),
        city=place.get("city"),
        timezone=place.get("timezone"),
    )
    count = _RESULTS.get(str(declared.get("search_context_size") or "medium"), 5)
    return SearchQuery(query, count, _domains(declared), location)


def _results_text(query: str, results: list[SearchResult], pages: list[str | None]) -> str:
    if not results:
        return f'No web results for "{query}".'
    lines = [f'Web results for "{query}":']
    for number, (result, page) in enumerate(zip(results, pages, strict=True), start=1):
        body = page if page else result.snippet[:_SNIPPET_CHARS]
        lines.append(f"[{number}] {result.title}\nURL: {result.url}\n{body}".rstrip())
    return "\n\n".join(lines)
