"""The load generator: N keep-alive connections, each sending requests back to back.

Latency is request sent → last byte of the body (streaming: after `[DONE]`).
"""

from __future__ import annotations

import asyncio
import statistics
import time
from dataclasses import dataclass

import httpx


@dataclass(slots=True, frozen=True)
class LoadResult:
    requests: int
    errors: int
    seconds: float
    latencies_ms: list[float]

    @property
    def rps(self) -> float:
        return self.requests / self.seconds

    def percentile(self, p: float) -> float:
        if not self.latencies_ms:
            return float("nan")
        ordered = sorted(self.latencies_ms)
        return ordered[min(len(ordered) - 1, int(p / 100 * len(ordered)))]

    def summary(self) -> dict[str, float | int]:
        return {
            "requests": self.requests,
            "errors": self.errors,
            "rps": round(self.rps, 1),
            "p50_ms": round(self.percentile(50), 3),
            "p99_ms": round(self.percentile(99), 3),
            "mean_ms": round(statistics.fmean(self.latencies_ms), 3) if self.latencies_ms else 0,
        }


async def run_load(
    url: str,
    headers: dict[str, str],
    body: bytes,
    *,
    connections: int,
    seconds: float,
    warmup: float = 1.0,
) -> LoadResult:
    limits = httpx.Limits(max_connections=connections, max_keepalive_connections=connections)
    async with httpx.AsyncClient(limits=limits, timeout=30, trust_env=False) as client:
        started = time.perf_counter()
        measure_from = started + warmup
        stop_at = measure_from + seconds
        latencies: list[float] = []
        errors = 0

        async def worker() -> None:
            nonlocal errors
            while True:
                sent = time.perf_counter()
                if sent >= stop_at:
                    return
                try:
                    async with client.stream("POST", url, headers=headers, content=body) as reply:
                        async for _ in reply.aiter_raw():
                            pass
                        ok = reply.status_code == 200
                except httpx.HTTPError:
                    ok = False
                done = time.perf_counter()
                if sent >= measure_from and done <= stop_at:
                    if ok:
                        latencies.append((done - sent) * 1000)
                    else:
                        errors += 1

        await asyncio.gather(*(worker() for _ in range(connections)))
    return LoadResult(len(latencies), errors, seconds, latencies)
