"""Held-out figures from traces: thresholds chosen on the calibration traces, then the
adaptive policy and fixed thinking replayed on the test traces at every effort.

    .venv/bin/python -m bench.reasoning --replay docs/reasoning-data/traces_test.jsonl \
        --calibration docs/reasoning-data/traces_calibration.jsonl

A test trace is one real greedy run per held-out item, probed every 32 thinking tokens
(`bench.reasoning_traces`). Fixed thinking at an effort is the trace cut at its cap (the
answer at a cut is the probe taken there: under greedy decoding the answer pass begins
with exactly the probe's tokens); the adaptive policy is replayed on it as
`evals.calibrate.adaptive_outcome` describes. Writes `docs/reasoning-data/reasoning_heldout.json`
and the picture `docs/reasoning-accuracy.png` / `.svg`.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

from thinkgate.evals.calibrate import (
    Outcome,
    Trace,
    adaptive_outcome,
    choose,
    fixed_outcome,
    regraded,
)
from thinkgate.evals.plot import Z95, Line, PlotUnavailable, Point, draw, mean_interval, wilson
from thinkgate.evals.suites import SUITES
from thinkgate.reasoning.budgets import EFFORT_LADDER, budget_for
from thinkgate.reasoning.policy import AdaptivePolicy

REPO = Path(__file__).resolve().parent.parent
OUT = REPO / "docs" / "reasoning-data" / "reasoning_heldout.json"
PICTURE = REPO / "docs" / "reasoning-accuracy"
CONTEXT = 8192
NO_THOUGHT = "no thought"  # probe 0 as the answer (what skipping every item gives)


def load(path: Path) -> list[Trace]:
    lines = path.read_text().splitlines()
    return regraded([Trace.from_json(json.loads(line)) for line in lines if line])


def replay(test_path: Path, calibration_path: Path) -> dict[str, object]:
    calibration, test = load(calibration_path), load(test_path)
    assert all(t.split == "calibration" for t in calibration)
    assert all(t.split == "test" for t in test)
    # every effort the test traces reach is reported; the thresholds are chosen on the
    # calibration traces at the efforts those reach (a thought cut at their cap cannot be
    # replayed past it), then applied unchanged at every effort
    reach = min(t.cap for t in test)
    efforts = [e for e in EFFORT_LADDER[2:] if budget_for(e, CONTEXT) <= reach]
    caps = [budget_for(e, CONTEXT) for e in efforts]
    calibration_reach = min(t.cap for t in calibration)
    calibration_caps = [cap for cap in caps if cap <= calibration_reach]
    choice = choose(calibration, calibration_caps, base=AdaptivePolicy())
    policy = choice.policy
    rows: list[dict[str, object]] = []
    for suite in SUITES:
        traces = [t for t in test if t.suite == suite]
        # no thought in the same format: probe 0 is the answer a skip gives
        bare = [Outcome(t.probes[0].correct, t.probes[0].tokens) for t in traces]
        rows.append(_row("fixed", suite, NO_THOUGHT, [t.item_id for t in traces], bare))
        for effort, cap in zip(efforts, caps, strict=True):
            fixed = [fixed_outcome(t, cap) for t in traces]
            adaptive = [adaptive_outcome(t, policy, cap) for t in traces]
            for mode, outcomes in (("fixed", fixed), ("adaptive", adaptive)):
                rows.append(_row(mode, suite, effort, [t.item_id for t in traces], outcomes))
            rows[-1]["accuracy_minus_fixed"] = _paired(adaptive, fixed)
    thresholds = {
        "skip_confidence": policy.skip_confidence,
        "stop_confidence": policy.stop_confidence,
        "agree": policy.agree,
        "probe_tokens": policy.probe_tokens,
        "probe_interval": policy.probe_interval,
    }
    counts = {s: sum(1 for t in test if t.suite == s) for s in SUITES}
    calibrated = {s: sum(1 for t in calibration if t.suite == s) for s in SUITES}
    return {
        "thresholds": thresholds,
        "test_items": counts,
        "calibration_items": calibrated,
        "rows": rows,
    }


def _row(mode: str, suite: str, effort: str, ids: list[str], outcomes: list) -> dict[str, object]:  # type: ignore[type-arg]
    correct = [o.correct for o in outcomes]
    tokens = [o.reasoning_tokens for o in outcomes]
    low, high = wilson(sum(correct), len(correct))
    mean, t_low, t_high = mean_interval(tokens)
    return {
        "mode": mode,
        "suite": suite,
        "effort": effort,
        "items": len(outcomes),
        "accuracy": sum(correct) / len(correct) if correct else 0.0,
        "accuracy_95": [low, high],
        "reasoning_tokens": mean,
        "reasoning_tokens_95": [t_low, t_high],
        "per_item": {"ids": ids, "correct": correct, "reasoning_tokens": tokens},
    }


def _paired(adaptive: list, fixed: list) -> list[float]:  # type: ignore[type-arg]
    """Adaptive minus fixed accuracy on the same items: mean and 95% interval."""
    diffs = [int(a.correct) - int(f.correct) for a, f in zip(adaptive, fixed, strict=True)]
    n = len(diffs)
    mean = sum(diffs) / n
    sd = math.sqrt(sum((d - mean) ** 2 for d in diffs) / (n - 1)) if n > 1 else 0.0
    return [mean, mean - Z95 * sd / math.sqrt(n), mean + Z95 * sd / math.sqrt(n)]


def markdown(result: dict[str, object]) -> str:
    rows = result["rows"]
    assert isinstance(rows, list)
    lines = [
        "| mode | suite | effort | items | accuracy (95%) | adaptive − fixed (95%) "
        "| reasoning tok/item (95%) |",
        "|---|---|---|---|---|---|---|",
    ]
    for row in rows:
        low, high = row["accuracy_95"]
        t_low, t_high = row["reasoning_tokens_95"]
        diff = row.get("accuracy_minus_fixed")
        paired = (
            f"{100 * diff[0]:+.1f} ({100 * diff[1]:+.1f}, {100 * diff[2]:+.1f})" if diff else ""
        )
        lines.append(
            f"| {row['mode']} | {row['suite']} | {row['effort']} | {row['items']} | "
            f"{100 * row['accuracy']:.1f}% ({100 * low:.0f}–{100 * high:.0f}) | {paired} | "
            f"{row['reasoning_tokens']:.1f} ({t_low:.1f}–{t_high:.1f}) |"
        )
    lines.append("")
    lines += targets(rows)
    return "\n".join(lines)


def targets(rows: list[dict[str, object]]) -> list[str]:
    def find(mode: str, suite: str, effort: str) -> dict[str, object]:
        return next(
            r for r in rows if (r["mode"], r["suite"], r["effort"]) == (mode, suite, effort)
        )

    out = []
    efforts = {str(r["effort"]) for r in rows} - {NO_THOUGHT}
    for effort in sorted(efforts, key=EFFORT_LADDER.index):
        a_easy, f_easy = find("adaptive", "easy", effort), find("fixed", "easy", effort)
        a_hard = find("adaptive", "hard", effort)
        ratio = float(a_easy["reasoning_tokens"]) / max(float(f_easy["reasoning_tokens"]), 1e-9)  # type: ignore[arg-type]
        spread = float(a_hard["reasoning_tokens"]) / max(float(a_easy["reasoning_tokens"]), 1e-9)  # type: ignore[arg-type]
        worst = min(float(find("adaptive", s, effort)["accuracy_minus_fixed"][0]) for s in SUITES)  # type: ignore[index]
        out.append(
            f"- {effort}: easy tokens adaptive/fixed {ratio:.2f}x (target ≤ 0.5x); hard/easy "
            f"adaptive tokens {spread:.1f}x (target ≥ 3x); worst adaptive − fixed accuracy "
            f"{100 * worst:+.1f} points (target ≥ −1)"
        )
    return out


def picture(result: dict[str, object]) -> list[Path]:
    rows = result["rows"]
    assert isinstance(rows, list)
    lines = []
    for suite in SUITES:
        for mode in ("fixed", "adaptive"):
            points = [
                Point(str(r["effort"]), r["per_item"]["correct"], r["per_item"]["reasoning_tokens"])
                for r in rows
                if (r["mode"], r["suite"]) == (mode, suite)
            ]
            lines.append(Line(f"{mode} · {suite}", points, dashed=mode == "fixed", group=suite))
    title = "SmolLM2-135M, held-out test part, greedy: accuracy vs reasoning tokens per effort"
    return draw(lines, PICTURE, title=title)


def main(test_path: Path, calibration_path: Path, out: Path = OUT) -> None:
    result = replay(test_path, calibration_path)
    out.write_text(json.dumps(result, indent=1))
    print(json.dumps(result["thresholds"]), result["test_items"], result["calibration_items"])
    print(markdown(result))
    try:
        print("picture:", *picture(result))
    except PlotUnavailable as exc:
        print(f"no picture: {exc}")
