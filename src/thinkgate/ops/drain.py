"""Graceful shutdown: SIGTERM starts draining, in-flight requests finish, nothing billed is lost.

SIGTERM ─► draining: new requests 503, /readyz 503 (load balancers take us out)
        ─► after `shutdown_drain_seconds`: the listener closes (uvicorn)
        ─► in-flight requests run on for up to `shutdown_grace_seconds`, then are cancelled
           (a cancelled stream still settles: its usage is billed in a shielded finally)
        ─► lifespan end: wait for settling, flush the ledger, close the database
"""

from __future__ import annotations

import asyncio
import time
from types import FrameType

import uvicorn


class Drain:
    """Whether the server is going away, and how many requests are still in flight."""

    def __init__(self) -> None:
        self.draining = False
        self.in_flight = 0

    def start(self) -> None:
        self.draining = True

    async def wait_idle(self, within: float) -> bool:
        """Wait for in-flight requests to settle (true when none is left)."""
        deadline = time.monotonic() + within
        while self.in_flight > 0 and time.monotonic() < deadline:  # noqa: ASYNC110 (a counter, polled only at shutdown)
            await asyncio.sleep(0.02)
        return self.in_flight == 0


class DrainingServer(uvicorn.Server):
    """uvicorn, told about the signal first: the app drains before the listener closes."""

    def __init__(self, config: uvicorn.Config, drain: Drain, drain_seconds: float) -> None:
        super().__init__(config)
        self._drain = drain
        self._drain_seconds = drain_seconds
        self._exit_at: float | None = None

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        if self._drain.draining or self._drain_seconds <= 0:  # a second signal: go now
            self._drain.start()
            super().handle_exit(sig, frame)
            return
        self._drain.start()
        self._exit_at = time.monotonic() + self._drain_seconds

    async def on_tick(self, counter: int) -> bool:
        if self._exit_at is not None and time.monotonic() >= self._exit_at:
            self.should_exit = True
        return await super().on_tick(counter)
