"""A per-channel circuit breaker: a channel that keeps failing is left alone for a while.

closed ──N consecutive failures──► open ──cool-down over──► half-open (one probe)
  ▲                                  ▲                          │
  └────────── probe succeeds ────────┴──── probe fails ─────────┘
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Literal

State = Literal["closed", "open", "half_open"]


class CircuitBreaker:
    def __init__(
        self, failures: int, cooldown: float, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._threshold = failures
        self._cooldown = cooldown
        self._clock = clock
        self._failures = 0
        self._opened_at = 0.0
        self._probing = False
        self.state: State = "closed"

    def allow(self) -> bool:
        """May a request go to this channel now? Takes the half-open probe if it is free."""
        if self.state == "closed":
            return True
        if self.state == "open" and self._clock() - self._opened_at >= self._cooldown:
            self.state = "half_open"
            self._probing = False
        if self.state == "half_open" and not self._probing:
            self._probing = True
            return True
        return False

    def abandon(self) -> None:
        """The probe was cancelled before it told anything: let the next request probe."""
        if self.state == "half_open":
            self._probing = False

    def success(self) -> None:
        self.state, self._failures, self._probing = "closed", 0, False

    def failure(self) -> None:
        self._failures += 1
        if self.state == "half_open" or self._failures >= self._threshold:
            self.state, self._opened_at, self._probing = "open", self._clock(), False
