"""Adaptive depth, training-free: how much of the effort's cap a request should spend.

Two signals, both cheap:

1. before thinking, a difficulty estimate from request features (numbers, operators,
   multi-step cue words, sentences, length) blended with the model's own confidence on
   a short direct-answer probe (the mean probability of its greedy tokens);
2. while thinking, an early exit: the answer is probed at intervals and thinking stops
   once two probes in a row agree and the model is confident in them.

The policy is a small value the planner holds; replace it by passing another object
with the `ThinkingPolicy` shape.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Protocol

_NUMBER = re.compile(r"\d+(?:\.\d+)?")
_OPERATOR = re.compile(r"[+\-*/×÷^%=]|\b(?:plus|minus|times|divided|multiplied|squared)\b")
_CUES = re.compile(
    r"\b(?:then|after|each|every|total|remaining|left|twice|half|triple|double|if|"
    r"step|first|second|third|more than|less than|how many|how much|altogether|"
    r"average|ratio|percent|all|some|none|not|only|who|which)\b"
)
_SENTENCE_END = re.compile(r"[.?!]+(?:\s|$)")


@dataclass(slots=True, frozen=True)
class Probe:
    """A short answer the model gave when asked to answer now, and how sure it was."""

    answer: str
    confidence: float
    tokens: int


class ThinkingPolicy(Protocol):
    @property
    def adaptive(self) -> bool: ...

    @property
    def probe_tokens(self) -> int:
        """Answer tokens per probe (each counts as a reasoning token)."""
        ...

    @property
    def probe_interval(self) -> int:
        """Thinking tokens between two probes."""
        ...

    def budget(self, cap: int, prompt: str, probe: Probe | None) -> int:
        """Thinking tokens to allow (≤ cap), from the request and the pre-thinking probe."""
        ...

    def should_stop(self, probes: list[Probe]) -> bool:
        """Whether the answer has converged while thinking."""
        ...


def feature_difficulty(prompt: str) -> float:
    """0 (one-step lookup) … 1 (several chained steps), from surface features alone."""
    text = prompt.lower()
    numbers = len(_NUMBER.findall(text))
    operators = len(_OPERATOR.findall(text))
    cues = len(_CUES.findall(text))
    sentences = max(1, len(_SENTENCE_END.findall(text)))
    words = len(text.split())
    score = (
        0.12 * max(0, numbers - 2)
        + 0.12 * max(0, operators - 1)
        + 0.1 * cues
        + 0.1 * (sentences - 1)
        + words / 200
    )
    return min(1.0, score)


@dataclass(slots=True, frozen=True)
class AdaptivePolicy:
    """Spend nothing on what looks easy and is answered confidently; the cap on the rest."""

    adaptive: bool = True
    probe_tokens: int = 2
    probe_interval: int = 32
    feature_weight: float = 0.7
    easy_below: float = 0.2  # difficulty under this: answer without thinking
    full_above: float = 0.55  # difficulty over this: the whole cap
    stop_confidence: float = 0.6

    def difficulty(self, prompt: str, probe: Probe | None) -> float:
        features = feature_difficulty(prompt)
        if probe is None:
            return features
        doubt = 1.0 - probe.confidence
        return self.feature_weight * features + (1 - self.feature_weight) * doubt

    def budget(self, cap: int, prompt: str, probe: Probe | None) -> int:
        level = self.difficulty(prompt, probe)
        share = (level - self.easy_below) / (self.full_above - self.easy_below)
        return round(cap * min(1.0, max(0.0, share)))

    def should_stop(self, probes: list[Probe]) -> bool:
        if len(probes) < 2:
            return False
        last, before = probes[-1], probes[-2]
        agree = bool(last.answer) and _norm(last.answer) == _norm(before.answer)
        return agree and min(last.confidence, before.confidence) >= self.stop_confidence


@dataclass(slots=True, frozen=True)
class FixedPolicy:
    """Adaptivity off: think until done or the cap (the benchmark's baseline)."""

    adaptive: bool = False
    probe_tokens: int = 0
    probe_interval: int = 0

    def budget(self, cap: int, prompt: str, probe: Probe | None) -> int:
        return cap

    def should_stop(self, probes: list[Probe]) -> bool:
        return False


def _norm(answer: str) -> str:
    return " ".join(re.sub(r"[^\w.\-]", " ", answer.lower()).split())
