"""What the shared counters' outage policy reports (/readyz, /metrics), and two small rules
it applies (`counter_outage`)."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any, Literal

OutageMode = Literal["fail_closed", "per_replica"]


@dataclass(slots=True)
class OutageStats:
    """What /readyz and /metrics say about the shared counters."""

    mode: OutageMode
    replicas: int
    down_since: float | None = None  # time.time() of this outage's start; None: shared
    outages: int = 0
    refused: int = 0  # requests answered 503 because Redis was down (fail_closed)
    per_replica: int = 0  # decisions made here alone (per_replica)
    new_epochs: int = 0  # times Redis came back empty
    uncertain: int = 0  # changes cut off mid-call, resolved to the safe side (module doc)

    @property
    def state(self) -> str:
        return "shared" if self.down_since is None else self.mode


def describe(stats: OutageStats) -> dict[str, Any]:
    """The /readyz view of the shared counters."""
    body: dict[str, Any] = {"state": stats.state, "redis_outage": stats.mode}
    if stats.down_since is not None:
        body["down_for_s"] = round(time.time() - stats.down_since, 1)
    return body


def uncertain(exc: BaseException) -> bool:
    """Whether a failed call may have reached Redis: anything but a failure to connect
    (redis-py's connect errors say so; a write on a closed connection was not sent)."""
    text = str(exc)
    return not ("connecting to" in text or "before write" in text)


def part(limit: int | None, replicas: int) -> int | None:
    """One replica's share of a rate limit while Redis is down (at least 1)."""
    return None if limit is None else max(1, limit // replicas)
