"""The bundled suites (JSON package data) and exact-match grading.

Grading normalises both sides (first line, lower case, a leading "answer:" or "the answer
is" dropped, thousands separators and surrounding punctuation removed) and accepts the
whole normalised reply or its first word: "Paris is the capital." matches "paris".
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from importlib import resources

SUITES = ("easy", "hard")
_LEAD = re.compile(r"^(?:final answer|the answer is|answer)\s*[:=]?\s*")
_EDGE = re.compile(r"^[^\w-]+|[^\w]+$")


@dataclass(slots=True, frozen=True)
class EvalItem:
    id: str
    suite: str
    question: str
    answer: str


def load_suite(name: str) -> list[EvalItem]:
    """`easy`, `hard`, or `all` (both, easy first)."""
    names = SUITES if name == "all" else (name,)
    items = []
    for suite in names:
        if suite not in SUITES:
            raise ValueError(f"unknown suite {suite!r}: choose from {', '.join(SUITES)}, all")
        raw = json.loads(resources.files(__name__).joinpath(f"{suite}.json").read_text())
        items += [
            EvalItem(id=i["id"], suite=suite, question=i["question"], answer=i["answer"])
            for i in raw["items"]
        ]
    return items


def normalise(text: str) -> str:
    lines = [line for line in text.strip().lower().splitlines() if line.strip()]
    first = lines[0].strip() if lines else ""
    first = _LEAD.sub("", first)
    first = re.sub(r"(?<=\d),(?=\d{3})", "", first)
    return " ".join(_EDGE.sub("", first).split())


def grade(reply: str, expected: str) -> bool:
    got, want = normalise(reply), normalise(expected)
    if not got:
        return False
    first_word = _EDGE.sub("", got.split()[0])
    return got == want or first_word == want
