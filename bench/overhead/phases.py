"""Where one proxied request's time goes: thinkgate's path, step by step.

Starts the stand-in and thinkgate (the `bench.overhead` configuration: a channel, a key with
limits, the ledger on), loads it with one connection, and prints the median time between
successive points of the request's path. The server runs as `bench.overhead.phases_server`,
which wraps the functions named in `PROBES` with a timestamp before or after the call and
then runs thinkgate's own command line; nothing in `src/` knows about it.

    .venv/bin/python -m bench.overhead.phases [--seconds 5] [--stream]

The wrapping costs about a microsecond a point and slows the whole cycle by ~15%, mostly in
thinkgate's own steps: read the steps against each other, and the cycle against an
unwrapped `bench.overhead` run. docs/benchmarks.md (session 17) has a reading.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import tempfile
from pathlib import Path

import uvloop

from bench.overhead.__main__ import _start_thinkgate, start_standin
from bench.overhead.load import chat_body, run_load


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--stream", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        steps = uvloop.run(_measure(Path(tmp), args.seconds, args.stream))
    print(f"{'from':>40} → {'to':<40} {'µs':>8}")
    for start, end, micros in steps:
        print(f"{start:>40} → {end:<40} {micros:>8.1f}")
    print(f"{'one request to the next (sum of medians)':>83} {sum(s[2] for s in steps):>8.1f}")


async def _measure(tmp: Path, seconds: float, stream: bool) -> list[tuple[str, str, float]]:
    processes: list[subprocess.Popen[bytes]] = []
    report = tmp / "phases.json"
    try:
        standin = start_standin(tmp, processes)
        url, headers = _start_thinkgate(
            tmp / "thinkgate",
            standin,
            processes,
            module="bench.overhead.phases_server",
            env={"THINKGATE_PHASES_REPORT": str(report)},
        )
        headers = {**headers, "content-type": "application/json"}
        await run_load(url, headers, chat_body(stream), connections=1, seconds=seconds)
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            process.wait(timeout=15)
    steps: list[tuple[str, str, float]] = [tuple(step) for step in json.loads(report.read_text())]
    return steps


if __name__ == "__main__":
    main()
