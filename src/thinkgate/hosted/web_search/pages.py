"""Reading a result's page (`search_context_size: "high"`): fetched through the SSRF guard
(`net.fetch`: every hop checked, pinned to the checked address, size and time bounded),
HTML reduced to its visible text."""

from __future__ import annotations

from html.parser import HTMLParser

import httpx

from thinkgate.errors import ThinkgateError
from thinkgate.net import FetchLimits, UrlPolicy, fetch

_SKIPPED = {"script", "style", "noscript", "template", "svg", "head"}


class _Text(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._skipping = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _SKIPPED:
            self._skipping += 1

    def handle_endtag(self, tag: str) -> None:
        if tag in _SKIPPED and self._skipping:
            self._skipping -= 1

    def handle_data(self, data: str) -> None:
        if not self._skipping and data.strip():
            self.parts.append(data.strip())


def visible_text(html: str) -> str:
    parser = _Text()
    parser.feed(html)
    parser.close()
    return " ".join(parser.parts)


async def page_text(
    url: str, policy: UrlPolicy, limits: FetchLimits, client: httpx.AsyncClient, max_chars: int
) -> str | None:
    """The page's text, cut to `max_chars`; None when it may not or could not be read
    (a private address, too large, too slow, not text): the snippet stands in for it."""
    try:
        page = await fetch(url, policy, limits, param=None, client=client)
    except ThinkgateError:
        return None
    kind = page.content_type.split(";")[0].strip().lower()
    if kind not in ("text/html", "text/plain", "application/xhtml+xml", ""):
        return None
    text = page.body.decode("utf-8", errors="replace")
    if kind != "text/plain":
        text = visible_text(text)
    return text[:max_chars]
