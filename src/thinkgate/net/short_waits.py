"""Waits for a peer's reply that tend to be short are polled for, not slept through.

When the process sleeps in `epoll_wait` and its CPU goes idle, the peer's next write has to
wake that CPU; on a virtual machine that is an inter-processor interrupt through the
hypervisor. Measured on the 2-core VM the benchmarks run on (a loopback TCP ping-pong,
two processes): a write to a sleeping peer cost 30-150 µs in the writer and a round trip
130-390 µs; to a peer that was polling, 10 µs and 40 µs. A proxied request has two such
waits of its own (its upstream's reply, then the client's next request on the connection),
so the loop polls through them for a while before it sleeps, as Linux's guest halt-polling
and Go's scheduler do.

How long is learned per kind of wait, the halt-polling way: the window starts at 0, doubles
(from `GROW_START`) after each wait that ended within `max_window` but outside the window,
and halves after each wait longer than `max_window` (to 0 below `GROW_START`). A language
model that answers in tens of milliseconds drives it to 0 within a few requests, and then
nothing is polled; a same-host upstream or a client sending back to back grows it. Polling
stops as soon as no wait is pending, so a window is an upper bound, never a cost paid in
full when the reply comes sooner. `max_window = 0` turns it off.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

GROW_START = 50e-6  # seconds: the first window after a short wait (halt-polling's default)


class WaitPoller:
    """One kind of wait (an upstream's replies, clients' next requests): its window, and the
    loop kept polling while any of its waits is pending and within the window."""

    __slots__ = ("_clock", "_deadline", "_loop", "_pending", "_spinning", "max_window", "window")

    def __init__(self, max_window: float, clock: Callable[[], float] = time.perf_counter):
        self.max_window = max(0.0, max_window)
        self.window = 0.0
        self._clock = clock
        self._pending = 0
        self._deadline = 0.0
        self._spinning = False
        self._loop: asyncio.AbstractEventLoop | None = None

    @property
    def pending(self) -> int:
        """Waits begun and not yet answered or abandoned."""
        return self._pending

    @property
    def polling(self) -> bool:
        """Whether the loop is being kept turning for a wait."""
        return self._spinning

    def waiting(self, loop: asyncio.AbstractEventLoop) -> float:
        """A request is out and its reply awaited (on `loop`): polls for the current window.
        Returns the wait's start, to be given back to `answered` or `abandoned` exactly once."""
        now = self._clock()
        self._pending += 1
        if self.window > 0.0:
            self._deadline = max(self._deadline, now + self.window)
            if not self._spinning or loop is not self._loop:  # a new loop: the old one is gone
                self._spinning = True
                self._loop = loop
                loop.call_soon(self._spin)
        return now

    def answered(self, since: float) -> None:
        """The reply began to arrive: the wait's length teaches the window."""
        self._end()
        waited = self._clock() - since
        if waited <= self.window:
            return
        if waited <= self.max_window:  # polling longer would have caught it
            self.window = min(self.max_window, max(GROW_START, self.window * 2))
        else:  # polling this long was wasted: poll less
            self.window = self.window / 2 if self.window / 2 >= GROW_START else 0.0

    def abandoned(self) -> None:
        """The wait ended without a reply (connection closed): nothing to learn from it."""
        self._end()

    def _end(self) -> None:
        self._pending -= 1
        if self._pending <= 0:
            self._pending = 0
            self._deadline = 0.0  # nothing left to poll for

    def _spin(self) -> None:
        """One turn of the loop: a callback ready makes it poll its sockets without blocking."""
        loop = self._loop
        if loop is not None and self._clock() < self._deadline and not loop.is_closed():
            loop.call_soon(self._spin)
        else:
            self._spinning = False
