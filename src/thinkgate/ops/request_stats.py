"""Every request's count and latencies, kept as plain numbers and rendered at scrape time.

`prometheus_client`'s Counter and Histogram take a lock and walk the buckets on every
update; three of those per request were a tenth of the access middleware's cost. Here a
request adds to one slot (its counter) and one bucket per histogram under the event loop
that serves it, and `collect()` builds the same families a scrape has always seen: the
`thinkgate_http_requests` counter by route, method, status and model, and the duration and
time-to-first-byte histograms by route.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Iterable, Sequence

from prometheus_client.core import CounterMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.registry import Collector
from prometheus_client.utils import floatToGoString


class _Histogram:
    __slots__ = ("counts", "total")

    def __init__(self, buckets: int) -> None:
        self.counts = [0] * (buckets + 1)  # one per upper bound, then +Inf
        self.total = 0.0


class RequestStats(Collector):
    def __init__(self, latency_buckets: Sequence[float]) -> None:
        self._bounds = tuple(float(bound) for bound in latency_buckets)
        self._requests: dict[tuple[str, str, str, str], list[int]] = {}  # labels → [count]
        self._latency: dict[str, _Histogram] = {}
        self._first_byte: dict[str, _Histogram] = {}

    def observe(
        self,
        route: str,
        method: str,
        status: int,
        model: str,
        seconds: float,
        first_byte_seconds: float | None,
    ) -> None:
        key = (route, method, str(status), model)
        slot = self._requests.get(key)
        if slot is None:
            slot = self._requests[key] = [0]
        slot[0] += 1
        self._add(self._latency, route, seconds)
        if first_byte_seconds is not None:
            self._add(self._first_byte, route, first_byte_seconds)

    def _add(self, histograms: dict[str, _Histogram], route: str, value: float) -> None:
        histogram = histograms.get(route)
        if histogram is None:
            histogram = histograms[route] = _Histogram(len(self._bounds))
        histogram.counts[bisect_left(self._bounds, value)] += 1  # the first bound ≥ value
        histogram.total += value

    def collect(self) -> Iterable[Metric]:
        requests = CounterMetricFamily(
            "thinkgate_http_requests",
            "HTTP requests answered, by route template, method, status and model.",
            labels=["route", "method", "status", "model"],
        )
        for labels, (count,) in list(self._requests.items()):
            requests.add_metric(list(labels), count)
        yield requests
        yield self._histogram(
            "thinkgate_http_request_duration_seconds",
            "Time from the request's arrival to the last byte of its response.",
            self._latency,
        )
        yield self._histogram(
            "thinkgate_http_time_to_first_byte_seconds",
            "Time from the request's arrival to the first body byte (a stream's first event).",
            self._first_byte,
        )

    def _histogram(
        self, name: str, documentation: str, histograms: dict[str, _Histogram]
    ) -> HistogramMetricFamily:
        family = HistogramMetricFamily(name, documentation, labels=["route"])
        upper = [*(_go_float(bound) for bound in self._bounds), "+Inf"]
        for route, histogram in list(histograms.items()):
            cumulative, buckets = 0, []
            for bound, count in zip(upper, list(histogram.counts), strict=True):
                cumulative += count
                buckets.append((bound, float(cumulative)))
            family.add_metric([route], buckets, histogram.total)
        return family


def _go_float(value: float) -> str:
    """A bucket bound as prometheus_client writes it (`0.005`, `1.0`, `+Inf`)."""
    text: str = floatToGoString(value)  # type: ignore[no-untyped-call]
    return text
