"""Before/after in one run: thinkgate from an older source tree beside the current one.

On a busy machine two separate runs are not comparable; here both versions (and LiteLLM,
and the stand-in as the limit) are loaded in turns, for several short rounds, and the
medians are printed. The older tree is any `src/` directory, for example:

    git archive a808399 src | tar -x -C /tmp/before
    .venv/bin/python -m bench.overhead.compare --baseline-src /tmp/before/src [--skip-litellm]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import tempfile
from pathlib import Path
from typing import Any

import uvloop

from bench.overhead.__main__ import _start_litellm, _start_thinkgate, start_standin
from bench.overhead.load import chat_body, in_turns


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--baseline-src", type=Path, required=True)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument("--connections", default="1,32")
    parser.add_argument("--litellm-version", default="1.110.2")
    parser.add_argument("--skip-litellm", action="store_true")
    args = parser.parse_args()
    uvloop.run(_compare(args))


async def _compare(args: argparse.Namespace) -> None:
    tmp = Path(tempfile.mkdtemp())
    processes: list[subprocess.Popen[bytes]] = []
    try:
        standin = start_standin(tmp, processes)
        targets: dict[str, tuple[str, dict[str, str]]] = {
            "direct": (f"{standin}/v1/chat/completions", {})
        }
        (tmp / "now").mkdir()
        (tmp / "before").mkdir()
        targets["now"] = _start_thinkgate(tmp / "now", standin, processes)
        saved = os.environ.get("PYTHONPATH")
        os.environ["PYTHONPATH"] = str(args.baseline_src.resolve())  # the child imports it
        try:
            targets["before"] = _start_thinkgate(tmp / "before", standin, processes)
        finally:
            os.environ.pop("PYTHONPATH")
            if saved is not None:
                os.environ["PYTHONPATH"] = saved
        if not args.skip_litellm:
            targets["litellm"] = _start_litellm(tmp, standin, args.litellm_version, processes)
        rows: dict[tuple[str, bool, int], list[dict[str, Any]]] = {}
        for stream in (False, True):
            body = chat_body(stream)
            for conns in (int(c) for c in args.connections.split(",")):
                parts = await in_turns(
                    targets, body, connections=conns, rounds=args.rounds, seconds=args.seconds
                )
                for name, results in parts.items():
                    rows[(name, stream, conns)] = [result.summary() for result in results]
        _print(rows)
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()


def _print(rows: dict[tuple[str, bool, int], list[dict[str, Any]]]) -> None:
    print(f"{'target':8} {'mode':6} {'conns':>5} {'req/s':>9} {'p50 ms':>8} {'p99 ms':>8}  rounds")
    for (name, stream, conns), runs in rows.items():
        rps = statistics.median(float(r["rps"]) for r in runs)
        p50 = statistics.median(float(r["p50_ms"]) for r in runs)
        p99 = statistics.median(float(r["p99_ms"]) for r in runs)
        mode = "stream" if stream else "json"
        each = [r["rps"] for r in runs]
        print(f"{name:8} {mode:6} {conns:>5} {rps:>9.1f} {p50:>8.2f} {p99:>8.2f}  {each}")


if __name__ == "__main__":
    main()
