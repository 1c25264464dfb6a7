"""Adaptive reasoning: tokens, accuracy and latency per effort on the bundled suites.

Method: one `thinkgate serve` subprocess with two models over the same SmolLM2-135M GGUF:
`smollm2-135m-instruct` (adaptive, the default) and `smollm2-fixed` (the same model with
`adaptive_reasoning = false`: it thinks until it stops or reaches the effort's cap, with no
difficulty probe and no early exit). The first `--limit` items of each suite are sent to
both through the official `openai` SDK (`thinkgate.evals`), one request at a time, greedy;
`max_output_tokens` is the effort's cap + 24 so an answer cannot ramble on. Reported per
model, suite and effort: exact-match accuracy, mean reasoning and output tokens per item
(from `usage`), mean latency per item. Results: `bench/results/reasoning.json`.

    .venv/bin/python -m bench.reasoning [--limit 5] [--efforts none,low,medium,high]
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import tempfile
from pathlib import Path

from openai import OpenAI

from tests.server import ADMIN_KEY, ServerProcess
from thinkgate.evals import EffortResult, load_suite, run_suite
from thinkgate.reasoning import budget_for

REPO = Path(__file__).resolve().parent.parent
RESULTS = REPO / "bench" / "results" / "reasoning.json"
ADAPTIVE, FIXED = "smollm2-135m-instruct", "smollm2-fixed"
CONTEXT = 8192  # the default n_ctx: budgets are a share of it
ANSWER_ROOM = 24  # max_output_tokens = the effort's cap + this
CONFIG = f'[[local_models]]\nname = "{FIXED}"\nadaptive_reasoning = false\n'


def _row(model: str, suite: str, result: EffortResult) -> dict[str, object]:
    return {
        "model": model,
        "mode": "adaptive" if model == ADAPTIVE else "fixed",
        "suite": suite,
        "effort": result.effort,
        "items": len(result.items),
        "accuracy": result.accuracy,
        "reasoning_tokens": result.reasoning_tokens,
        "output_tokens": result.output_tokens,
        "latency_s": result.latency_s,
        "errors": result.errors,
    }


def run(limit: int, efforts: list[str]) -> list[dict[str, object]]:
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        config = Path(tmp) / "thinkgate.toml"
        config.write_text(CONFIG)
        server = ServerProcess(Path(tmp) / "data", config=config)
        try:
            client = OpenAI(
                base_url=f"{server.base_url}/v1", api_key=ADMIN_KEY, max_retries=0, timeout=900
            )
            plan = [(ADAPTIVE, effort) for effort in efforts] + [(FIXED, "high")]
            for suite in ("easy", "hard"):
                items = load_suite(suite)[:limit]
                for model, effort in plan:
                    cap = budget_for(effort, CONTEXT) + ANSWER_ROOM
                    (result,) = run_suite(client, model, items, [effort], max_output_tokens=cap)
                    rows.append(_row(model, suite, result))
                    print(_markdown_row(rows[-1]), flush=True)
        finally:
            server.stop()
    return rows


def _markdown_row(row: dict[str, object]) -> str:
    return (
        f"| {row['mode']} | {row['suite']} | {row['effort']} | {row['items']} | "
        f"{float(row['accuracy']):.0%} | {float(row['reasoning_tokens']):.1f} | "  # type: ignore[arg-type]
        f"{float(row['output_tokens']):.1f} | {float(row['latency_s']):.2f} |"  # type: ignore[arg-type]
    )


def markdown(rows: list[dict[str, object]]) -> str:
    header = (
        "| mode | suite | effort | items | accuracy | reasoning tok/item | output tok/item "
        "| latency s/item |\n|---|---|---|---|---|---|---|---|"
    )
    lines = [header, *(_markdown_row(row) for row in rows)]

    def find(mode: str, suite: str, effort: str) -> dict[str, object] | None:
        for row in rows:
            if (row["mode"], row["suite"], row["effort"]) == (mode, suite, effort):
                return row
        return None

    adaptive_easy = find("adaptive", "easy", "high")
    fixed_easy = find("fixed", "easy", "high")
    adaptive_hard = find("adaptive", "hard", "high")
    if adaptive_easy and fixed_easy and adaptive_hard:
        a_easy = float(adaptive_easy["reasoning_tokens"])  # type: ignore[arg-type]
        f_easy = float(fixed_easy["reasoning_tokens"])  # type: ignore[arg-type]
        a_hard = float(adaptive_hard["reasoning_tokens"])  # type: ignore[arg-type]
        lines.append("")
        lines.append(
            f"Easy suite, effort high: adaptive {a_easy:.1f} vs fixed {f_easy:.1f} reasoning "
            f"tokens per item ({a_easy / f_easy if f_easy else 0:.2f}x; target ≤ 0.20x)."
        )
        lines.append(
            f"Adaptive high: hard {a_hard:.1f} vs easy {a_easy:.1f} reasoning tokens per item "
            f"({a_hard / a_easy if a_easy else float('inf'):.1f}x; target ≥ 3x)."
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--limit", type=int, default=5, help="items per suite (first N)")
    parser.add_argument("--efforts", default="none,low,medium,high")
    args = parser.parse_args()
    efforts = [e.strip() for e in args.efforts.split(",") if e.strip()]
    started = dt.datetime.now(dt.UTC)
    rows = run(args.limit, efforts)
    table = markdown(rows)
    print("\n" + table)
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(
        json.dumps({"started": started.isoformat(), "limit": args.limit, "rows": rows}, indent=1)
    )


if __name__ == "__main__":
    main()
