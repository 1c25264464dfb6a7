"""A server's `/metrics`, scraped and parsed by prometheus_client's own parser (so a scrape
that parses is valid exposition), and one sample read from it."""

from __future__ import annotations

from typing import Any

import httpx
from prometheus_client.parser import text_string_to_metric_families

from tests.support.server import ADMIN_KEY

Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


def metrics(base_url: str) -> Samples:
    """Every sample of a scrape, keyed by name and sorted labels."""
    reply = httpx.get(f"{base_url}/metrics", headers={"Authorization": f"Bearer {ADMIN_KEY}"})
    assert reply.status_code == 200, reply.text
    assert reply.headers["content-type"].startswith("text/plain; version=0.0.4")
    samples = {}
    for family in text_string_to_metric_families(reply.text):
        for sample in family.samples:
            samples[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return samples


def value(samples: dict[Any, float], name: str, **labels: str) -> float:
    """One sample's value (0 where the scrape has none)."""
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)
