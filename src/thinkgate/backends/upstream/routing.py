"""Which channel next: by priority (lowest first), then weighted random within a priority.

Channels whose breaker is open, that asked us to back off (429 Retry-After) or that are at
their concurrency limit while a sibling has room, are passed over; the order is drawn
lazily so a half-open probe is only taken by a channel that is really tried.
"""

from __future__ import annotations

import random
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from itertools import groupby

from thinkgate.backends.upstream.channel import Channel


@dataclass(slots=True, frozen=True)
class Route:
    channel: Channel
    upstream_model: str  # the name this channel knows the public model by


def draw_order(routes: Sequence[Route], rng: random.Random | None = None) -> list[Route]:
    """Priority groups in order; inside each, a weighted shuffle (Efraimidis–Spirakis)."""
    if len(routes) == 1:  # the usual case: nothing to draw
        return list(routes)
    rng = rng or random.Random()
    ordered: list[Route] = []
    by_priority = sorted(routes, key=lambda route: route.channel.config.priority)
    for _, group in groupby(by_priority, key=lambda route: route.channel.config.priority):
        members = list(group)
        keys = {id(r): rng.random() ** (1.0 / r.channel.config.weight) for r in members}
        members.sort(key=lambda r: keys[id(r)], reverse=True)
        # a channel with room goes before a full one of the same priority
        members.sort(key=lambda r: r.channel.full)
        ordered += members
    return ordered


def candidates(routes: Sequence[Route], rng: random.Random | None = None) -> Iterator[Route]:
    """The routes worth trying, in order; each is admitted (breaker, back-off) when reached."""
    for route in draw_order(routes, rng):
        if route.channel.cooling_down:
            continue
        if route.channel.breaker.allow():
            yield route
