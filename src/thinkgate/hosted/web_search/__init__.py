"""`web_search` served by the gateway: the tool (`tool`), one module per search provider
behind `provider.SearchProvider`, and guarded page reading (`pages`)."""

from thinkgate.hosted.web_search.provider import SearchProvider
from thinkgate.hosted.web_search.tool import WebSearch

__all__ = ["SearchProvider", "WebSearch"]
