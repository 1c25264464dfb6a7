"""Call or answer with `tool_choice: "auto"` on the embedded model: the old decision (the
model's own first token under the auto grammar) against the calibrated one
(backends.tool_decision), measured in the same run on the same held-out prompts.

Prompts: bench/tool_decision_prompts.py (100 where an offered tool applies, 100 where
none does, fixed seed; every other case of each kind is held out). Steps:

1. calibration: the model's two measures (relevance: how much the user's message raises
   the likeliest call; grounding: how much it predicts that call's first argument) on the
   calibration half; a logistic fit there gives grounding's weight against relevance
   (`fit_weight`), then the margin on `relevance + weight × grounding` is the midpoint of
   the widest interval of thresholds that makes the most right decisions there. 10-fold
   cross-validation within the calibration half (5 shuffles, weight and margin refitted
   on each 9/10) reports the spread.
2. test: each held-out prompt goes through `LocalBackend.generate` (the server's own
   path, Responses request parsing included), once with `tool_decision = "model"` and once
   with `"calibrated"` at that margin; the first Delta that shows the decision (a call's
   start, with its tool name, or text) is read and the generation cancelled.

Right decision: a call when a tool applies, a message when none does; for calls, whether
the tool that applies was chosen is reported too. Greedy (temperature 0).

`--fast` (for a loaded machine) skips generation: the held-out prompts are scored as the
calibration ones are, and both decisions are read from the same pass — `calibrated`: the
score against the margin (what the engine decides, from the same `measure`), `model`:
whether the likeliest first token opens a call (what greedy decoding under the auto
grammar picks). The calibration half also reports how well each part of the score
separates on its own (`features`: the call opening alone, raw and against the neutral
prompt, and the tool name's part), each at its best threshold there.

    .venv/bin/python -m bench.tool_decisions [--threads 2] [--write] [--fast]

`--write` puts the calibrated margin into backends/tool_decision_rule.py (CALIBRATED_MARGIN),
the default the engine reads; results go to bench/results/tool_decisions.json.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import math
import re
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import orjson

from bench.tool_decision_fit import (
    Row,
    calibrate,
    combined,
    cross_validation,
    features,
    fit_rule,
    linear_rule,
    right_decisions,
)
from bench.tool_decision_prompts import TOOLS, Case, cases
from thinkgate.backends.llama_prompt import PromptEvaluation
from thinkgate.backends.local import LocalBackend
from thinkgate.backends.tool_decision import argument_heads, measure, neutral_items
from thinkgate.backends.tool_decision_rule import DecisionRule
from thinkgate.config import DEFAULT_LOCAL_MODEL, LocalModelConfig
from thinkgate.core.backend import GenerationPlan
from thinkgate.core.backend import generation as core_generation
from thinkgate.core.deltas import FinishDelta, TextDelta, ToolCallStartDelta
from thinkgate.core.request import CanonicalRequest
from thinkgate.engine.responses_request import canonical_from_responses
from thinkgate.protocol import parse_body
from thinkgate.protocol.responses import CreateResponseRequest

REPO = Path(__file__).resolve().parent.parent
RESULTS = REPO / "bench" / "results" / "tool_decisions.json"
PROGRESS = Path("/tmp/tool_decisions_progress.jsonl")  # each scored case, as it comes
DECISION_MODULE = REPO / "src" / "thinkgate" / "backends" / "tool_decision_rule.py"


@dataclass(slots=True)
class Outcome:
    index: int  # the case's place in the test part
    prompt: str
    expected: str | None
    called: str | None  # the tool called first; None: a message
    seconds: float

    @property
    def right(self) -> bool:
        return (self.called is not None) == (self.expected is not None)


def request_of(case: Case) -> CanonicalRequest:
    body = {
        "model": "gpt-5.1",
        "input": case.prompt,
        "tools": [TOOLS[name] for name in case.tools],
        "temperature": 0,
    }
    return canonical_from_responses(parse_body(orjson.dumps(body), CreateResponseRequest))


def calibration_scores(backend: LocalBackend, part: list[Case]) -> list[Row]:
    """(measures, a tool applies) per case, from the prompt the engine would evaluate."""
    llama = backend._llama
    rows = []
    for case in part:
        started = time.perf_counter()
        request = request_of(case)
        tokens = backend._tokenize(request, request.all_items)
        neutral = backend._tokenize(request, neutral_items(request.all_items))
        prompt = PromptEvaluation(tokens=tokens, chunk=64)
        prompt.evaluate(llama, lambda: False)
        heads = argument_heads(tuple(request.tools))
        scores = measure(llama, prompt, neutral, list(case.tools), heads)
        detail = {
            "index": case.index,
            "prompt": case.prompt,
            "tools": case.tools,
            "expected": case.expected,
            "relevance": scores.relevance,
            "grounding": scores.grounding,
            "argument": scores.argument,
            "argument_real": scores.argument_real,
            "argument_neutral": scores.argument_neutral,
            "real": asdict(scores.real),
            "neutral": asdict(scores.neutral),
            "seconds": time.perf_counter() - started,
        }
        rows.append(((scores.relevance, scores.grounding), case.expected is not None, detail))
        with PROGRESS.open("a") as progress:
            progress.write(json.dumps(detail) + "\n")
        print(
            f"{case.index} {case.part} {case.expected} rel {scores.relevance:.2f} "
            f"grounding {scores.grounding:.2f} {scores.argument!r} {detail['seconds']:.1f}s",
            file=sys.stderr,
            flush=True,
        )
    return rows


def fast_outcomes(rows: list[Row], rules: dict[str, DecisionRule]) -> dict[str, Any]:
    """The decisions from one scoring pass of the held-out prompts (`--fast`): the model's
    own first token (`model`) and each rule's."""
    outcomes: dict[str, list[Outcome]] = {"model": [], **{mode: [] for mode in rules}}
    for measures, _, detail in rows:
        tools = detail["real"]["tools"]
        likeliest = max(tools, key=lambda t: tools[t])
        decided = {mode: rule.decides(*measures) for mode, rule in rules.items()}
        for mode, call in (("model", detail["real"]["greedy_call"]), *decided.items()):
            outcomes[mode].append(
                Outcome(
                    detail["index"],
                    detail["prompt"],
                    detail["expected"],
                    likeliest if call else None,
                    detail["seconds"],
                )
            )
    return {mode: sorted(found, key=lambda o: o.index) for mode, found in outcomes.items()}


async def decide_once(backend: LocalBackend, case: Case) -> Outcome:
    started = time.perf_counter()
    called: str | None = None
    plan = GenerationPlan(max_output_tokens=32)
    generation = core_generation(backend, request_of(case), plan)
    try:
        async for delta in generation:
            if isinstance(delta, ToolCallStartDelta):
                called = delta.name
                break
            if (isinstance(delta, TextDelta) and delta.text.strip()) or isinstance(
                delta, FinishDelta
            ):
                break
    finally:
        await generation.aclose()
    return Outcome(case.index, case.prompt, case.expected, called, time.perf_counter() - started)


def summary(outcomes: list[Outcome]) -> dict[str, Any]:
    applies = [o for o in outcomes if o.expected is not None]
    none = [o for o in outcomes if o.expected is None]
    calls = [o for o in applies if o.called is not None]
    return {
        "cases": len(outcomes),
        "right_decisions": sum(o.right for o in outcomes),
        "accuracy": round(sum(o.right for o in outcomes) / len(outcomes), 3),
        "tool_applies_called": f"{len(calls)}/{len(applies)}",
        "no_tool_answered": f"{sum(o.called is None for o in none)}/{len(none)}",
        "right_tool_when_called": f"{sum(o.called == o.expected for o in calls)}/{len(calls)}",
        "seconds_per_decision": round(sum(o.seconds for o in outcomes) / len(outcomes), 3),
    }


async def scored(backends: list[LocalBackend], part: list[Case]) -> list[Any]:
    jobs = [
        asyncio.to_thread(calibration_scores, b, part[k :: len(backends)])
        for k, b in enumerate(backends)
    ]
    return sorted(
        (row for chunk in await asyncio.gather(*jobs) for row in chunk),
        key=lambda row: row[2]["index"],
    )


async def run_fast(threads: int, workers: int) -> dict[str, Any]:
    """`--fast`: one scoring pass over both halves; both decisions read from it."""
    config = LocalModelConfig(name=DEFAULT_LOCAL_MODEL, threads=threads)
    backends = [LocalBackend(config) for _ in range(workers)]
    for backend in backends:
        await backend.load()
    every = cases()
    everything = await scored(backends, every)  # both halves at once, kept apart below
    rows = [
        row
        for row in everything
        if row[2]["index"] in {c.index for c in every if c.part == "calibration"}
    ]
    test_rows = [row for row in everything if row not in rows]
    for backend in backends:
        await backend.aclose()
    return decisions(rows, test_rows)


def fitted_rules(rows: list[Row]) -> tuple[dict[str, DecisionRule], dict[str, Any]]:
    """The rules fitted on the calibration rows — `calibrated` (the small-talk gate, the
    default) and `relevance_only` (the default before it) — and what the fit found."""
    rule, right = fit_rule(rows)
    alone = linear_rule(0.0, calibrate(combined(rows, 0.0))[0])
    print(f"calibration: {rule} ({right}/{len(rows)})", file=sys.stderr)
    found: dict[str, Any] = {"rule": rule_fields(rule), "calibration_right": f"{right}/{len(rows)}"}
    found["relevance_only_rule"] = rule_fields(alone)
    found["relevance_only_calibration_right"] = f"{right_decisions(alone, rows)}/{len(rows)}"
    found["cross_validation"] = cross_validation(rows)
    found["features"] = features(rows)
    return {"calibrated": rule, "relevance_only": alone}, found


def rule_fields(rule: DecisionRule) -> dict[str, float | str]:
    return {k: v if math.isfinite(v) else "inf" for k, v in asdict(rule).items()}


def decisions(rows: list[Row], test_rows: list[Row]) -> dict[str, Any]:
    """The rules fitted on the calibration rows; every decision read on the test rows."""
    rules, results = fitted_rules(rows)
    results = {"mode": "fast", **results}
    results["calibration_cases"] = [detail for _, _, detail in rows]
    results["test_scores"] = [detail for _, _, detail in test_rows]
    for mode, outcomes in fast_outcomes(test_rows, rules).items():
        results[mode] = summary(outcomes)
        results[f"{mode}_cases"] = [asdict(o) for o in outcomes]
        print(f"{mode}: {results[mode]}", file=sys.stderr)
    return results


def refit(path: str) -> dict[str, Any]:
    """`--refit FILE`: the decisions again from a `--fast` run's scores (no model)."""
    saved = json.loads(Path(path).read_text())

    def row(detail: dict[str, Any]) -> Row:
        return (detail["relevance"], detail["grounding"]), detail["expected"] is not None, detail

    results = decisions(
        [row(d) for d in saved["calibration_cases"]], [row(d) for d in saved["test_scores"]]
    )
    results["scored"] = saved.get("date")
    return results


async def run(threads: int, workers: int) -> dict[str, Any]:
    """Each worker has its own model (llama.cpp releases the GIL): the calibration scores
    and the old path first, then the new path at the calibrated margin."""
    config = LocalModelConfig(name=DEFAULT_LOCAL_MODEL, threads=threads)
    backends = [LocalBackend(config) for _ in range(workers)]
    for backend in backends:
        await backend.load()
    every = cases()
    calibration = [c for c in every if c.part == "calibration"]
    test = [c for c in every if c.part == "test"]
    old = backends[-1]
    old._config = config.model_copy(update={"tool_decision": "model"})
    scorers = backends[:-1] or backends  # one worker: scores first, then the old path
    jobs = [
        asyncio.to_thread(calibration_scores, b, calibration[k :: len(scorers)])
        for k, b in enumerate(scorers)
    ]
    if workers == 1:
        chunks = [await jobs[0]]
        model_outcomes = await sequential(old, test)
    else:
        chunks, model_outcomes = await asyncio.gather(asyncio.gather(*jobs), sequential(old, test))
    rows = [row for chunk in chunks for row in chunk]
    rules, results = fitted_rules(rows)
    results["calibration_cases"] = [detail for _, _, detail in rows]
    rule = rules["calibrated"]
    for backend in backends:
        backend._config = config.model_copy(
            update={
                "tool_decision": "calibrated",
                "tool_call_margin": rule.margin,
                "tool_grounding_weight": rule.weight,
                "tool_small_talk_relevance": rule.small_talk_relevance,
                "tool_grounding_floor": rule.grounding_floor,
            }
        )
    parts = await asyncio.gather(*(sequential(b, test[k::workers]) for k, b in enumerate(backends)))
    new_outcomes = sorted((o for part in parts for o in part), key=lambda o: o.index)
    for mode, outcomes in (("model", model_outcomes), ("calibrated", new_outcomes)):
        results[mode] = summary(outcomes)
        results[f"{mode}_cases"] = [asdict(o) for o in outcomes]
        print(f"{mode}: {results[mode]}", file=sys.stderr)
    for backend in backends:
        await backend.aclose()
    return results


async def sequential(backend: LocalBackend, part: list[Case]) -> list[Outcome]:
    return [await decide_once(backend, case) for case in part]


def write_rule(rule: DecisionRule) -> None:
    """The fitted thresholds as the engine's defaults (backends/tool_decision_rule.py)."""
    text = DECISION_MODULE.read_text()
    for name, value in (
        ("CALIBRATED_MARGIN", rule.margin),
        ("GROUNDING_WEIGHT", rule.weight),
        ("SMALL_TALK_RELEVANCE", rule.small_talk_relevance),
        ("GROUNDING_FLOOR", rule.grounding_floor),
    ):
        shown = repr(value) if math.isfinite(value) else 'float("inf")'
        text = re.sub(rf"(?m)^{name} = .*$", f"{name} = {shown}", text)
    DECISION_MODULE.write_text(text)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--threads", type=int, default=1, help="llama.cpp threads per worker")
    parser.add_argument("--workers", type=int, default=3, help="models run side by side")
    parser.add_argument("--write", action="store_true", help="write the margin as the default")
    parser.add_argument("--fast", action="store_true", help="score only; no generation")
    parser.add_argument("--refit", metavar="FILE", help="decide again from a --fast run's file")
    args = parser.parse_args()
    if args.refit:
        results = refit(args.refit)
    else:
        results = asyncio.run((run_fast if args.fast else run)(args.threads, args.workers))
    results["date"] = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
    results["previous_default"] = rule_fields(DecisionRule())
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(results, indent=1))
    if args.write:
        write_rule(DecisionRule(**{k: float(v) for k, v in results["rule"].items()}))
    for mode in ("model", "relevance_only", "calibrated"):
        if mode not in results:
            continue  # the generation path (`run`) decides by the model and the fitted rule only
        print(f"| {mode} | " + " | ".join(str(v) for v in results[mode].values()) + " |")


if __name__ == "__main__":
    main()
