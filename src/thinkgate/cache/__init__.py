"""Prompt cache: model states for token prefixes, kept in RAM (`in_memory`) and on disk
(`24h`), found by the longest aligned prefix a request shares with an earlier one.

Engine-neutral: a state is opaque bytes; the engine decides what it holds.
"""

from thinkgate.cache.prefix import PrefixKey, Retention
from thinkgate.cache.stats import CacheStats
from thinkgate.cache.store import CachedPrefix, PromptCache

__all__ = ["CacheStats", "CachedPrefix", "PrefixKey", "PromptCache", "Retention"]
