"""Pool the paired runs of several `bench.engine` results files (same machine, same code):
the server's TTFT added to raw's and its decode ratio, as medians over every pair with a
bootstrap 95% interval. One run of 8–16 pairs moves its paired median by ±10 ms on this VM
(docs/benchmarks.md); the pool says what the runs agree on.

    python -m bench.engine_pool bench/results/engine.json /tmp/other.json [--situation cold]
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
from pathlib import Path

import orjson

RAW, SERVER = "raw llama-cpp-python", "thinkgate server"


def pairs(paths: list[Path], situation: str) -> list[tuple[float, float]]:
    """(TTFT added, decode ratio) of each server run and the raw run of its round."""
    pooled: list[tuple[float, float]] = []
    for path in paths:
        runs = orjson.loads(path.read_bytes())["runs"].get(situation, {})
        for raw, server in zip(runs.get(RAW, []), runs.get(SERVER, []), strict=True):
            ratio = server["decode_tok_s"] / raw["decode_tok_s"]
            pooled.append((server["ttft_ms"] - raw["ttft_ms"], ratio))
    return pooled


def interval(values: list[float], rounds: int = 4000, seed: int = 1) -> tuple[float, float]:
    """The bootstrap 95% interval of the median."""
    draw = random.Random(seed)
    medians = sorted(statistics.median(draw.choices(values, k=len(values))) for _ in range(rounds))
    return medians[int(0.025 * rounds)], medians[int(0.975 * rounds) - 1]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.engine_pool", description=__doc__)
    parser.add_argument("files", nargs="+", type=Path)
    parser.add_argument("--situation", default="cold", choices=["cold", "repeat"])
    args = parser.parse_args(argv)
    pooled = pairs(args.files, args.situation)
    if not pooled:
        print(f"no {args.situation} pairs in {', '.join(map(str, args.files))}")
        return 1
    added = [a for a, _ in pooled]
    ratios = [r for _, r in pooled]
    low, high = interval(added)
    ratio_low, ratio_high = interval(ratios)
    print(
        f"{args.situation}: {len(pooled)} pairs from {len(args.files)} files; TTFT added "
        f"{statistics.median(added):+.1f} ms (95% {low:+.1f} to {high:+.1f}; target ≤ +20); "
        f"decode {statistics.median(ratios):.3f}x raw (95% {ratio_low:.3f} to "
        f"{ratio_high:.3f}; target ≥ 0.97)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
