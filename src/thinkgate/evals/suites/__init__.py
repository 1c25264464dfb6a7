"""The bundled suites (made by `evals.templates` with a fixed seed) and exact-match grading.

Each suite has `SUITE_SIZE` items: the first half is the calibration part (thresholds are
chosen on it, `thinkgate eval --calibrate`), the second half the held-out test part
(figures are reported on it). Both halves hold every template in equal measure.

Grading normalises both sides (first line, lower case, a leading "answer:" or "the answer
is" dropped, thousands separators and surrounding punctuation removed) and accepts the
whole normalised reply or its first word: "Paris is the capital." matches "paris".
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

from thinkgate.evals.templates import generate

SUITES = ("easy", "medium", "hard")
SPLITS = ("calibration", "test")
SUITE_SIZE = 216  # a multiple of 2 x 6 templates: each half holds 18 items of each
_LEAD = re.compile(r"^(?:final answer|the answer is|answer)\s*[:=]?\s*")
_EDGE = re.compile(r"^[^\w-]+|[^\w]+$")
_OPERATORS = {"+", "-", "*", "/", "x", "×", "=", "plus", "minus", "times"}

Split = Literal["calibration", "test", "all"]


@dataclass(slots=True, frozen=True)
class EvalItem:
    id: str
    suite: str
    question: str
    answer: str
    split: str = "test"


def load_suite(name: str, split: Split = "all") -> list[EvalItem]:
    """`easy`, `medium`, `hard`, or `all` (each in that order); one part or both."""
    names = SUITES if name == "all" else (name,)
    if split not in (*SPLITS, "all"):
        raise ValueError(f"unknown split {split!r}: choose from {', '.join(SPLITS)}, all")
    items = []
    for suite in names:
        if suite not in SUITES:
            raise ValueError(f"unknown suite {suite!r}: choose from {', '.join(SUITES)}, all")
        half = SUITE_SIZE // 2
        for index, (question, answer) in enumerate(generate(suite, SUITE_SIZE)):
            part = SPLITS[0] if index < half else SPLITS[1]
            if split in ("all", part):
                item_id = f"{suite}-{index + 1:03d}"
                items.append(EvalItem(item_id, suite, question, answer, part))
    return items


def normalise(text: str) -> str:
    lines = [line for line in text.strip().lower().splitlines() if line.strip()]
    first = lines[0].strip() if lines else ""
    first = _LEAD.sub("", first)
    first = re.sub(r"(?<=\d),(?=\d{3})", "", first)
    return " ".join(_EDGE.sub("", first).split())


def grade(reply: str, expected: str) -> bool:
    """The first word counts unless an operator follows it: "2 + 8 -" is the question
    echoed, not the answer 2."""
    got, want = normalise(reply), normalise(expected)
    if not got:
        return False
    words = got.split()
    first_word = _EDGE.sub("", words[0])
    echoed = len(words) > 1 and words[1] in _OPERATORS
    return got == want or (first_word == want and not echoed)
