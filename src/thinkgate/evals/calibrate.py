"""Choosing the adaptive policy's thresholds on the calibration part of the suites.

    calibration items ─► one traced run each (every probe, no early stop, the cap of the
                         largest effort) ─► traces (JSON, re-usable)
    traces ─► every candidate in the grid, replayed at every effort ─► accuracy, tokens
          ─► the choice rule: the cheapest candidate whose accuracy at every effort and on
             every suite is at least fixed thinking's there minus `tolerance`;
             ties go to the more cautious candidate (higher thresholds)

A traced run is the adaptive loop with a policy that probes every `probe_interval` tokens
and never stops, so one run holds what every candidate would have seen: replaying a
candidate is reading the trace until its rule fires. The answer at a stop is the stopping
probe's (greedy decoding: the answer pass begins with exactly the probe's tokens); fixed
thinking at a smaller cap is the trace cut there. `choose` sees traces only, and `traces`
only the items it is given: `calibrate` gives it the calibration part, never the test part.
"""

from __future__ import annotations

import dataclasses
import itertools
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from functools import partial
from typing import Any

from thinkgate.evals.suites import EvalItem, grade, load_suite
from thinkgate.reasoning.policy import NEVER, AdaptivePolicy, Probe

SKIP_GRID = (0.5, 0.6, 0.7, 0.8, 0.85, 0.9, 0.95, 0.98, NEVER)
STOP_GRID = (0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95, NEVER)
AGREE_GRID = (2, 3)


@dataclass(slots=True, frozen=True)
class TracedProbe:
    answer: str
    confidence: float
    tokens: int
    at: int
    correct: bool


@dataclass(slots=True)
class Trace:
    """One calibration item thought through to `cap` (or to where the model stopped)."""

    item_id: str
    suite: str
    split: str
    cap: int
    thought_tokens: int  # where the thought ended (≤ cap)
    ended: bool  # the model ended it itself (else the cap did)
    final_answer: str
    final_correct: bool
    probes: list[TracedProbe] = field(default_factory=list)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Trace:
        probes = [TracedProbe(**p) for p in data.pop("probes")]
        return cls(**data, probes=probes)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(slots=True, frozen=True)
class Outcome:
    correct: bool
    reasoning_tokens: int


def fixed_outcome(trace: Trace, cap: int) -> Outcome:
    """Fixed thinking at `cap`: the whole thought if it fits, else the probe at the cap."""
    if trace.thought_tokens <= cap:
        return Outcome(trace.final_correct, trace.thought_tokens)
    return Outcome(_probe_before(trace, cap).correct, cap)


def adaptive_outcome(trace: Trace, policy: AdaptivePolicy, cap: int) -> Outcome:
    """The adaptive loop (`reasoning.scaffold`) replayed on a trace at `cap`."""
    probes = trace.probes
    if not probes or cap < policy.probe_tokens:
        return fixed_outcome(trace, cap)
    seen = [_probe(probes[0])]
    spent = probes[0].tokens
    if policy.decide(seen) == "skip":
        return Outcome(probes[0].correct, spent)
    at = 0
    for traced in probes[1:]:
        chunk = traced.at - at
        if trace.thought_tokens <= traced.at:  # the model ended its thought first
            return Outcome(trace.final_correct, spent + trace.thought_tokens - at)
        if cap - spent <= chunk + policy.probe_tokens:  # the last chunk: to the cap
            end = at + (cap - spent)
            if trace.thought_tokens <= end:
                return Outcome(trace.final_correct, spent + trace.thought_tokens - at)
            return Outcome(_probe_before(trace, end).correct, cap)
        spent += chunk + traced.tokens
        at = traced.at
        seen.append(_probe(traced))
        if policy.decide(seen) == "stop":
            return Outcome(traced.correct, spent)
    if trace.thought_tokens <= at + (cap - spent):  # past the last probe: as traced
        return Outcome(trace.final_correct, spent + trace.thought_tokens - at)
    return Outcome(_probe_before(trace, at + cap - spent).correct, cap)


@dataclass(slots=True, frozen=True)
class Score:
    """A candidate, or fixed thinking, over one suite's traces at one cap."""

    correct: int
    items: int
    reasoning_tokens: int

    @property
    def accuracy(self) -> float:
        return self.correct / self.items if self.items else 0.0


def score(traces: Sequence[Trace], outcome: Callable[[Trace], Outcome]) -> Score:
    outcomes = [outcome(trace) for trace in traces]
    correct = sum(1 for o in outcomes if o.correct)
    return Score(correct, len(outcomes), sum(o.reasoning_tokens for o in outcomes))


@dataclass(slots=True, frozen=True)
class Choice:
    policy: AdaptivePolicy
    # (suite, cap) → (adaptive, fixed) on the calibration traces
    scores: dict[tuple[str, int], tuple[Score, Score]]


def choose(
    traces: Sequence[Trace], caps: Sequence[int], *, tolerance: float = 0.0, base: AdaptivePolicy
) -> Choice:
    """The choice rule of the module docstring over the grid (`SKIP_GRID` x `STOP_GRID` x
    `AGREE_GRID`); `tolerance` is a share (0.01: one point)."""
    suites = sorted({t.suite for t in traces})
    by_suite = {s: [t for t in traces if t.suite == s] for s in suites}
    fixed = {
        (s, cap): score(by_suite[s], partial(fixed_outcome, cap=cap))
        for s in suites
        for cap in caps
    }
    best: tuple[tuple[int, float, float, int], Choice] | None = None
    for skip, stop, agree in itertools.product(SKIP_GRID, STOP_GRID, AGREE_GRID):
        policy = AdaptivePolicy(
            probe_tokens=base.probe_tokens,
            probe_interval=base.probe_interval,
            skip_confidence=skip,
            stop_confidence=stop,
            agree=agree,
        )
        scores = {}
        feasible = True
        for key, baseline in fixed.items():
            cap = key[1]
            got = score(by_suite[key[0]], partial(adaptive_outcome, policy=policy, cap=cap))
            scores[key] = (got, baseline)
            feasible = feasible and got.accuracy >= baseline.accuracy - tolerance - 1e-9
        if not feasible:
            continue
        tokens = sum(got.reasoning_tokens for got, _ in scores.values())
        rank = (tokens, -skip, -stop, -agree)  # fewest tokens; then the most cautious
        if best is None or rank < best[0]:
            best = (rank, Choice(policy, scores))
    assert best is not None  # skip and stop at NEVER replay fixed thinking exactly
    return best[1]


def check_calibration_only(items: Sequence[EvalItem]) -> None:
    """Thresholds are chosen on the calibration part alone."""
    leaked = [item.id for item in items if item.split != "calibration"]
    if leaked:
        raise ValueError(f"calibration was given held-out items: {', '.join(leaked[:5])}")


def trace_from_run(
    item: EvalItem, cap: int, probes: Sequence[Probe], reasoning_tokens: int, answer: str
) -> Trace:
    """A trace from one traced run: its probes, its reasoning tokens and its answer."""
    probe_tokens = sum(p.tokens for p in probes)
    thought = reasoning_tokens - probe_tokens
    traced = [
        TracedProbe(
            p.answer, round(p.confidence or 0.0, 4), p.tokens, p.at, grade(p.answer, item.answer)
        )
        for p in probes
    ]
    return Trace(
        item_id=item.id,
        suite=item.suite,
        split=item.split,
        cap=cap,
        thought_tokens=thought,
        ended=thought < cap,
        final_answer=answer,
        final_correct=grade(answer, item.answer),
        probes=traced,
    )


def regraded(traces: Sequence[Trace]) -> list[Trace]:
    """Traces graded again by today's `grade` (a trace keeps the answers it saw)."""
    splits = {trace.split for trace in traces}  # calibration traces read calibration items
    expected = {i.id: i.answer for s in splits for i in load_suite("all", s)}  # type: ignore[arg-type]
    out = []
    for trace in traces:
        want = expected[trace.item_id]
        probes = [dataclasses.replace(p, correct=grade(p.answer, want)) for p in trace.probes]
        correct = grade(trace.final_answer, want)
        out.append(dataclasses.replace(trace, final_correct=correct, probes=probes))
    return out


def _probe(traced: TracedProbe) -> Probe:
    return Probe(traced.answer, traced.confidence, traced.tokens, traced.at)


def _probe_before(trace: Trace, at: int) -> TracedProbe:
    """The last probe taken at or before `at` thinking tokens (the answer a cut there gives)."""
    earlier = [p for p in trace.probes if p.at <= at]
    if earlier:
        return earlier[-1]
    return TracedProbe(trace.final_answer, 0.0, 0, 0, trace.final_correct)
