"""What one tool decision reads and how it decides (`tool_choice: "auto"` on the embedded
model): the model's likelihoods at the start of its reply, the two measures made of them
(relevance, grounding) and the calibrated rule. Pure values: `tool_decision` measures them
on the llama context; this module is what the benchmark fits (bench/tool_decision_fit.py).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from thinkgate.config import LocalModelConfig

# Chosen by `python -m bench.tool_decisions --write` on the calibration prompts
# (SmolLM2-135M-Instruct Q4_1); the four lines below are rewritten by that command.
CALIBRATED_MARGIN = -6.288
GROUNDING_WEIGHT = 0.0
SMALL_TALK_RELEVANCE = 1.831
GROUNDING_FLOOR = 0.603


@dataclass(slots=True, frozen=True)
class Likelihoods:
    """The model's log-likelihoods (natural log) at the start of its reply."""

    call: float  # opening a call to any offered tool
    answer: float  # writing a message instead
    tools: dict[str, float]  # each tool's call opening, its name included
    opening: float  # the opening alone, up to the name: `<tool_call>\n{"name": "`
    greedy_call: bool = False  # the likeliest first token opens a call (the model's choice)
    top: float = 0.0  # the likeliest first token's log-likelihood (recorded by the bench)
    entropy: float = 0.0  # the first token's entropy, nats (recorded by the bench)


@dataclass(slots=True, frozen=True)
class DecisionScores:
    """What one decision reads: the request as sent, and the same request with its last
    user message replaced by `NEUTRAL` (what the tools and the system text alone suggest)."""

    real: Likelihoods
    neutral: Likelihoods
    # The first argument's value the model would write for the likeliest tool (greedy), each
    # token's log-likelihood after the request and after the neutral prompt; empty when
    # the tool takes no JSON arguments.
    argument_real: tuple[float, ...] = ()
    argument_neutral: tuple[float, ...] = ()
    argument: str = ""

    @property
    def tool(self) -> str:
        return max(self.real.tools, key=lambda name: self.real.tools[name])

    @property
    def relevance(self) -> float:
        """How much the user's message raises the likeliest call over the neutral one."""
        return max(self.real.tools[n] - self.neutral.tools[n] for n in self.real.tools)

    @property
    def grounding(self) -> float:
        """How much more the request than the neutral prompt predicts that argument: high
        when it is copied or derived from the user's words ("San Francisco", "43"), near 0
        when it is made up ("Good morning!" gives no location to look up)."""
        return sum(self.argument_real) - sum(self.argument_neutral)

    def score(self, weight: float | None = None) -> float:
        """relevance + weight × grounding (default: the calibrated `GROUNDING_WEIGHT`)."""
        return self.relevance + (GROUNDING_WEIGHT if weight is None else weight) * self.grounding


@dataclass(slots=True, frozen=True)
class DecisionRule:
    """Call or answer from the scores. Relevance alone puts greetings and thanks above most
    real requests (a short message after a tool list reads, to SmolLM2, like the turn
    before a call); what they lack is an argument the call could be made of."""

    margin: float = CALIBRATED_MARGIN
    weight: float = GROUNDING_WEIGHT
    small_talk_relevance: float = SMALL_TALK_RELEVANCE  # inf: no small-talk gate
    grounding_floor: float = GROUNDING_FLOOR

    @property
    def reads_argument(self) -> bool:
        """Whether grounding enters the rule (reading the argument costs ~30% more)."""
        return self.weight != 0 or math.isfinite(self.small_talk_relevance)

    def calls(self, scores: DecisionScores) -> bool:
        """True: call."""
        return self.decides(scores.relevance, scores.grounding)

    def decides(self, relevance: float, grounding: float) -> bool:
        """True: call. A value exactly at a threshold counts as reaching it."""
        if relevance >= self.small_talk_relevance:
            return grounding >= self.grounding_floor
        return relevance + self.weight * grounding >= self.margin

    @classmethod
    def of(cls, config: LocalModelConfig) -> DecisionRule:
        """The calibrated defaults, with whatever the model's config overrides."""
        given = {
            "margin": config.tool_call_margin,
            "weight": config.tool_grounding_weight,
            "small_talk_relevance": config.tool_small_talk_relevance,
            "grounding_floor": config.tool_grounding_floor,
        }
        return cls(**{name: value for name, value in given.items() if value is not None})
