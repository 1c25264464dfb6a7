"""The request metrics kept as plain numbers expose exactly what prometheus_client's own
Counter and Histograms would for the same requests (names, labels, buckets, sums)."""

from __future__ import annotations

import random

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Histogram,
    disable_created_metrics,
    generate_latest,
)

from thinkgate.ops.metrics import _LATENCY_BUCKETS
from thinkgate.ops.request_stats import RequestStats


def test_the_exposition_is_prometheus_clients_own() -> None:
    disable_created_metrics()  # as `Metrics()` does: no `_created` series
    reference = CollectorRegistry()
    requests = Counter(
        "thinkgate_http_requests",
        "HTTP requests answered, by route template, method, status and model.",
        ["route", "method", "status", "model"],
        registry=reference,
    )
    latency, first_byte = (
        Histogram(name, text, ["route"], buckets=_LATENCY_BUCKETS, registry=reference)
        for name, text in (
            (
                "thinkgate_http_request_duration_seconds",
                "Time from the request's arrival to the last byte of its response.",
            ),
            (
                "thinkgate_http_time_to_first_byte_seconds",
                "Time from the request's arrival to the first body byte (a stream's first event).",
            ),
        )
    )
    ours = CollectorRegistry()
    stats = RequestStats(_LATENCY_BUCKETS)
    ours.register(stats)

    draw = random.Random(7)
    for i in range(2_000):
        route = draw.choice(["/v1/responses", "/v1/chat/completions", "unmatched"])
        status, model = draw.choice([200, 400, 429, 503]), draw.choice(["gpt-5.1", ""])
        # bounds themselves (a value on a bound falls in it), beyond the last, and between
        seconds = draw.choice([0.005, 0.01, 1.0, 300.0, 301.5, 0.0, draw.random() * 4])
        ttfb = None if i % 3 == 0 else seconds / 2
        requests.labels(route, "POST", str(status), model).inc()
        latency.labels(route).observe(seconds)
        if ttfb is not None:
            first_byte.labels(route).observe(ttfb)
        stats.observe(route, "POST", status, model, seconds, ttfb)

    expected = generate_latest(reference).decode().splitlines()
    assert sorted(generate_latest(ours).decode().splitlines()) == sorted(expected)
