"""The tool decision's thresholds, fitted on the calibration prompts (bench/tool_decisions.py).

The engine's rule (`backends.tool_decision_rule.DecisionRule`) is a two-level decision tree over
the model's two measures: a message whose relevance reaches `small_talk_relevance` calls
only if its grounding reaches `grounding_floor`; below that, relevance must reach `margin`.
`fit_rule` picks the three thresholds that make the most right decisions on the rows it is
given, each the midpoint of the widest run of equally good values, so that every threshold
sits in a gap between prompts rather than on one. The linear rule of before (relevance +
weight × grounding against a margin; `fit`) and relevance alone are fitted the same way
for comparison, and `cross_validation` refits each rule on nine tenths of the calibration
half and scores the tenth left out.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable
from typing import Any

import numpy as np

from thinkgate.backends.tool_decision_rule import DecisionRule

Row = tuple[tuple[float, float], bool, dict[str, Any]]  # (relevance, grounding), applies, detail


def right_decisions(rule: DecisionRule, rows: list[Row]) -> int:
    return sum(rule.decides(*measures) == applies for measures, applies, _ in rows)


def fit_rule(rows: list[Row]) -> tuple[DecisionRule, int]:
    """The small-talk gate and the margin below it; (rule, right decisions on `rows`)."""
    relevances = sorted({relevance for (relevance, _), _, _ in rows})
    gates = [(a + b) / 2 for a, b in itertools.pairwise(relevances)] + [math.inf]
    return _split(rows, widest(gates, [_split(rows, gate)[1] for gate in gates]))


def widest(candidates: list[float], counts: list[int]) -> float:
    """The midpoint of the widest run of neighbouring candidates with the best count (inf
    when the run reaches an infinite candidate)."""
    best = max(counts)
    runs: list[list[float]] = []
    for index, (candidate, count) in enumerate(zip(candidates, counts, strict=True)):
        if count == best and runs and counts[index - 1] == best:
            runs[-1].append(candidate)
        elif count == best:
            runs.append([candidate])
    run = max(runs, key=lambda r: r[-1] - r[0])
    return round((run[0] + run[-1]) / 2, 3) if math.isfinite(run[-1]) else math.inf


def _split(rows: list[Row], gate: float) -> tuple[DecisionRule, int]:
    """Below the gate the best margin on relevance, above it the best floor on grounding."""
    below = [(relevance, applies) for (relevance, _), applies, _ in rows if relevance < gate]
    above = [
        (grounding, applies) for (relevance, grounding), applies, _ in rows if relevance >= gate
    ]
    margin, right_below = calibrate(below)
    floor, right_above = calibrate(above) if above else (0.0, 0)
    rule = DecisionRule(margin=margin, weight=0.0, small_talk_relevance=gate, grounding_floor=floor)
    return rule, right_below + right_above


def fit_weight(rows: list[Row]) -> float:
    """Grounding's weight against relevance: the ratio of their coefficients in a logistic
    regression (standardised, lightly L2-regularised, plain gradient descent) of "a tool
    applies" on the two. 0 when the fit gives relevance no positive weight."""
    x = np.array([measures for measures, _, _ in rows], dtype=np.float64)
    y = np.array([applies for _, applies, _ in rows], dtype=np.float64)
    mean, spread = x.mean(axis=0), x.std(axis=0) + 1e-9
    z = (x - mean) / spread
    w, b = np.zeros(2), 0.0
    for _ in range(3000):
        p = 1.0 / (1.0 + np.exp(-(z @ w + b)))
        w -= 0.5 * (z.T @ (p - y) + 0.1 * w) / len(y)
        b -= 0.5 * float((p - y).mean())
    relevance, grounding = w / spread
    return round(float(grounding / relevance), 4) if relevance > 0 else 0.0


def combined(rows: list[Row], weight: float) -> list[tuple[float, bool]]:
    return [(r + weight * g, applies) for (r, g), applies, _ in rows]


def fit(rows: list[Row]) -> tuple[float, float, int]:
    """(weight, margin, right decisions on `rows`)."""
    weight = fit_weight(rows)
    margin, right = calibrate(combined(rows, weight))
    return weight, margin, right


def cross_validation(rows: list[Row], folds: int = 10, shuffles: int = 5) -> dict[str, Any]:
    """Right decisions on each held-out tenth of the calibration half, each rule refitted
    on the rest: the small-talk gate (the default), relevance + weight × grounding, and
    relevance alone."""
    rules: dict[str, Callable[[list[Row]], DecisionRule]] = {
        "small_talk_gate": lambda train: fit_rule(train)[0],
        "relevance_and_grounding": lambda train: linear_rule(*fit(train)[:2]),
        "relevance_only": lambda train: linear_rule(0.0, calibrate(combined(train, 0.0))[0]),
    }
    found: dict[str, list[float]] = {name: [] for name in rules}
    for seed in range(shuffles):
        order = np.random.default_rng(seed).permutation(len(rows))
        for fold in range(folds):
            inside = set(order[fold::folds].tolist())
            train = [row for k, row in enumerate(rows) if k not in inside]
            held = [row for k, row in enumerate(rows) if k in inside]
            for name, fitted in rules.items():
                found[name].append(right_decisions(fitted(train), held) / len(held))
    return {
        rule: {
            "mean": round(float(np.mean(v)), 3),
            "std": round(float(np.std(v)), 3),
            "min": round(min(v), 3),
            "max": round(max(v), 3),
        }
        for rule, v in found.items()
    }


def linear_rule(weight: float, margin: float) -> DecisionRule:
    """relevance + weight × grounding against a margin, no small-talk gate (the rule of before)."""
    return DecisionRule(margin=margin, weight=weight, small_talk_relevance=math.inf)


def features(rows: list[Row]) -> dict[str, int]:
    """Right decisions on the calibration half of each part of the score alone, at its best
    threshold there: the opening (`<tool_call>\\n{"name": "`) raw and against the neutral
    prompt, the likeliest tool name's part (given the opening) and its contrast."""

    def name(detail: dict[str, Any], side: str) -> dict[str, float]:
        part = detail[side]
        return {t: v - part["opening"] for t, v in part["tools"].items()}

    parts: dict[str, Callable[[dict[str, Any]], float]] = {
        "opening": lambda d: d["real"]["opening"],
        "opening_contrast": lambda d: d["real"]["opening"] - d["neutral"]["opening"],
        "name": lambda d: max(name(d, "real").values()),
        "name_contrast": lambda d: max(
            name(d, "real")[t] - name(d, "neutral")[t] for t in d["real"]["tools"]
        ),
        "relevance": lambda d: d["relevance"],
        "grounding": lambda d: d["grounding"],
    }
    return {key: calibrate([(f(d), a) for _, a, d in rows])[1] for key, f in parts.items()}


def calibrate(rows: list[tuple[float, bool]]) -> tuple[float, int]:
    """The margin with the most right decisions (score >= margin → call): the midpoint of
    the widest run of equally good thresholds. Returns (margin, right decisions)."""
    values = sorted({score for score, _ in rows})
    candidates = [values[0] - 1.0]
    candidates += [(a + b) / 2 for a, b in itertools.pairwise(values)]
    candidates.append(values[-1] + 1.0)
    right = [sum((s >= c) == applies for s, applies in rows) for c in candidates]
    return widest(candidates, right), max(right)
