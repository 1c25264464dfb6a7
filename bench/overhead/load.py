"""The load generator: N keep-alive connections, each sending requests back to back.

Latency is request sent → last byte of the body (streaming: the last chunk, after
`[DONE]`). The client is a bare HTTP/1.1 one on asyncio streams (pre-built request bytes,
Content-Length or chunked bodies): a full client library costs more per request than the
stand-in upstream does, and would flatten every target toward its own speed. The
`direct` row (the stand-in alone) shows what this client plus the stand-in can do.
"""

from __future__ import annotations

import asyncio
import json
import statistics
import time
from dataclasses import dataclass
from urllib.parse import urlsplit

REPLY_TIMEOUT_S = 30.0  # a reply slower than this is an error (and its connection dropped)


@dataclass(slots=True, frozen=True)
class LoadResult:
    requests: int
    errors: int
    seconds: float
    latencies_ms: list[float]

    @classmethod
    def combined(cls, parts: list[LoadResult]) -> LoadResult:
        """Several runs of one target as one: requests, errors and time summed, every
        latency kept (the rounds of `bench.overhead`)."""
        return cls(
            sum(part.requests for part in parts),
            sum(part.errors for part in parts),
            sum(part.seconds for part in parts),
            [latency for part in parts for latency in part.latencies_ms],
        )

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


def chat_body(stream: bool) -> bytes:
    """The one request every target gets: a short chat completion through gpt-5.1."""
    return json.dumps(
        {
            "model": "gpt-5.1",
            "messages": [{"role": "user", "content": "Say hello."}],
            "max_completion_tokens": 16,
            "stream": stream,
        }
    ).encode()


async def run_load(
    url: str,
    headers: dict[str, str],
    body: bytes,
    *,
    connections: int,
    seconds: float,
    warmup: float = 1.0,
) -> LoadResult:
    target = urlsplit(url)
    host, port = target.hostname or "127.0.0.1", target.port or 80
    request = _request_bytes(target.path, f"{host}:{port}", headers, body)
    started = time.perf_counter()
    measure_from = started + warmup
    stop_at = measure_from + seconds
    latencies: list[float] = []
    errors = 0

    async def worker() -> None:
        nonlocal errors
        connection: tuple[asyncio.StreamReader, asyncio.StreamWriter] | None = None
        while True:
            sent = time.perf_counter()
            if sent >= stop_at:
                break
            try:
                if connection is None:
                    connection = await asyncio.open_connection(host, port)
                    sent = time.perf_counter()
                reader, writer = connection
                writer.write(request)
                async with asyncio.timeout(REPLY_TIMEOUT_S):
                    status, keep_alive = await _read_reply(reader)
                ok = status == 200
                if not keep_alive:
                    writer.close()
                    connection = None
            except (OSError, asyncio.IncompleteReadError, ValueError, TimeoutError):
                ok = False
                if connection is not None:
                    connection[1].close()
                connection = None
            done = time.perf_counter()
            if sent >= measure_from and done <= stop_at:
                if ok:
                    latencies.append((done - sent) * 1000)
                else:
                    errors += 1
        if connection is not None:
            connection[1].close()

    await asyncio.gather(*(worker() for _ in range(connections)))
    return LoadResult(len(latencies), errors, seconds, latencies)


Target = tuple[str, dict[str, str]]  # (URL, headers)


async def in_turns(
    targets: dict[str, Target], body: bytes, *, connections: int, rounds: int, seconds: float
) -> dict[str, list[LoadResult]]:
    """Each target loaded `rounds` times for `seconds`, the targets taking turns, so a noisy
    spell on a shared machine falls on all of them alike."""
    results: dict[str, list[LoadResult]] = {name: [] for name in targets}
    for _ in range(rounds):
        for name, (url, headers) in targets.items():
            results[name].append(
                await run_load(
                    url,
                    {**headers, "content-type": "application/json"},
                    body,
                    connections=connections,
                    seconds=seconds,
                )
            )
    return results


def _request_bytes(path: str, host: str, headers: dict[str, str], body: bytes) -> bytes:
    lines = [f"POST {path} HTTP/1.1", f"Host: {host}", f"Content-Length: {len(body)}"]
    lines += [f"{name}: {value}" for name, value in headers.items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


async def _read_reply(reader: asyncio.StreamReader) -> tuple[int, bool]:
    """Reads one whole reply; (status, whether the connection stays open)."""
    head = await reader.readuntil(b"\r\n\r\n")
    status_line, *header_lines = head.decode("latin-1").split("\r\n")
    status = int(status_line.split(" ", 2)[1])
    fields: dict[str, str] = {}
    for line in header_lines:
        name, _, value = line.partition(":")
        if name:
            fields[name.strip().lower()] = value.strip().lower()
    if "content-length" in fields:
        await reader.readexactly(int(fields["content-length"]))
    elif fields.get("transfer-encoding") == "chunked":
        while True:
            size = int((await reader.readuntil(b"\r\n")).split(b";")[0], 16)
            if size == 0:
                while await reader.readuntil(b"\r\n") != b"\r\n":
                    pass  # trailers, then the blank line
                break
            await reader.readexactly(size + 2)
    else:
        await reader.read()  # delimited by the connection closing
        return status, False
    return status, fields.get("connection") != "close"
