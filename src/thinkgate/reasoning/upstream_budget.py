"""Budget forcing over an upstream that reasons by itself (`reasoning_content`, reasoning items).

    reasoning stream ─► each reasoning delta counted (one streamed chunk ≈ one token, the
                        same estimate the usage meter bills a cut stream by)
        ├► the upstream ends its thought under the budget: its reply passes through
        └► the count reaches the budget: the stream is closed (the upstream request is
           cancelled), the thought so far is closed in `<think>` tags and sent back as the
           reply's prefix with effort `none`; the upstream continues with the answer.

The continuation needs assistant prefill. On `openai-chat` channels it is a final
assistant message with `continue_final_message: true, add_generation_prompt: false`
(vLLM and SGLang; llama.cpp's server continues a final assistant message by itself).
OpenAI's own APIs have no prefill: on `openai-responses` channels the answer request
carries the closed thought as an earlier assistant message, and is answered at effort
`none`; whether it conditions on it is up to the upstream (enforcement by truncation).
Either way the reported reasoning never exceeds the budget.

With a policy (the channel's `adaptive_reasoning = true`) the answer is probed as the
thought streams: probe 0 before it (effort `none`, a confident probe skips the thought),
then one every `probe_interval` reasoning chunks, each a short request continuing the
thought so far closed; when the policy says stop (`reasoning.policy`), the thought is
closed there exactly as at the budget. Probe tokens count as reasoning tokens.
"""

from __future__ import annotations

import dataclasses
import math

from thinkgate.core.backend import Backend, Batches, GenerationPlan, Prepared, generation, sent
from thinkgate.core.deltas import (
    Delta,
    FinishDelta,
    PromptDelta,
    ReasoningDelta,
    ReasoningDoneDelta,
    TextDelta,
)
from thinkgate.core.request import CanonicalRequest
from thinkgate.reasoning.formats import NativeFormat
from thinkgate.reasoning.policy import Probe, ThinkingPolicy
from thinkgate.reasoning.sealing import Sealer
from thinkgate.reasoning.summary import summarize


class UpstreamBudget:
    """One request's reasoning over a native-reasoning backend, a `core.backend.Prepared`:
    `prepare()`, then `stream()` once."""

    def __init__(
        self,
        backend: Backend,
        request: CanonicalRequest,
        plan: GenerationPlan,
        sealer: Sealer,
        thought_format: NativeFormat | None = None,
        policy: ThinkingPolicy | None = None,
    ) -> None:
        self._backend = backend
        self._request = request
        self._plan = plan
        self._sealer = sealer
        self._format = thought_format or NativeFormat(open="<think>\n", close="\n</think>")
        self._budget = plan.reasoning_budget
        if plan.max_output_tokens is not None:
            self._budget = min(self._budget, plan.max_output_tokens)
        self._policy = policy if policy is not None and policy.adaptive else None
        self._probes: list[Probe] = []
        self._probe_tokens = 0  # spent on probes: reasoning, outside the stream's meter
        self._prompt: PromptDelta | None = None  # probe 0's: the prompt, if it skips
        self._thinking: Prepared | None = None  # the thinking request (None: skipped)
        self.prompt = PromptDelta(input_tokens=0)  # set by `prepare`

    async def prepare(self) -> UpstreamBudget:
        """Probe 0 (with a policy), then the thinking request prepared, or none when the
        probe skips the thought; this is then the run's `core.backend.Prepared`."""
        if self._policy is not None and self._budget >= self._policy.probe_tokens:
            self._probes.append(await self._probe(""))
            if self._policy.budget(self._budget, "", self._probes[0]) == 0:  # skipped
                if self._prompt is None:
                    self._prompt = PromptDelta(await self._backend.count_tokens(self._request))
                self.prompt = self._prompt
                return self
        self._thinking = await self._backend.prepare(self._request, self._plan)
        self.prompt = self._thinking.prompt
        return self

    async def send(self) -> None:
        if self._thinking is not None:
            await self._thinking.send()

    async def aclose(self) -> None:
        if self._thinking is not None:
            await self._thinking.aclose()

    async def stream(self) -> Batches:
        if self._thinking is None:  # probe 0 skipped the thought
            yield (self._done(""),)
            async for batch in self._answer(""):
                yield batch
            return
        thought: list[str] = []
        stream = self._thinking.stream()
        forced = False
        try:
            async for batch in stream:
                shown: list[Delta] = []
                for delta in batch:
                    if isinstance(delta, ReasoningDelta):
                        thought.append(delta.text)
                        shown.append(delta)
                        if await self._at_budget(thought):
                            forced = True
                            break
                    else:
                        shown.append(self._passed(delta))
                if shown:
                    yield shown
                if forced:
                    break
        finally:
            await stream.aclose()  # at the budget: cancels the upstream request
        if forced:
            yield (self._done("".join(thought)),)
            async for batch in self._answer("".join(thought)):
                yield batch

    async def _at_budget(self, thought: list[str]) -> bool:
        """The thought ends here: the budget is spent, or the probes agree."""
        if self._plan.meter.reasoning_tokens + self._probe_tokens >= self._budget:
            return True
        return await self._converged("".join(thought), len(thought))

    def _passed(self, delta: Delta) -> Delta:
        """A Delta of the thinking request other than its thought, as the client gets it."""
        if isinstance(delta, ReasoningDoneDelta):
            return self._filled(delta)
        if isinstance(delta, FinishDelta) and self._probe_tokens:
            meter, probes = self._plan.meter, self._probe_tokens
            meter.output_tokens += probes
            meter.reasoning_tokens += probes
            output, reasoning = delta.output_tokens + probes, delta.reasoning_tokens + probes
            return FinishDelta(delta.reason, output_tokens=output, reasoning_tokens=reasoning)
        return delta

    async def _converged(self, thought: str, chunks: int) -> bool:
        """A probe every `probe_interval` chunks, while the budget has room for one."""
        policy = self._policy
        if policy is None or chunks % policy.probe_interval:
            return False
        used = self._plan.meter.reasoning_tokens + self._probe_tokens
        if self._budget - used < policy.probe_tokens:
            return False
        self._probes.append(await self._probe(thought, at=chunks))
        return policy.should_stop(self._probes)

    async def _probe(self, thought: str, *, at: int = 0) -> Probe:
        """The answer the upstream gives now, after the thought so far closed (greedy)."""
        assert self._policy is not None
        sampling = dataclasses.replace(
            self._request.sampling, temperature=0.0, top_p=1.0, stop=("\n",), logprobs=True
        )
        request = dataclasses.replace(
            self._request,
            reasoning_effort="none",
            sampling=sampling,
            context=dataclasses.replace(
                self._request.context, assistant_prefix=self._format.answer_prefix(thought)
            ),
        )
        plan = GenerationPlan(max_output_tokens=self._policy.probe_tokens)
        text, logprobs = "", []
        async for delta in generation(self._backend, request, plan):
            if isinstance(delta, TextDelta):
                text += delta.text
                logprobs += [lp.logprob for lp in delta.logprobs]
            elif isinstance(delta, PromptDelta) and self._prompt is None:
                self._prompt = delta
        tokens = max(plan.meter.output_tokens, len(logprobs))
        self._probe_tokens += tokens
        confidence = math.exp(sum(logprobs) / len(logprobs)) if logprobs else None
        return Probe(answer=text.strip(), confidence=confidence, tokens=tokens, at=at)

    async def _answer(self, thought: str) -> Batches:
        meter = self._plan.meter
        spent = meter.reasoning_tokens + self._probe_tokens
        cap = self._plan.max_output_tokens
        if cap is not None and cap - spent <= 0:
            yield (FinishDelta("length", output_tokens=spent, reasoning_tokens=spent),)
            return
        request = dataclasses.replace(
            self._request,
            reasoning_effort="none",
            context=dataclasses.replace(
                self._request.context, assistant_prefix=self._format.answer_prefix(thought)
            ),
        )
        # Same meter (the channel that served is recorded on it): counts restart from here.
        plan = GenerationPlan(max_output_tokens=None if cap is None else cap - spent, meter=meter)
        meter.output_tokens = meter.reasoning_tokens = 0
        try:
            # the caller's prompt was reported by the first request: this one's is not
            async with sent(self._backend, request, plan) as batches:
                async for batch in batches:
                    shown: list[Delta] = []
                    for delta in batch:
                        if isinstance(delta, ReasoningDelta | ReasoningDoneDelta):
                            continue  # thinking again at effort none: counted, not shown
                        if isinstance(delta, FinishDelta):
                            delta = dataclasses.replace(
                                delta,
                                output_tokens=spent + delta.output_tokens,
                                reasoning_tokens=spent + delta.reasoning_tokens,
                            )
                        shown.append(delta)
                    if shown:
                        yield shown
        finally:
            meter.output_tokens += spent
            meter.reasoning_tokens += spent

    def _done(self, thought: str) -> ReasoningDoneDelta:
        return self._filled(ReasoningDoneDelta(thought))

    def _filled(self, done: ReasoningDoneDelta) -> ReasoningDoneDelta:
        """Chat upstreams send no summary or sealed copy: made here from the thought."""
        summary = done.summary
        mode = self._request.reasoning_summary
        if not summary and mode:
            summary = summarize(done.text, mode)
        channel = self._plan.meter.channel  # theirs, in ours, naming its account
        sealed = self._sealer.seal_upstream(done, channel).encrypted_content
        if sealed is None and "reasoning.encrypted_content" in self._request.include:
            sealed = self._sealer.seal(done.text)
        return dataclasses.replace(done, summary=summary, encrypted_content=sealed)
