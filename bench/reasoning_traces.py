"""Traced runs of a suite part on the embedded model, one JSON line per item, for
`thinkgate eval --calibrate --traces` (calibration part) and the held-out figures
(`bench.reasoning --replay`, test part).

Each item is thought through to `--cap` thinking tokens (or to where the model ends its
thought), greedy, with an answer probe every 32 thinking tokens and none acted on
(`evals.tracing`). Items go round-robin over the suites, and within a suite over the
templates, so a run cut short still covers every template alike. Lines are appended as
they are made: a cut run keeps what it did, and a restarted one skips what is there.

    .venv/bin/python -m bench.reasoning_traces --split test --cap 512 \
        --out docs/reasoning-data/traces_test.jsonl [--limit 108] [--threads 1]
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
from pathlib import Path

from thinkgate.backends.local import LocalBackend
from thinkgate.config import LocalModelConfig
from thinkgate.evals.calibrate import check_calibration_only
from thinkgate.evals.suites import SUITES, EvalItem, load_suite
from thinkgate.evals.tracing import trace_item
from thinkgate.reasoning.policy import AdaptivePolicy


def interleaved(split: str, limit: int) -> list[EvalItem]:
    parts = [load_suite(suite, split)[:limit] for suite in SUITES]  # type: ignore[arg-type]
    rounds = itertools.zip_longest(*parts)
    return [item for group in rounds for item in group if item is not None]


async def run(args: argparse.Namespace) -> None:
    items = interleaved(args.split, args.limit)
    if args.split == "calibration":
        check_calibration_only(items)
    done: set[str] = set()
    if args.out.exists():
        done = {json.loads(line)["item_id"] for line in args.out.read_text().splitlines()}
    config = LocalModelConfig(name=args.model, threads=args.threads)
    backend = LocalBackend(config)
    try:
        with args.out.open("a") as out:
            for item in items:
                if item.id in done:
                    continue
                trace = await trace_item(backend, item, args.cap, AdaptivePolicy())
                out.write(json.dumps(trace.to_json()) + "\n")
                out.flush()
                print(item.id, trace.thought_tokens, trace.final_correct, flush=True)
    finally:
        await backend.aclose()


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--split", choices=["calibration", "test"], required=True)
    parser.add_argument("--cap", type=int, default=512)
    parser.add_argument("--limit", type=int, default=108, help="items per suite")
    parser.add_argument("--model", default="smollm2-135m-instruct")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    asyncio.run(run(args))


if __name__ == "__main__":
    main()
