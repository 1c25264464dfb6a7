"""Adaptive reasoning: tokens, accuracy, latency and cost per effort on the bundled suites.

Two ways to measure (docs/reasoning.md):

- `--replay TEST --calibration CAL`: the held-out figures from traced runs
  (`bench.reasoning_traces`), thresholds chosen on the calibration traces
  (`bench.reasoning_replay`); writes the picture `docs/reasoning-accuracy.png`/`.svg`.
- over HTTP (below): both models at every effort, through the API.

Method over HTTP: one `thinkgate serve` subprocess with two models over the same SmolLM2-135M GGUF:
`smollm2-135m-instruct` (adaptive, the default) and `smollm2-fixed` (the same model with
`adaptive_reasoning = false`: it thinks until it stops or reaches the effort's cap, with no
difficulty probe and no early exit). The first `--limit` items of each suite are sent
of each suite's held-out test part go through the official `openai` SDK
(`thinkgate.evals`), one request at a time, greedy;
`max_output_tokens` is the effort's cap + 24 so an answer cannot ramble on. The rows the
targets need (adaptive and fixed `high`, both suites) run first, then every other effort.
Reported per model, suite and effort: exact-match accuracy, mean reasoning and output
tokens per item (from `usage`), mean latency per item and the cost per 1,000 items at
thinkgate's default gpt-5.1 price. Token counts do not depend on CPU load; latencies do. Results are
saved after every row to `bench/results/reasoning.json`.

    .venv/bin/python -m bench.reasoning [--limit 20] [--efforts low,medium,high,xhigh] [--plot STEM]
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import tempfile
from collections.abc import Callable
from pathlib import Path

from openai import OpenAI

from tests.support.server import ADMIN_KEY, ServerProcess
from thinkgate.evals import EffortResult, load_suite, run_suite
from thinkgate.evals.plot import Line, PlotUnavailable, Point, draw
from thinkgate.evals.runner import Price
from thinkgate.reasoning import EFFORT_LADDER, budget_for

REPO = Path(__file__).resolve().parent.parent
RESULTS = REPO / "bench" / "results" / "reasoning.json"
ADAPTIVE, FIXED = "smollm2-135m-instruct", "smollm2-fixed"
CONTEXT = 8192  # the default n_ctx: budgets are a share of it
ANSWER_ROOM = 24  # max_output_tokens = the effort's cap + this


def config(threads: int | None) -> str:
    """Both models over the same file; `threads` pinned for a shared machine (llama.cpp's
    threads spin at their barriers: more threads than free cores is much slower)."""
    pinned = "" if threads is None else f"threads = {threads}\n"
    adaptive = f'[[local_models]]\nname = "{ADAPTIVE}"\n{pinned}'
    fixed = f'[[local_models]]\nname = "{FIXED}"\nadaptive_reasoning = false\n{pinned}'
    return adaptive + "\n" + fixed


SUITES = ("easy", "medium", "hard")
PRICE = Price()  # thinkgate's default gpt-5.1 price, USD per 1M tokens


def _row(model: str, suite: str, result: EffortResult) -> dict[str, object]:
    items = len(result.items)
    return {
        "model": model,
        "mode": "adaptive" if model == ADAPTIVE else "fixed",
        "suite": suite,
        "effort": result.effort,
        "items": items,
        "accuracy": result.accuracy,
        "reasoning_tokens": result.reasoning_tokens,
        "output_tokens": result.output_tokens,
        "latency_s": result.latency_s,
        "cost_per_1k_items_usd": float(result.cost(PRICE)) * 1000 / items if items else 0.0,
        "errors": result.errors,
        "correct": [r.correct for r in result.items],
        "reasoning": [r.reasoning_tokens for r in result.items],
    }


def plan(
    efforts: list[str], suites: tuple[str, ...] = SUITES, targets: bool = True
) -> list[tuple[str, str, str]]:
    """(suite, model, effort) runs: the targets' rows first, then the other efforts."""
    first = [(suite, model, "high") for suite in suites for model in (ADAPTIVE, FIXED)]
    rest = [(s, m, e) for s in suites for e in efforts if e != "high" for m in (ADAPTIVE, FIXED)]
    return (first if targets else []) + rest


Rows = list[dict[str, object]]


def run(
    limit: int,
    runs: list[tuple[str, str, str]],
    save: Callable[[Rows], None],
    threads: int | None = None,
) -> Rows:
    rows: Rows = []
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "thinkgate.toml"
        path.write_text(config(threads))
        server = ServerProcess(Path(tmp) / "data", config=path)
        try:
            client = OpenAI(
                base_url=f"{server.base_url}/v1", api_key=ADMIN_KEY, max_retries=0, timeout=900
            )
            for suite, model, effort in runs:
                items = load_suite(suite, "test")[:limit]
                cap = budget_for(effort, CONTEXT) + ANSWER_ROOM
                (result,) = run_suite(client, model, items, [effort], max_output_tokens=cap)
                rows.append(_row(model, suite, result))
                print(_markdown_row(rows[-1]), flush=True)
                save(rows)
        finally:
            server.stop()
    return rows


def _markdown_row(row: dict[str, object]) -> str:
    return (
        f"| {row['mode']} | {row['suite']} | {row['effort']} | {row['items']} | "
        f"{_f(row, 'accuracy'):.0%} | {_f(row, 'reasoning_tokens'):.1f} | "
        f"{_f(row, 'output_tokens'):.1f} | {_f(row, 'latency_s'):.2f} | "
        f"{_f(row, 'cost_per_1k_items_usd'):.4f} |"
    )


def _f(row: dict[str, object], key: str) -> float:
    value = row.get(key, 0.0)
    return float(value) if isinstance(value, int | float) else 0.0


def _order(row: dict[str, object]) -> tuple[int, int, int]:
    suite = SUITES.index(str(row["suite"])) if row["suite"] in SUITES else 9
    effort = EFFORT_LADDER.index(str(row["effort"])) if row["effort"] in EFFORT_LADDER else 9
    return suite, int(row["mode"] == "fixed"), effort


def markdown(rows: Rows) -> str:
    header = (
        "| mode | suite | effort | items | accuracy | reasoning tok/item | output tok/item "
        "| latency s/item | cost $/1k items |\n|---|---|---|---|---|---|---|---|---|"
    )
    lines = [header, *(_markdown_row(row) for row in sorted(rows, key=_order))]

    def find(mode: str, suite: str) -> dict[str, object] | None:
        for row in rows:
            if (row["mode"], row["suite"], row["effort"]) == (mode, suite, "high"):
                return row
        return None

    adaptive_easy, fixed_easy = find("adaptive", "easy"), find("fixed", "easy")
    adaptive_hard = find("adaptive", "hard")
    if adaptive_easy and fixed_easy and adaptive_hard:
        a_easy = _f(adaptive_easy, "reasoning_tokens")
        f_easy = _f(fixed_easy, "reasoning_tokens")
        a_hard = _f(adaptive_hard, "reasoning_tokens")
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
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--limit", type=int, default=20, help="items per suite (first N)")
    parser.add_argument("--efforts", default=",".join(EFFORT_LADDER[2:]))
    parser.add_argument("--plot", type=Path, default=None, help="picture STEM (.png, .svg)")
    parser.add_argument("--replay", type=Path, default=None, help="test-part traces (JSONL)")
    parser.add_argument("--calibration", type=Path, default=None, help="with --replay")
    parser.add_argument("--suites", default=",".join(SUITES))
    parser.add_argument("--no-targets", action="store_true", help="skip the high rows first")
    parser.add_argument("--out", type=Path, default=RESULTS)
    parser.add_argument("--threads", type=int, default=None, help="llama.cpp threads per model")
    parser.add_argument(
        "--merge", type=Path, nargs="*", default=[], help="print the table of saved results"
    )
    args = parser.parse_args()
    if args.replay is not None:  # held-out figures from traces (bench.reasoning_replay)
        from bench import reasoning_replay

        reasoning_replay.main(args.replay, args.calibration)
        return
    if args.merge:  # several partial runs (e.g. one per suite) → one table and one file
        merged = [row for path in args.merge for row in json.loads(path.read_text())["rows"]]
        args.out.write_text(json.dumps({"merged": [str(p) for p in args.merge], "rows": merged}))
        print(markdown(merged))
        return
    efforts = [e.strip() for e in args.efforts.split(",") if e.strip()]
    suites = [s.strip() for s in args.suites.split(",") if s.strip()]
    started = dt.datetime.now(dt.UTC)

    def save(rows: Rows) -> None:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        body = {"started": started.isoformat(), "limit": args.limit, "threads": args.threads}
        body["rows"] = rows
        args.out.write_text(json.dumps(body, indent=1))

    runs = plan(efforts, tuple(suites), not args.no_targets)
    rows = run(args.limit, runs, save, args.threads)
    print("\n" + markdown(rows))
    if args.plot is not None:
        picture(rows, args.plot)


def picture(rows: Rows, stem: Path) -> None:
    """Accuracy against reasoning tokens, one line per mode and suite, 95% intervals."""
    lines = []
    for suite in SUITES:
        for mode in ("fixed", "adaptive"):
            mine = sorted((r for r in rows if (r["mode"], r["suite"]) == (mode, suite)), key=_order)
            points = [Point(str(r["effort"]), r["correct"], r["reasoning"]) for r in mine]  # type: ignore[arg-type]
            if points:
                lines.append(Line(f"{mode} · {suite}", points, dashed=mode == "fixed", group=suite))
    try:
        print("picture:", *draw(lines, stem, title="SmolLM2-135M over HTTP, test part"))
    except PlotUnavailable as exc:
        print(f"no picture: {exc}")


if __name__ == "__main__":
    main()
