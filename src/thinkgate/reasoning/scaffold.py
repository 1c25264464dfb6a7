"""Think-then-answer over any backend: a hidden thinking pass, then the answer after it.

    [probe 0: answer prefix + ≤ 6 tokens → answer, confidence]   (adaptive only)
      → thinking pass: the reply opened for thinking, the model's own tokens, ≤ budget
          (adaptive: skipped when probe 0 earns it; in chunks, probing the answer
          between chunks; stopped when the probes agree: `reasoning.policy`)
      → answer pass: the thought closed in the reply → the visible answer

What surrounds the thought is a `ThoughtFormat` (`reasoning.formats`): the
"Reasoning: … Answer:" scaffold for models without native thinking (SmolLM2), or the
model's own `<think>` tags with the close forced at the budget (budget forcing).
Every pass is an ordinary backend generation (prepare, send, stream) with a prefilled reply start
(`RequestContext.assistant_prefix`), so llama.cpp reuses the shared prompt prefix.
Thinking and probe tokens are real generated tokens: all count as reasoning tokens and
against the budget; `max_output_tokens` caps reasoning plus answer together.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import AsyncGenerator
from dataclasses import dataclass

from thinkgate.backends.chat_prompt import content_text
from thinkgate.core.backend import Backend, Batches, GenerationPlan, sent
from thinkgate.core.deltas import (
    Delta,
    FinishDelta,
    FinishReason,
    PromptDelta,
    ReasoningDelta,
    ReasoningDoneDelta,
    TextDelta,
)
from thinkgate.core.request import CanonicalRequest, OutputFormat, Sampling
from thinkgate.reasoning.formats import ScaffoldFormat, ThoughtFormat
from thinkgate.reasoning.policy import Probe, ThinkingPolicy
from thinkgate.reasoning.sealing import Sealer
from thinkgate.reasoning.summary import summarize


@dataclass(slots=True)
class _Spent:
    """Reasoning tokens so far (thinking + probes), mirrored into the plan's meter."""

    plan: GenerationPlan
    tokens: int = 0

    def add(self, tokens: int) -> None:
        self.tokens += tokens
        self.plan.meter.reasoning_tokens = self.tokens
        self.plan.meter.output_tokens = self.tokens


class ThinkThenAnswer:
    """One request's reasoning run, a `core.backend.Prepared`: `prepare()`, then `stream()` once."""

    def __init__(
        self,
        backend: Backend,
        request: CanonicalRequest,
        plan: GenerationPlan,
        policy: ThinkingPolicy,
        sealer: Sealer,
        thought_format: ThoughtFormat | None = None,
    ) -> None:
        self._backend = backend
        self._format: ThoughtFormat = thought_format or ScaffoldFormat()
        self._request = request
        self._plan = plan
        self._policy = policy
        self._sealer = sealer
        self._spent = _Spent(plan)
        self._thought = ""
        self._thought_tokens = 0  # the thought's own tokens (reasoning less the probes)
        self._cap = plan.reasoning_budget
        if plan.max_output_tokens is not None:
            self._cap = min(self._cap, plan.max_output_tokens)
        self.prompt = PromptDelta(input_tokens=0)  # counted by `prepare`
        self._budget = 0
        self._probes: list[Probe] = []

    async def prepare(self) -> ThinkThenAnswer:
        """The prompt counted and, adaptive, probe 0 run (it decides the thinking budget);
        then this is the run's `Prepared`: nothing to send, each pass runs when streamed."""
        input_tokens = await self._backend.count_tokens(self._scaffold(""))
        budget = self._cap
        probes: list[Probe] = []
        if self._policy.adaptive and budget > 0:
            if budget >= self._policy.probe_tokens > 0:
                probes.append(await self._probe())
            allowed = self._policy.budget(
                self._cap - self._spent.tokens, self._prompt_text(), probes[0] if probes else None
            )
            budget = min(self._cap, self._spent.tokens + allowed) if allowed else 0
        self.prompt = PromptDelta(input_tokens=input_tokens)
        self._budget, self._probes = budget, probes
        return self

    async def send(self) -> None:
        """Each pass is sent as it runs, inside the stream."""

    async def aclose(self) -> None:
        """Probe 0 has finished: nothing is held before the stream."""

    async def stream(self) -> Batches:
        """The thought a token at a time, its end, then the answer's batches."""
        budget, probes = self._budget, self._probes
        async for delta in self._think(budget, probes):
            yield (delta,)
        yield (self._done(),)
        async for batch in self._answer():
            yield batch

    # --- passes ------------------------------------------------------------------------

    async def _think(self, budget: int, probes: list[Probe]) -> AsyncGenerator[Delta, None]:
        """Chunks of `probe_interval` tokens, a probe after each (probe 0 is in `probes`)."""
        probe_cost = self._policy.probe_tokens if self._policy.adaptive else 0
        while self._spent.tokens < budget:
            left = budget - self._spent.tokens
            chunk = left
            if self._policy.adaptive and left > self._policy.probe_interval + probe_cost:
                chunk = self._policy.probe_interval
            request = self._scaffold(
                self._format.think_prefix(self._thought), stop=self._format.think_stop
            )
            reason: FinishReason = "length"
            before = self._spent.tokens
            async for delta in self._run(request, chunk):
                if isinstance(delta, TextDelta) and delta.text:
                    text = delta.text if self._thought else delta.text.lstrip()
                    self._thought += text
                    if text:
                        yield ReasoningDelta(text)
                elif isinstance(delta, FinishDelta):
                    reason = delta.reason
            self._thought_tokens += self._spent.tokens - before
            if reason != "length" or self._spent.tokens >= budget:
                return
            if probe_cost and budget - self._spent.tokens >= probe_cost:
                probes.append(await self._probe())
                if self._policy.should_stop(probes):
                    return

    async def _probe(self) -> Probe:
        """The model's answer if it had to answer now, and its mean token probability."""
        prefix = self._answer_prefix()
        request = self._scaffold(prefix, logprobs=True)
        at = self._thought_tokens
        text, logprobs = "", []
        run = self._run(request, self._policy.probe_tokens)
        try:
            async for delta in run:
                if isinstance(delta, TextDelta):
                    text += delta.text
                    logprobs += [lp.logprob for lp in delta.logprobs]
                    if "\n" in text.lstrip():  # the answer's first line is all a probe needs
                        text = text.lstrip().split("\n", 1)[0]
                        break
        finally:
            await run.aclose()  # cut at the line's end: the engine's turn is given back now
        # the geometric mean of the token probabilities: one unsure token shows
        confidence = math.exp(sum(logprobs) / len(logprobs)) if logprobs else 0.0
        return Probe(answer=text.strip(), confidence=confidence, tokens=len(logprobs), at=at)

    async def _answer(self) -> Batches:
        spent = self._spent.tokens
        cap = self._plan.max_output_tokens
        if cap is not None and cap - spent <= 0:
            yield (FinishDelta("length", output_tokens=spent, reasoning_tokens=spent),)
            return
        request = dataclasses.replace(
            self._scaffold(self._answer_prefix()),
            output_format=self._request.output_format,
            sampling=self._sampling(answer=True),
        )
        plan = GenerationPlan(max_output_tokens=None if cap is None else cap - spent)
        started = False
        async with sent(self._backend, request, plan) as batches:
            async for batch in batches:
                self._plan.meter.output_tokens = spent + plan.meter.output_tokens
                shown: list[Delta] = []
                for delta in batch:
                    if isinstance(delta, TextDelta):
                        text = delta.text if started else delta.text.lstrip()
                        started = started or bool(text)
                        if text or delta.logprobs:
                            shown.append(TextDelta(text, delta.logprobs))
                    elif isinstance(delta, FinishDelta):
                        total = spent + delta.output_tokens
                        shown.append(FinishDelta(delta.reason, total, reasoning_tokens=spent))
                if shown:
                    yield shown

    async def _run(self, request: CanonicalRequest, tokens: int) -> AsyncGenerator[Delta, None]:
        """One hidden pass; its tokens are counted as reasoning as they are made."""
        plan = GenerationPlan(max_output_tokens=tokens)
        before = self._spent.tokens
        try:
            async with sent(self._backend, request, plan) as batches:
                async for batch in batches:
                    for delta in batch:
                        self._plan.meter.output_tokens = before + plan.meter.output_tokens
                        self._plan.meter.reasoning_tokens = before + plan.meter.output_tokens
                        if isinstance(delta, FinishDelta):
                            self._spent.add(delta.output_tokens)
                        yield delta
        finally:
            if self._spent.tokens == before:  # cut short: keep what the meter saw
                self._spent.add(plan.meter.output_tokens)

    # --- helpers -----------------------------------------------------------------------

    def _done(self) -> ReasoningDoneDelta:
        mode = self._request.reasoning_summary
        summary = summarize(self._thought, mode) if mode else ()
        sealed = None
        if "reasoning.encrypted_content" in self._request.include:
            sealed = self._sealer.seal(self._thought)
        return ReasoningDoneDelta(self._thought, summary=summary, encrypted_content=sealed)

    def _answer_prefix(self) -> str:
        return self._format.answer_prefix(self._thought)

    def _scaffold(
        self, prefix: str, *, stop: tuple[str, ...] = (), logprobs: bool = False
    ) -> CanonicalRequest:
        parts = [self._request.instructions or "", self._format.instructions]
        note = "\n\n".join(part for part in parts if part) or None
        sampling = dataclasses.replace(self._sampling(), stop=stop, logprobs=logprobs)
        return dataclasses.replace(
            self._request,
            instructions=note,
            output_format=OutputFormat(),
            sampling=sampling,
            context=dataclasses.replace(self._request.context, assistant_prefix=prefix),
        )

    def _sampling(self, *, answer: bool = False) -> Sampling:
        """Greedy unless the caller chose a temperature: a weak model thinks best greedily.
        Hidden passes drop the caller's logprobs and stop sequences; the answer keeps them."""
        sampling = self._request.sampling
        if "temperature" not in self._request.context.explicit_sampling:
            sampling = dataclasses.replace(sampling, temperature=0.0, top_p=1.0)
        if answer:  # a weak model may start a second thought after its answer: cut it
            return dataclasses.replace(sampling, stop=(*sampling.stop, *self._format.answer_stop))
        return dataclasses.replace(sampling, logprobs=False, top_logprobs=0, stop=())

    def _prompt_text(self) -> str:
        texts = []
        for item in self._request.input_items:
            if item.get("type", "message") == "message" and item.get("role") == "user":
                texts.append(content_text(item["content"]))
        return texts[-1] if texts else ""
