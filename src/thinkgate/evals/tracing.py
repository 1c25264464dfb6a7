"""Traced runs for calibration: the real think-then-answer loop on the embedded engine,
probing every `probe_interval` thinking tokens and never stopping early.

In process, not over HTTP: the probes are the policy's inner signal, which no API shows.
The request is the one `thinkgate eval` sends (`evals.runner.INSTRUCTIONS`, greedy), so
the trace is what the server would have seen for that item.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from thinkgate.core.backend import Backend, GenerationPlan
from thinkgate.core.deltas import FinishDelta, TextDelta
from thinkgate.core.request import CanonicalRequest
from thinkgate.evals.calibrate import Trace, check_calibration_only, trace_from_run
from thinkgate.evals.runner import INSTRUCTIONS
from thinkgate.evals.suites import EvalItem
from thinkgate.reasoning.formats import ScaffoldFormat, ThoughtFormat
from thinkgate.reasoning.policy import AdaptivePolicy, Probe
from thinkgate.reasoning.scaffold import ThinkThenAnswer
from thinkgate.reasoning.sealing import Sealer

ANSWER_ROOM = 24  # answer tokens after the thought: only the first line is graded


@dataclass(slots=True)
class RecordingPolicy:
    """Probes like `AdaptivePolicy`, stops only at `cap` thinking tokens, keeps every probe."""

    cap: int
    probe_tokens: int
    probe_interval: int
    adaptive: bool = True
    probes: list[Probe] = field(default_factory=list)

    def budget(self, cap: int, prompt: str, probe: Probe | None) -> int:
        self.probes = [probe] if probe is not None else []
        return cap

    def should_stop(self, probes: list[Probe]) -> bool:
        self.probes = list(probes)
        return probes[-1].at >= self.cap


async def trace_item(
    backend: Backend,
    item: EvalItem,
    cap: int,
    base: AdaptivePolicy,
    thought_format: ThoughtFormat | None = None,
) -> Trace:
    recorder = RecordingPolicy(cap, base.probe_tokens, base.probe_interval)
    room = (cap // base.probe_interval + 2) * base.probe_tokens + base.probe_interval
    plan = GenerationPlan(max_output_tokens=cap + room + ANSWER_ROOM, reasoning_budget=cap + room)
    request = CanonicalRequest(
        model=backend.name,
        input_items=[{"type": "message", "role": "user", "content": item.question}],
        instructions=INSTRUCTIONS,
        reasoning_effort="xhigh",
    )
    run = ThinkThenAnswer(
        backend, request, plan, recorder, Sealer.ephemeral(), thought_format or ScaffoldFormat()
    )
    answer, reasoning = "", 0
    await run.prepare()
    async for batch in run.stream():
        for delta in batch:
            if isinstance(delta, TextDelta):
                answer += delta.text
            elif isinstance(delta, FinishDelta):
                reasoning = delta.reasoning_tokens
    return trace_from_run(item, cap, recorder.probes, reasoning, answer)


async def trace_items(
    backend: Backend,
    items: Sequence[EvalItem],
    cap: int,
    base: AdaptivePolicy,
    on_trace: Callable[[Trace], None] | None = None,
) -> list[Trace]:
    """Traces of calibration items only (held-out items are refused)."""
    check_calibration_only(items)
    traces = []
    for item in items:
        trace = await trace_item(backend, item, cap, base)
        traces.append(trace)
        if on_trace is not None:
            on_trace(trace)
    return traces
