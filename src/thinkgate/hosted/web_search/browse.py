"""`open_page` and `find_in_page`: the model reads a page a search found, or looks for a
pattern in it. Pages are fetched through the SSRF guard (`pages.page_text`), and only
pages the model was shown or the client named may be opened:

    url in this response's search results ─┐
    url written in the client's messages  ─┴─► allowed domains? ─► fetched (guarded) ─► text

A page's text cannot send the model to a URL of its choosing (a link that would carry
what the model knows to someone else's server): such a URL is refused, the call fails.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from thinkgate.hosted.base import Tool, Turn
from thinkgate.hosted.web_search.provider import SearchResult, allowed

_KEY = "web_search"  # this tool's part of `Turn.scratch`
PAGE_CHARS = 3000  # what `open_page` shows the model
_KEPT_CHARS = 100_000  # what `find_in_page` searches
_MATCHES = 5
_AROUND = 160  # characters of context on each side of a match
_URLS = re.compile(r"https?://[^\s<>\"'()\[\]]+")

_URL = {"type": "string", "description": "A URL from the search results, as given."}
BROWSE_FUNCTIONS: list[Tool] = [
    {
        "type": "function",
        "name": "open_page",
        "description": "Read a web page from the search results: returns its text.",
        "parameters": {
            "type": "object",
            "properties": {"url": _URL},
            "required": ["url"],
            "additionalProperties": False,
        },
        "strict": True,
    },
    {
        "type": "function",
        "name": "find_in_page",
        "description": "Find where a word or phrase occurs in a web page from the search "
        "results: returns each place with the text around it.",
        "parameters": {
            "type": "object",
            "properties": {
                "url": _URL,
                "pattern": {"type": "string", "description": "The text to look for."},
            },
            "required": ["url", "pattern"],
            "additionalProperties": False,
        },
        "strict": True,
    },
]


@dataclass(slots=True)
class Browsing:
    """One response's search state: the results' titles by URL, the pages read."""

    found: dict[str, str] = field(default_factory=dict)
    pages: dict[str, str] = field(default_factory=dict)


def browsing(turn: Turn) -> Browsing:
    state = turn.scratch.get(_KEY)
    if not isinstance(state, Browsing):
        state = turn.scratch[_KEY] = Browsing()
    return state


def remember_results(turn: Turn, results: list[SearchResult]) -> None:
    found = browsing(turn).found
    for result in results:
        found.setdefault(_key(result.url), result.title)


def refusal(turn: Turn, url: str, domains: tuple[str, ...]) -> str | None:
    """Why `url` may not be opened (None: it may)."""
    if not url.startswith(("http://", "https://")):
        return "the 'url' must be an http(s) URL"
    if not allowed(url, domains):
        return "the URL is outside the allowed domains"
    given = {_key(found) for found in _URLS.findall(turn.client_text)}
    if _key(url) not in browsing(turn).found and _key(url) not in given:
        return "only a URL from this response's search results, or one the user gave, may be opened"
    return None


def title_of(turn: Turn, url: str) -> str:
    return browsing(turn).found.get(_key(url), "")


def find(text: str, pattern: str) -> list[str]:
    """Each place `pattern` occurs (case and spacing ignored), with the text around it."""
    words = [re.escape(word) for word in pattern.split()]
    if not words:
        return []
    hits = []
    for match in re.finditer(r"\s+".join(words), text, flags=re.IGNORECASE):
        start, end = max(match.start() - _AROUND, 0), min(match.end() + _AROUND, len(text))
        hits.append(("…" if start else "") + text[start:end] + ("…" if end < len(text) else ""))
        if len(hits) == _MATCHES:
            break
    return hits


def kept(text: str) -> str:
    return text[:_KEPT_CHARS]


def _key(url: str) -> str:
    return url.strip().rstrip("/.,;:")
