"""Soak: sustained load on loopback for minutes; memory must stay flat, nothing may fail,
and every request served must have exactly one ledger row.

One `thinkgate serve` (a `[[channels]]` entry to the fixed-response stand-in,
bench/overhead/standin.py; JSON logs; a member key with RPM/TPM limits and a USD budget, so
keys, rate limits, budget reservations and the batched ledger are all on) is driven at a
fixed request rate by `--connections` workers, alternating non-streaming and streaming
Chat Completions and Responses requests. The server's RSS is read from /proc every
`--sample` seconds. At the end the server gets SIGTERM (the ledger is flushed on the way
out) and the SQLite database is read directly: ledger rows, roll-up request count, and
the key's spend against the sum of the ledger's costs.

    .venv/bin/python -m bench.soak [--seconds 600] [--rps 40] [--connections 8]

Results go to bench/results/soak.json (committed with the figures in docs/benchmarks.md).
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import os
import platform
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

import httpx

from tests.support.server import free_port

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results" / "soak.json"
ADMIN_KEY = "sk-soak-admin-0123456789abcdef"
MIB = 1024 * 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=600.0)
    parser.add_argument("--rps", type=float, default=40.0, help="target request rate")
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument("--sample", type=float, default=30.0, help="seconds between RSS reads")
    parser.add_argument("--results", type=Path, default=RESULTS)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        record = run(Path(tmp), args.seconds, args.rps, args.connections, args.sample)
    _report(record, args.results)
    sys.exit(0 if record["ok"] else 1)


def run(tmp: Path, seconds: float, rps: float, connections: int, sample: float) -> dict[str, Any]:
    """Start the stand-in and thinkgate, load them, stop, and check the books."""
    processes: list[subprocess.Popen[bytes]] = []
    try:
        standin = _start(
            [sys.executable, "-m", "bench.overhead.standin"], tmp / "standin.log", "/v1/models"
        )
        processes.append(standin[0])
        server, base = _start_thinkgate(tmp, standin[1])
        processes.append(server)
        key_id, key = _make_key(base)
        load = asyncio.run(_load(base, key, server.pid, seconds, rps, connections, sample))
        spend = _spend(base, key_id)
        _stop(server)
        books = _books(tmp / "data" / "thinkgate.db", key_id)
    finally:
        for process in processes:
            _stop(process)
    served = load["served"]
    rss = load["rss_mib"]
    record = {
        "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "machine": {"cpus": os.cpu_count(), "platform": platform.platform()},
        "seconds": seconds,
        "target_rps": rps,
        "connections": connections,
        **load,
        "key_spend_usd": spend,
        **books,
        "rss_growth_mib": round(rss[-1][1] - rss[0][1], 1) if rss else None,
        "loadavg_after": os.getloadavg(),
    }
    record["ok"] = (
        load["errors"] == 0
        and books["ledger_rows"] == served
        and books["rollup_requests"] == served
        and spend == books["ledger_cost_usd"]
    )
    return record


def _start(command: list[str], log: Path, ready: str) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    process = subprocess.Popen(
        [*command, str(port)], stdout=log.open("wb"), stderr=subprocess.STDOUT, cwd=ROOT
    )
    base = f"http://127.0.0.1:{port}"
    _wait(f"{base}{ready}")
    return process, base


def _start_thinkgate(tmp: Path, standin: str) -> tuple[subprocess.Popen[bytes], str]:
    config = tmp / "thinkgate.toml"
    config.write_text(
        'log_format = "json"\n'
        "[[channels]]\n"
        'name = "fixed"\n'
        'kind = "openai-chat"\n'
        f'base_url = "{standin}/v1"\n'
        'models = { "gpt-5.1" = "fixed" }\n'
        "max_concurrency = 256\n"
    )
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("THINKGATE_")}
    env["THINKGATE_ADMIN_KEY"] = ADMIN_KEY
    command = [sys.executable, "-m", "thinkgate", "serve", "--port", str(port)]
    command += ["--data-dir", str(tmp / "data"), "--config", str(config)]
    process = subprocess.Popen(
        command, stdout=(tmp / "thinkgate.log").open("wb"), stderr=subprocess.STDOUT, env=env
    )
    base = f"http://127.0.0.1:{port}"
    _wait(f"{base}/healthz")
    return process, base


def _make_key(base: str) -> tuple[str, str]:
    admin = {"Authorization": f"Bearer {ADMIN_KEY}"}
    user = httpx.post(f"{base}/admin/v1/users", headers=admin, json={"name": "soak"})
    user.raise_for_status()
    reply = httpx.post(
        f"{base}/admin/v1/keys",
        headers=admin,
        json={
            "name": "soak",
            "user_id": user.json()["id"],
            "rpm": 1_000_000,
            "tpm": 1_000_000_000,
            "budget_usd": "1000",
        },
    )
    reply.raise_for_status()
    body = reply.json()
    return str(body["id"]), str(body["key"])


_REQUESTS: list[tuple[str, dict[str, Any]]] = [
    ("/v1/chat/completions", {"messages": [{"role": "user", "content": "Say hello."}]}),
    ("/v1/responses", {"input": "Say hello.", "store": False}),
]


async def _load(
    base: str,
    key: str,
    pid: int,
    seconds: float,
    rps: float,
    connections: int,
    sample: float,
) -> dict[str, Any]:
    limits = httpx.Limits(max_connections=connections, max_keepalive_connections=connections)
    headers = {"Authorization": f"Bearer {key}"}
    outcomes: Counter[str] = Counter()
    rss: list[tuple[float, float]] = []
    started = time.monotonic()
    interval = connections / rps  # each worker's pace
    async with httpx.AsyncClient(
        base_url=base, headers=headers, limits=limits, timeout=60, trust_env=False
    ) as client:

        async def worker(index: int) -> None:
            n = index
            next_at = started + index * interval / connections
            while (now := time.monotonic()) < started + seconds:
                if next_at > now:
                    await asyncio.sleep(next_at - now)
                next_at += interval
                path, body = _REQUESTS[n % 2]
                stream = (n // 2) % 2 == 1
                n += connections
                outcomes[await _one(client, path, {**body, "stream": stream})] += 1

        async def sampler() -> None:
            while (now := time.monotonic()) < started + seconds:
                rss.append((round(now - started, 1), _rss_mib(pid)))
                await asyncio.sleep(sample)

        await asyncio.gather(sampler(), *(worker(i) for i in range(connections)))
        rss.append((round(time.monotonic() - started, 1), _rss_mib(pid)))
    served = outcomes.pop("ok", 0)
    return {
        "served": served,
        "errors": sum(outcomes.values()),
        "error_kinds": dict(outcomes),
        "achieved_rps": round(served / seconds, 1),
        "rss_mib": rss,
    }


async def _one(client: httpx.AsyncClient, path: str, body: dict[str, Any]) -> str:
    body = {"model": "gpt-5.1", **body}
    try:
        async with client.stream("POST", path, json=body) as reply:
            raw = b"".join([chunk async for chunk in reply.aiter_raw()])
    except httpx.HTTPError as exc:
        return type(exc).__name__
    if reply.status_code != 200:
        return f"http_{reply.status_code}"
    if body["stream"]:
        finished = b"[DONE]" in raw or b"response.completed" in raw
        return "ok" if finished else "stream_unfinished"
    return "ok"


def _rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return round(int(line.split()[1]) / 1024, 1)
    return 0.0


def _spend(base: str, key_id: str) -> str:
    reply = httpx.get(
        f"{base}/admin/v1/keys/{key_id}", headers={"Authorization": f"Bearer {ADMIN_KEY}"}
    )
    reply.raise_for_status()
    return str(reply.json()["spend_usd"])


def _books(db: Path, key_id: str) -> dict[str, Any]:
    with sqlite3.connect(db) as connection:
        rows, pico = connection.execute(
            "SELECT count(*), coalesce(sum(cost_pico), 0) FROM ledger WHERE key_id = ?", (key_id,)
        ).fetchone()
        (rolled,) = connection.execute(
            "SELECT coalesce(sum(requests), 0) FROM usage_daily WHERE key_id = ?", (key_id,)
        ).fetchone()
        statuses = dict(
            connection.execute(
                "SELECT status, count(*) FROM ledger WHERE key_id = ? GROUP BY status", (key_id,)
            ).fetchall()
        )
    from thinkgate.gateway.pricing import usd

    return {
        "ledger_rows": rows,
        "rollup_requests": rolled,
        "ledger_statuses": statuses,
        "ledger_cost_usd": usd(pico),
    }


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _wait(url: str, timeout: float = 90.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if httpx.get(url, timeout=1.0).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"{url} did not come up in {timeout}s")


def _report(record: dict[str, Any], path: Path) -> None:
    rss = record["rss_mib"]
    print(json.dumps({k: v for k, v in record.items() if k != "rss_mib"}, indent=2))
    print("RSS MiB (t s, MiB): " + ", ".join(f"{t:g}:{m}" for t, m in rss))
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(record, indent=2) + "\n")
    print(f"written to {path}")


if __name__ == "__main__":
    main()
