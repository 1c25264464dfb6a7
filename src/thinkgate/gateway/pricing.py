"""Prices per model and the cost of a request, in exact integers of picodollars (1e-12 USD).

Prices are USD per 1M tokens with at most six decimals, so one token costs a whole number
of picodollars and every sum is exact. Cached tokens are a subset of input tokens and
reasoning tokens a subset of output tokens (as OpenAI reports them): neither is counted twice.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from thinkgate.config import ModelPrice

PICO_PER_USD = 10**12
_FALLBACK = "gpt-5.1"
# A hosted tool's price (`[tool_pricing]`, by tool type) is paid per item of this type
# that completed (a failed or cancelled call is free).
_CALL_ITEMS = {
    "web_search_call": "web_search",
    "mcp_call": "mcp",
    "code_interpreter_call": "code_interpreter",
    "file_search_call": "file_search",
}


@dataclass(slots=True, frozen=True)
class TokenPrice:
    """Picodollars per token."""

    input: int
    cached_input: int
    output: int

    @classmethod
    def from_config(cls, price: ModelPrice) -> TokenPrice:
        return cls(
            _per_token(price.input), _per_token(price.cached_input), _per_token(price.output)
        )


class PriceTable:
    def __init__(
        self, pricing: Mapping[str, ModelPrice], tools: Mapping[str, Decimal] | None = None
    ) -> None:
        self._prices = {name: TokenPrice.from_config(p) for name, p in pricing.items()}
        self._tools = {name: to_pico(price) for name, price in (tools or {}).items()}

    def tool_calls(self, output: Iterable[dict[str, Any]]) -> tuple[int, int]:
        """(completed priced hosted calls, their cost in picodollars) of a response."""
        calls = cost = 0
        containers: set[str] = set()  # the code interpreter is priced per container used
        for item in output:
            tool = _CALL_ITEMS.get(str(item.get("type")))
            if tool is not None and tool in self._tools and item.get("status") == "completed":
                if tool == "code_interpreter":
                    if item.get("container_id") in containers:
                        continue
                    containers.add(str(item.get("container_id")))
                calls += 1
                cost += self._tools[tool]
        return calls, cost

    def worst_tool_cost(self, keys: Iterable[str], calls: int) -> int:
        """What `calls` hosted calls may cost at most: each at the dearest of these tools."""
        dearest = max((self._tools.get(key, 0) for key in keys), default=0)
        return calls * dearest

    def price(self, model: str) -> TokenPrice:
        """A model without its own line is billed at gpt-5.1's prices, never for free."""
        return self._prices.get(model) or self._prices[_FALLBACK]

    def cost(self, model: str, *, input_tokens: int, cached_tokens: int, output_tokens: int) -> int:
        """(input - cached) × input + cached × cached_input + output × output (reasoning is
        part of output)."""
        price = self.price(model)
        cached = min(cached_tokens, input_tokens)
        return (
            (input_tokens - cached) * price.input
            + cached * price.cached_input
            + output_tokens * price.output
        )

    def worst_case(self, model: str, *, input_tokens: int, max_output_tokens: int) -> int:
        """What a request may cost at most: every input token at the full list price."""
        price = self.price(model)
        return input_tokens * price.input + max_output_tokens * price.output


def usd(pico: int) -> str:
    """Picodollars as a decimal string in USD (`"0.000123"`, `"2"`), for the wire: exact
    integer arithmetic (the cost header is written on every billed request)."""
    whole, fraction = divmod(abs(pico), PICO_PER_USD)
    text = f"{whole}.{fraction:012d}".rstrip("0").rstrip(".")
    return f"-{text}" if pico < 0 else text


def to_pico(amount: Decimal) -> int:
    return int(amount * PICO_PER_USD)


def _per_token(per_million: Decimal) -> int:
    value = per_million * 1_000_000
    if value != value.to_integral_value():
        raise ValueError("prices may have at most six decimals")
    return int(value)
