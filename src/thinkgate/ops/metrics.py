"""Prometheus metrics: one registry per app (two apps can share a process).

Hot path cost is a few counter/histogram updates per request (the ASGI middleware); the
token and cost counters are updated by the ledger writer, off the request path; every
gauge — cache, breakers, queues, ledger backlog — is read only when `/metrics` is scraped.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from prometheus_client import (
    CollectorRegistry,
    Counter,
    ProcessCollector,
    disable_created_metrics,
    generate_latest,
)
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from thinkgate.ops.request_stats import RequestStats
from thinkgate.store.ledger import LedgerEntry

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
_LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300)
_BREAKER_STATES = ("closed", "half_open", "open")
_PICO = 10**12


@dataclass(slots=True)
class ScrapeSources:
    """What is read at scrape time; each callable is cheap and never touches the network."""

    cache: Callable[[], Mapping[str, Any]] | None = None
    breakers: Callable[[], Iterable[tuple[str, str]]] | None = None  # (channel, state)
    queues: Mapping[str, Callable[[], int]] = field(default_factory=dict)  # name → depth
    # Redis-shared counters: {"state": shared|fail_closed|per_replica, "outages": n, ...}
    shared_counters: Callable[[], Mapping[str, Any]] | None = None


class Metrics:
    def __init__(self) -> None:
        disable_created_metrics()  # type: ignore[no-untyped-call]  # no `_created` series
        self.registry = CollectorRegistry(auto_describe=True)
        self.sources = ScrapeSources()
        r = self.registry
        ProcessCollector(registry=r)  # RSS, CPU, open files: the soak test reads RSS here
        self.http = RequestStats(_LATENCY_BUCKETS)  # the access middleware's, per request
        r.register(self.http)
        self.tokens = Counter(
            "thinkgate_tokens",
            "Tokens billed, by model and kind (input includes cached; output includes reasoning).",
            ["model", "kind"],
            registry=r,
        )
        self.cost = Counter(
            "thinkgate_cost_usd", "Cost billed in USD, by model.", ["model"], registry=r
        )
        self.generations = Counter(
            "thinkgate_generations",
            "Settled generations (one ledger row each), by model, channel and final status.",
            ["model", "channel", "status"],
            registry=r,
        )
        self.registry.register(_ScrapeCollector(lambda: self.sources))
        # (model, channel, status) → its series: one dict lookup per settled request instead
        # of six `labels()` calls (each takes a lock and builds a key)
        self._entry_series: dict[tuple[str, str, str], tuple[Any, ...]] = {}
        self.catch_up: Callable[[], None] = lambda: None  # before a scrape: observe what's due

    def observe_entry(self, entry: LedgerEntry) -> None:
        """Called by the ledger writer for each settled request (the usage is final there),
        soon after it settled (each `interval`, and at a scrape through `catch_up`)."""
        key = (entry.model, entry.channel, entry.status)
        series = self._entry_series.get(key)
        if series is None:
            series = self._entry_series[key] = self._new_entry_series(*key)
        generations, input_tokens, cached, output, reasoning, cost = series
        generations.inc()
        input_tokens.inc(entry.input_tokens)
        cached.inc(entry.cached_tokens)
        output.inc(entry.output_tokens)
        reasoning.inc(entry.reasoning_tokens)
        cost.inc(entry.cost_pico / _PICO)

    def _new_entry_series(self, model: str, channel: str, status: str) -> tuple[Any, ...]:
        tokens = self.tokens
        return (
            self.generations.labels(model, channel, status),
            tokens.labels(model, "input"),
            tokens.labels(model, "cached"),
            tokens.labels(model, "output"),
            tokens.labels(model, "reasoning"),
            self.cost.labels(model),
        )

    def render(self) -> bytes:
        return generate_latest(self.registry)


class _ScrapeCollector(Collector):
    def __init__(self, sources: Callable[[], ScrapeSources]) -> None:
        self._current = sources

    @property
    def _sources(self) -> ScrapeSources:
        return self._current()

    def collect(self) -> Iterable[Metric]:
        yield from self._cache()
        yield from self._breakers()
        yield from self._shared_counters()
        queues = GaugeMetricFamily(
            "thinkgate_queue_depth",
            "Work waiting or running: local engine turns waiting, background jobs running, "
            "ledger rows not yet written.",
            labels=["queue"],
        )
        for name, depth in self._sources.queues.items():
            queues.add_metric([name], float(depth()))
        yield queues

    def _cache(self) -> Iterable[Metric]:
        if self._sources.cache is None:
            return
        stats = self._sources.cache()
        lookups = GaugeMetricFamily(  # counters in the cache, exposed as their current value
            "thinkgate_prompt_cache_lookups",
            "Prompt cache lookups since start, by result (hit_ram, hit_disk, miss).",
            labels=["result"],
        )
        lookups.add_metric(["hit_ram"], stats.get("hits_ram", 0))
        lookups.add_metric(["hit_disk"], stats.get("hits_disk", 0))
        lookups.add_metric(["miss"], stats.get("misses", 0))
        yield lookups
        size = GaugeMetricFamily(
            "thinkgate_prompt_cache_bytes", "Bytes held by each cache tier.", labels=["tier"]
        )
        size.add_metric(["ram"], stats.get("ram_bytes", 0))
        size.add_metric(["disk"], stats.get("disk_bytes", 0))
        yield size
        entries = GaugeMetricFamily(
            "thinkgate_prompt_cache_entries", "Entries in each cache tier.", labels=["tier"]
        )
        entries.add_metric(["ram"], stats.get("ram_entries", 0))
        entries.add_metric(["disk"], stats.get("disk_entries", 0))
        yield entries
        yield GaugeMetricFamily(
            "thinkgate_prompt_cache_cached_tokens",
            "Prompt tokens restored from the cache instead of evaluated, since start.",
            value=stats.get("cached_tokens", 0),
        )
        errors = GaugeMetricFamily(
            "thinkgate_prompt_cache_disk_errors",
            "Disk writes that failed (disk full, I/O error) and files removed as corrupt.",
            labels=["kind"],
        )
        errors.add_metric(["write"], stats.get("disk_write_errors", 0))
        errors.add_metric(["corrupt"], stats.get("disk_corrupt", 0))
        yield errors

    def _shared_counters(self) -> Iterable[Metric]:
        """Redis outages are never silent: the state, and what was decided without Redis."""
        if self._sources.shared_counters is None:
            return
        stats = self._sources.shared_counters()
        state = GaugeMetricFamily(
            "thinkgate_shared_counters_state",
            "1 for how budgets and rate limits are counted now: shared (Redis), or during a "
            "Redis outage fail_closed (refused) or per_replica (counted here alone).",
            labels=["state"],
        )
        for candidate in ("shared", "fail_closed", "per_replica"):
            state.add_metric([candidate], 1.0 if stats["state"] == candidate else 0.0)
        yield state
        for name, key, text in (
            ("outages", "outages", "Redis outages seen since start."),
            ("refused", "refused", "Requests refused (503) because Redis was unreachable."),
            (
                "per_replica_decisions",
                "per_replica",
                "Budget and rate-limit decisions made on this replica alone (Redis down).",
            ),
            ("new_epochs", "new_epochs", "Times Redis came back empty (counters re-seeded)."),
            (
                "uncertain",
                "uncertain",
                "Budget changes cut off mid-call, resolved to the side that cannot overshoot.",
            ),
        ):
            yield CounterMetricFamily(
                f"thinkgate_shared_counters_{name}", text, value=float(stats[key])
            )
        yield GaugeMetricFamily(
            "thinkgate_shared_counters_pending_changes",
            "Budget changes made while Redis was down, to be replayed when it is back.",
            value=float(stats["pending"]),
        )

    def _breakers(self) -> Iterable[Metric]:
        if self._sources.breakers is None:
            return
        family = GaugeMetricFamily(
            "thinkgate_channel_breaker_state",
            "1 for the state each upstream channel's circuit breaker is in.",
            labels=["channel", "state"],
        )
        for channel, state in self._sources.breakers():
            for candidate in _BREAKER_STATES:
                family.add_metric([channel, candidate], 1.0 if candidate == state else 0.0)
        yield family
