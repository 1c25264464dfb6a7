"""Which channel next: by priority (lowest first), then, within a priority, the session's
own order (affinity) or a weighted random draw.

Channels whose breaker is open, that asked us to back off (429 Retry-After) or that are at
their concurrency limit while a sibling has room, are passed over; the order is drawn
lazily so a half-open probe is only taken by a channel that is really tried. A session
(`affinity.Affinity`) keeps to its channel while it is up: pinned channels first, then the
rendezvous order of its key; passed-over channels move it on in that same order.
"""

from __future__ import annotations

import random
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from itertools import groupby

from thinkgate.backends.upstream.affinity import Affinity, score
from thinkgate.backends.upstream.channel import Channel


@dataclass(slots=True, frozen=True)
class Route:
    channel: Channel
    upstream_model: str  # the name this channel knows the public model by


def draw_order(
    routes: Sequence[Route], rng: random.Random | None = None, affinity: Affinity | None = None
) -> list[Route]:
    """Priority groups in order; inside each, the session's order or a weighted shuffle."""
    if len(routes) == 1:  # the usual case: nothing to draw
        return list(routes)
    rng = rng or random.Random()
    ordered: list[Route] = []
    by_priority = sorted(routes, key=lambda route: route.channel.config.priority)
    for _, group in groupby(by_priority, key=lambda route: route.channel.config.priority):
        members = list(group)
        if affinity is not None and affinity.key is not None:
            members = rendezvous(affinity.key, members)
        else:
            members = _shuffled(members, rng)
        if affinity is not None and affinity.pinned:
            rank = {name: index for index, name in enumerate(affinity.pinned)}
            members.sort(key=lambda r: rank.get(r.channel.name, len(rank)))
        # a channel with room goes before a full one of the same priority
        members.sort(key=lambda r: r.channel.full)
        ordered += members
    return ordered


def rendezvous(key: str, routes: Sequence[Route]) -> list[Route]:
    """`routes` by their weighted rendezvous score for `key`, best first."""
    return sorted(
        routes,
        key=lambda r: score(key, r.channel.name, r.channel.config.weight),
        reverse=True,
    )


def _shuffled(members: list[Route], rng: random.Random) -> list[Route]:
    """A weighted shuffle (Efraimidis–Spirakis)."""
    keys = {id(r): rng.random() ** (1.0 / r.channel.config.weight) for r in members}
    return sorted(members, key=lambda r: keys[id(r)], reverse=True)


def candidates(
    routes: Sequence[Route], rng: random.Random | None = None, affinity: Affinity | None = None
) -> Iterator[Route]:
    """The routes worth trying, in order; each is admitted (breaker, back-off) when reached."""
    for route in draw_order(routes, rng, affinity):
        if route.channel.cooling_down:
            continue
        if route.channel.breaker.allow():
            yield route
