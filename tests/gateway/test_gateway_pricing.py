"""The cost formula in exact decimals: cached tokens are a subset of input, reasoning of output."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from thinkgate.config import ConfigError, ModelPrice, load_settings
from thinkgate.gateway.pricing import PICO_PER_USD, PriceTable, usd

PRICES = PriceTable(
    {
        "gpt-5.1": ModelPrice(
            input=Decimal("1.00"), cached_input=Decimal("0.10"), output=Decimal("8.00")
        ),
        "odd": ModelPrice(
            input=Decimal("0.075"), cached_input=Decimal("0.0375"), output=Decimal("0.300001")
        ),
    }
)


@given(
    st.sampled_from(["gpt-5.1", "odd"]),
    st.integers(0, 10**7),
    st.integers(0, 10**7),
    st.integers(0, 10**6),
)
def test_cost_is_exact(model: str, input_tokens: int, cached: int, output: int) -> None:
    cached = min(cached, input_tokens)
    price = {"gpt-5.1": ("1.00", "0.10", "8.00"), "odd": ("0.075", "0.0375", "0.300001")}[model]
    per_million = [Decimal(p) for p in price]
    expected = (
        (input_tokens - cached) * per_million[0] + cached * per_million[1] + output * per_million[2]
    ) / 1_000_000
    pico = PRICES.cost(model, input_tokens=input_tokens, cached_tokens=cached, output_tokens=output)
    assert Decimal(pico) / PICO_PER_USD == expected
    assert Decimal(usd(pico)) == expected
    worst = PRICES.worst_case(model, input_tokens=input_tokens, max_output_tokens=output)
    assert pico <= worst


def test_cached_tokens_are_never_counted_twice() -> None:
    full = PRICES.cost("gpt-5.1", input_tokens=1000, cached_tokens=0, output_tokens=0)
    cached = PRICES.cost("gpt-5.1", input_tokens=1000, cached_tokens=800, output_tokens=0)
    assert usd(full) == "0.001"
    assert usd(cached) == "0.00028"  # 200 × $1/M + 800 × $0.10/M


def test_unknown_models_pay_the_gpt_5_1_price() -> None:
    assert PRICES.price("someone-else") == PRICES.price("gpt-5.1")


def test_pricing_config_accepts_decimal_strings_and_refuses_more_than_six_places(
    tmp_path,  # type: ignore[no-untyped-def]
) -> None:
    good = tmp_path / "good.toml"
    good.write_text('[pricing."gpt-5.1"]\ninput = "1.25"\ncached_input = "0.125"\noutput = "10"\n')
    settings = load_settings(config_file=good, environ={})
    assert settings.pricing["gpt-5.1"].input == Decimal("1.25")
    assert settings.pricing["smollm2-135m-instruct"].output == Decimal("8.00")  # default kept
    bad = tmp_path / "bad.toml"
    bad.write_text('[pricing."gpt-5.1"]\ninput = "0.0000001"\ncached_input = "0"\noutput = "1"\n')
    with pytest.raises(ConfigError):
        load_settings(config_file=bad, environ={})


@given(st.integers(min_value=-(10**20), max_value=10**20))
def test_usd_writes_what_decimal_normalizes_to(pico: int) -> None:
    """The cost header's text: exact, no trailing zeros, no exponent (`0.000123`, `2`)."""
    assert usd(pico) == f"{(Decimal(pico) / PICO_PER_USD).normalize():f}"
