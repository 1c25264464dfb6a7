"""Run a suite at several efforts against an endpoint through the official `openai` SDK.

One request per item and effort, one at a time (a local engine takes turns anyway, and
latency per item is what the table reports). Effort `none` is sent as `none`; an empty
effort (`""`) omits `reasoning`, for endpoints that do not know the parameter.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from thinkgate.config import DEFAULT_PRICE
from thinkgate.evals.suites import EvalItem, grade

INSTRUCTIONS = "Reply with only the final answer: a number, a word or a name. No explanation."


@dataclass(slots=True, frozen=True)
class Price:
    """USD per 1M tokens (default: thinkgate's configured default for gpt-5.1)."""

    input: Decimal = Decimal(DEFAULT_PRICE["input"])
    output: Decimal = Decimal(DEFAULT_PRICE["output"])

    def cost(self, input_tokens: int, output_tokens: int) -> Decimal:
        return (input_tokens * self.input + output_tokens * self.output) / Decimal(1_000_000)


@dataclass(slots=True, frozen=True)
class ItemResult:
    item: EvalItem
    effort: str
    reply: str
    correct: bool
    input_tokens: int
    output_tokens: int
    reasoning_tokens: int
    latency_s: float
    error: str | None = None


@dataclass(slots=True)
class EffortResult:
    """One row of the table: an effort over the items run."""

    effort: str
    model: str
    items: list[ItemResult] = field(default_factory=list)

    def _mean(self, values: Sequence[float]) -> float:
        return sum(values) / len(values) if values else 0.0

    @property
    def accuracy(self) -> float:
        return self._mean([1.0 if r.correct else 0.0 for r in self.items])

    @property
    def reasoning_tokens(self) -> float:
        return self._mean([r.reasoning_tokens for r in self.items])

    @property
    def output_tokens(self) -> float:
        return self._mean([r.output_tokens for r in self.items])

    @property
    def latency_s(self) -> float:
        return self._mean([r.latency_s for r in self.items])

    def cost(self, price: Price) -> Decimal:
        return sum((price.cost(r.input_tokens, r.output_tokens) for r in self.items), Decimal(0))

    @property
    def errors(self) -> int:
        return sum(1 for r in self.items if r.error is not None)


def run_item(
    client: Any, model: str, item: EvalItem, effort: str, max_output_tokens: int | None
) -> ItemResult:
    """One graded request; an API error is recorded as a wrong answer, not raised."""
    body: dict[str, Any] = {"model": model, "input": item.question, "instructions": INSTRUCTIONS}
    if effort:
        body["reasoning"] = {"effort": effort}
    if max_output_tokens is not None:
        body["max_output_tokens"] = max_output_tokens
    started = time.perf_counter()
    try:
        response = client.responses.create(**body)
    except Exception as exc:  # the SDK's APIError family and transport errors alike
        elapsed = time.perf_counter() - started
        return ItemResult(item, effort, "", False, 0, 0, 0, elapsed, error=str(exc))
    elapsed = time.perf_counter() - started
    usage = response.usage
    reply = response.output_text or ""
    return ItemResult(
        item=item,
        effort=effort,
        reply=reply,
        correct=grade(reply, item.answer),
        input_tokens=usage.input_tokens if usage else 0,
        output_tokens=usage.output_tokens if usage else 0,
        reasoning_tokens=usage.output_tokens_details.reasoning_tokens if usage else 0,
        latency_s=elapsed,
    )


def run_suite(
    client: Any,
    model: str,
    items: Sequence[EvalItem],
    efforts: Sequence[str],
    *,
    max_output_tokens: int | None = None,
    on_item: Callable[[ItemResult], None] | None = None,
) -> list[EffortResult]:
    results = []
    for effort in efforts:
        row = EffortResult(effort=effort or "(default)", model=model)
        for item in items:
            result = run_item(client, model, item, effort, max_output_tokens)
            row.items.append(result)
            if on_item is not None:
                on_item(result)
        results.append(row)
    return results
