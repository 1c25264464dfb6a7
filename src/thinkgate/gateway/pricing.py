"""Prices per model and the cost of a request, in exact integers of picodollars (1e-12 USD).

Prices are USD per 1M tokens with at most six decimals, so one token costs a whole number
of picodollars and every sum is exact. Cached tokens are a subset of input tokens and
reasoning tokens a subset of output tokens (as OpenAI reports them): neither is counted twice.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal

from thinkgate.config import ModelPrice

PICO_PER_USD = 10**12
_FALLBACK = "gpt-5.1"


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
    def __init__(self, pricing: Mapping[str, ModelPrice]) -> None:
        self._prices = {name: TokenPrice.from_config(p) for name, p in pricing.items()}

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
