"""Adaptive depth, training-free: answer probes decide when thinking may stop, or skip.

A probe is the answer the model would give if it had to answer now: the answer prefix
(the thought so far closed, then `Answer:`), at most `probe_tokens` greedy tokens, cut at
the line's end. Its confidence is the geometric mean of its tokens' probabilities.

    probe 0 (before thinking) ─► confidence ≥ skip_confidence ─► SKIP: answer, no thought
          │ otherwise
          ▼
    think `probe_interval` tokens ─► probe k ─► the last `agree` probes give one answer,
          ▲                                     each with confidence ≥ stop_confidence
          │                                     ─► STOP: close the thought, answer
          └──────────── CONTINUE ◄──────────────── otherwise (until the cap or the model
                                                   ends its thought itself)

Probe 0 counts towards `agree`, so "no thinking" is earned twice over: by a skip-confident
probe 0, or by a first thought chunk whose probe confirms probe 0. Thresholds come from
the model's config (`adaptive_thresholds`), written by `thinkgate eval --calibrate`, which
chooses them on the calibration part of the bundled suites (`evals.calibrate`). The rule
follows DEER (early exit on a confident trial answer) and Dynasor-CoT (consistency of
probed answers). Probe tokens are generated tokens: they count as reasoning tokens.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal, Protocol

Decision = Literal["skip", "stop", "continue"]
NEVER = 1.01  # a confidence threshold no probe reaches: that move is off


@dataclass(slots=True, frozen=True)
class Probe:
    """A short answer the model gave when asked to answer now, and how sure it was.

    `at`: thinking tokens written before the probe (0: before thinking). `confidence`
    None: the backend sent no logprobs (an upstream): such a probe never earns a skip,
    and stops by agreement alone."""

    answer: str
    confidence: float | None
    tokens: int
    at: int = 0


class ThinkingPolicy(Protocol):
    @property
    def adaptive(self) -> bool: ...

    @property
    def probe_tokens(self) -> int:
        """Answer tokens per probe at most (each counts as a reasoning token)."""
        ...

    @property
    def probe_interval(self) -> int:
        """Thinking tokens between two probes."""
        ...

    def budget(self, cap: int, prompt: str, probe: Probe | None) -> int:
        """Thinking tokens to allow (≤ cap), from the request and the pre-thinking probe."""
        ...

    def should_stop(self, probes: list[Probe]) -> bool:
        """Whether the answer has converged while thinking (probe 0 first)."""
        ...


@dataclass(slots=True, frozen=True)
class AdaptivePolicy:
    """Probe agreement: skip, stop or continue, by the rule in the module docstring.

    The defaults are the embedded SmolLM2-135M's calibrated values (docs/reasoning.md)."""

    adaptive: bool = True
    probe_tokens: int = 6
    probe_interval: int = 32
    skip_confidence: float = 0.8
    stop_confidence: float = 0.4
    agree: int = 2

    def decide(self, probes: Sequence[Probe]) -> Decision:
        """The whole rule: `probes` in order, probe 0 (taken before thinking) first."""
        if not probes:
            return "continue"
        if len(probes) == 1:
            first = probes[0]
            confident = first.confidence is not None and first.confidence >= self.skip_confidence
            return "skip" if first.answer and confident else "continue"
        recent = probes[-self.agree :]
        if len(recent) < self.agree or not recent[-1].answer:
            return "continue"
        same = len({normalise_answer(p.answer) for p in recent}) == 1
        sure = all(p.confidence is None or p.confidence >= self.stop_confidence for p in recent)
        return "stop" if same and sure else "continue"

    def budget(self, cap: int, prompt: str, probe: Probe | None) -> int:
        if probe is not None and self.decide([probe]) == "skip":
            return 0
        return cap

    def should_stop(self, probes: list[Probe]) -> bool:
        return self.decide(probes) == "stop"


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


def normalise_answer(answer: str) -> str:
    """What two probes must share to agree: lower case, a leading "the answer is" and
    punctuation dropped, so "Answer: 12." and "12" agree."""
    text = re.sub(r"^(?:the answer is|answer)\s*[:=]?\s*", "", answer.strip().lower())
    return " ".join(re.sub(r"[^\w.\-]", " ", text).split()).strip(".")
