"""The reasoning planner: where the pipeline turns an effort into a budget and a generation.

effort ─► cap (budgets: per model, scaled to context) ─► GenerationPlan.reasoning_budget
plan ─► effort `none`: the backend as is
     ├► an upstream that thinks itself: its own reasoning, the budget forced on the stream
     │  (reasoning.upstream_budget)
     └► otherwise: think-then-answer over the backend (adaptive policy, or fixed when
        the model's `adaptive_reasoning = false`), in the model's own `<think>` tags
        (`thinking = "native"`: budget forcing) or the Reasoning:/Answer: scaffold
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from thinkgate.config import AdaptiveThresholds, LocalModelConfig, Settings
from thinkgate.core.backend import Backend, Batches, GenerationPlan, Piped, Prepared
from thinkgate.core.deltas import Delta, ReasoningDelta, ReasoningDoneDelta
from thinkgate.core.request import CanonicalRequest
from thinkgate.reasoning.budgets import budget_for
from thinkgate.reasoning.formats import NativeFormat, ScaffoldFormat, ThoughtFormat
from thinkgate.reasoning.policy import AdaptivePolicy, FixedPolicy, ThinkingPolicy
from thinkgate.reasoning.scaffold import ThinkThenAnswer
from thinkgate.reasoning.sealing import Sealer, sealed_upstream
from thinkgate.reasoning.upstream_budget import UpstreamBudget


@dataclass(slots=True, frozen=True)
class ModelReasoning:
    """A backend's reasoning settings (from its `[[local_models]]` entry)."""

    budgets: Mapping[str, int] = field(default_factory=dict)
    adaptive: bool = True
    thought_format: ThoughtFormat = field(default_factory=ScaffoldFormat)
    policy: ThinkingPolicy | None = None  # its calibrated thresholds; None: the planner's


class ReasoningPlanner:
    def __init__(
        self,
        sealer: Sealer,
        models: Mapping[str, ModelReasoning] | None = None,
        policy: ThinkingPolicy | None = None,
    ) -> None:
        self.sealer = sealer
        self._models = dict(models or {})
        self._adaptive: ThinkingPolicy = policy or AdaptivePolicy()
        self._fixed: ThinkingPolicy = FixedPolicy()

    def plan(self, request: CanonicalRequest, backend: Backend) -> GenerationPlan:
        settings = self._models.get(backend.name, ModelReasoning())
        capabilities = backend.capabilities()
        window = capabilities.reasoning_window or capabilities.context_window
        budget = budget_for(request.reasoning_effort, window, settings.budgets)
        cap = request.max_output_tokens
        default = capabilities.default_max_output_tokens
        if cap is None and default is not None:  # the model's default caps the answer
            cap = default + budget  # and thinking keeps its own budget on top
        return GenerationPlan(max_output_tokens=cap, reasoning_budget=budget)

    async def prepare(
        self,
        backend: Backend,
        request: CanonicalRequest,
        plan: GenerationPlan,
        *,
        shown: bool = True,
    ) -> Prepared:
        """The generation as the plan shapes it, prepared (`core.backend.Prepared`).
        `shown`: whether the reasoning reaches the client at all (chat shows none of it, so
        there is nothing to hide and no layer to pay for per delta)."""
        prepared = await self._prepare(backend, request, plan)
        return (
            prepared
            if request.context.raw_reasoning or not shown
            else Piped(prepared, hide_raw_reasoning)
        )

    async def _prepare(
        self, backend: Backend, request: CanonicalRequest, plan: GenerationPlan
    ) -> Prepared:
        settings = self._models.get(backend.name, ModelReasoning())
        if request.reasoning_effort == "none" or plan.reasoning_budget <= 0:
            prepared = await backend.prepare(
                without_thinking(request, settings.thought_format), plan
            )
            if backend.capabilities().native_reasoning:  # it may send its own sealed thought
                return Piped(
                    prepared, lambda deltas: sealed_upstream(self.sealer, deltas, plan.meter)
                )
            return prepared
        if backend.capabilities().native_reasoning:  # an upstream given reasoning_effort
            channel = self._models.get(backend.name)
            probing = channel is not None and channel.adaptive
            policy = (channel.policy or self._adaptive) if channel and probing else None
            return await UpstreamBudget(
                backend, request, plan, self.sealer, policy=policy
            ).prepare()
        policy = (settings.policy or self._adaptive) if settings.adaptive else self._fixed
        return await ThinkThenAnswer(
            backend, request, plan, policy, self.sealer, settings.thought_format
        ).prepare()

    def unseal_inputs(self, request: CanonicalRequest) -> None:
        self.sealer.unseal_inputs(request)


def planner_for(settings: Settings) -> ReasoningPlanner:
    """The server's planner: its sealing key in the data dir, each local model's settings."""
    models = {
        config.name: ModelReasoning(
            budgets={str(k): v for k, v in config.reasoning_budgets.items()},
            adaptive=config.adaptive_reasoning,
            thought_format=_thought_format(config),
            policy=_policy(config.adaptive_thresholds),
        )
        for config in settings.local_models
    }
    for channel in settings.channels:  # upstream backends are named `upstream:<model>`
        budgets = {str(k): v for k, v in channel.reasoning_budgets.items()}
        adaptive, policy = channel.adaptive_reasoning, _policy(channel.adaptive_thresholds)
        for public in channel.models:
            reasoning = ModelReasoning(budgets=budgets, adaptive=adaptive, policy=policy)
            models.setdefault(f"upstream:{public}", reasoning)
    key = settings.reasoning_key
    sealer = (  # replicas share `reasoning_key`; one server alone keeps its own file
        Sealer(key.get_secret_value().encode())
        if key is not None
        else Sealer.from_data_dir(settings.data_dir)
    )
    return ReasoningPlanner(sealer, models)


def _policy(thresholds: AdaptiveThresholds | None) -> ThinkingPolicy | None:
    if thresholds is None:
        return None
    return AdaptivePolicy(
        skip_confidence=thresholds.skip_confidence,
        stop_confidence=thresholds.stop_confidence,
        agree=thresholds.agree,
    )


def _thought_format(config: LocalModelConfig) -> ThoughtFormat:
    if config.thinking == "native":
        return NativeFormat(config.think_open, config.think_close, config.think_transition)
    return ScaffoldFormat()


def without_thinking(request: CanonicalRequest, thought_format: ThoughtFormat) -> CanonicalRequest:
    """Effort `none` on a `<think>`-tag model: the reply opens with an empty, closed
    block (as Qwen3's `enable_thinking=False` does), so no thought lands in the answer."""
    if not isinstance(thought_format, NativeFormat):
        return request
    sampling = dataclasses.replace(
        request.sampling, stop=(*request.sampling.stop, *thought_format.answer_stop)
    )
    prefix = request.context.assistant_prefix + thought_format.answer_prefix("")
    context = dataclasses.replace(request.context, assistant_prefix=prefix)
    return dataclasses.replace(request, sampling=sampling, context=context)


async def hide_raw_reasoning(batches: Batches) -> Batches:
    """GPT-5.1 never returns its chain of thought: the reasoning item opens when thinking
    starts, and carries only the summary and the sealed copy. A batch without reasoning
    passes as it is."""
    opened = False
    try:
        async for batch in batches:
            if not _has_reasoning(batch):
                yield batch
                continue
            shown: list[Delta] = []
            for delta in batch:
                if isinstance(delta, ReasoningDelta):
                    if not opened:
                        opened = True
                        shown.append(ReasoningDelta("", raw=False))
                elif isinstance(delta, ReasoningDoneDelta):
                    opened = False
                    shown.append(dataclasses.replace(delta, raw=False))
                else:
                    shown.append(delta)
            if shown:
                yield shown
    finally:
        await batches.aclose()


def _has_reasoning(batch: Sequence[Delta]) -> bool:
    """A plain loop: no allocation for the common batch, which has none (per token on the
    embedded engine)."""
    for delta in batch:  # noqa: SIM110 - `any()` would allocate a generator per batch
        if isinstance(delta, _REASONING):
            return True
    return False


_REASONING = (ReasoningDelta, ReasoningDoneDelta)
