"""An embedded model's own sampling defaults, for what a request leaves unset.

A request without `temperature` / `top_p` (Codex sends neither) is sampled with the
model's defaults: the `[[local_models]]` entry's, else the GGUF's `general.sampling.*`,
else the model card's (SmolLM2: 0.2 / 0.9), else OpenAI's 1.0; and the response echoes
the values it was sampled with, as OpenAI echoes its model's (docs/clients.md).
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from openai import OpenAI
from openai.types.chat import ChatCompletionMessageParam

from tests.support.server import ServerProcess, make_client
from thinkgate.backends.sampling_defaults import ModelSampling, model_sampling, sampling_of
from thinkgate.config import LocalModelConfig

GREEDY = "smollm2-greedy"  # the same GGUF, configured to sample greedily by default
PROMPT = "Write a short poem about a lighthouse keeper and the sea."


@pytest.fixture(scope="module")
def local(tmp_path_factory: pytest.TempPathFactory) -> Iterator[OpenAI]:
    root = tmp_path_factory.mktemp("sampling")
    config = root / "thinkgate.toml"
    config.write_text(
        '[[local_models]]\nname = "smollm2-135m-instruct"\n\n'
        f'[[local_models]]\nname = "{GREEDY}"\nn_ctx = 2048\ntemperature = 0\n'
    )
    process = ServerProcess(root / "data", config=config)
    yield make_client(process.base_url)
    process.stop()


def test_each_default_comes_from_the_first_source_that_has_it() -> None:
    card = {"general.basename": "smollm2"}
    assert _values(model_sampling(LocalModelConfig(name="m"), card)) == (0.2, 0.9, 1.0)
    gguf = card | {"general.sampling.temp": "0.600000", "general.sampling.top_p": "0.950000"}
    gguf["general.sampling.penalty_repeat"] = "1.100000"
    assert _values(model_sampling(LocalModelConfig(name="m"), gguf)) == (0.6, 0.95, 1.1)
    configured = LocalModelConfig(name="m", temperature=0.3)
    found = model_sampling(configured, gguf)
    assert _values(found) == (0.3, 0.95, 1.1)
    assert dict(found.sources) == {
        "temperature": "config",
        "top_p": "gguf",
        "repeat_penalty": "gguf",
    }
    unknown = {"general.basename": "other", "general.sampling.top_p": "7"}  # out of range
    assert _values(model_sampling(LocalModelConfig(name="m"), unknown)) == (1.0, 1.0, 1.0)


def test_the_shipped_smollm2_samples_as_its_model_card_says() -> None:
    """Its GGUF carries no `general.sampling.*` keys: the card's values stand in."""
    shipped = sampling_of(LocalModelConfig(name="smollm2-135m-instruct"))
    assert _values(shipped) == (0.2, 0.9, 1.0)
    assert dict(shipped.sources)["temperature"] == "model card"


def test_an_unset_parameter_is_echoed_with_the_models_default(local: OpenAI) -> None:
    unset = local.responses.create(model="gpt-5.1", input="Hi", max_output_tokens=16)
    assert (unset.temperature, unset.top_p) == (0.2, 0.9)
    one_set = local.responses.create(
        model="gpt-5.1", input="Hi", max_output_tokens=16, temperature=0.7
    )
    assert (one_set.temperature, one_set.top_p) == (0.7, 0.9)  # the other stays the model's


def test_a_request_without_temperature_is_sampled_at_the_models_default(local: OpenAI) -> None:
    """A model configured greedy answers an unset temperature exactly as temperature 0
    (40 tokens of a poem at OpenAI's 1.0 would not repeat the greedy text), on both APIs."""
    greedy = local.responses.create(model=GREEDY, input=PROMPT, max_output_tokens=40, temperature=0)
    unset = local.responses.create(model=GREEDY, input=PROMPT, max_output_tokens=40)
    assert unset.temperature == 0 and unset.output_text == greedy.output_text
    assert greedy.usage is not None and greedy.usage.output_tokens >= 20  # a real answer
    messages: list[ChatCompletionMessageParam] = [{"role": "user", "content": PROMPT}]
    chat_greedy = local.chat.completions.create(
        model=GREEDY, messages=messages, max_completion_tokens=40, temperature=0
    )
    chat_unset = local.chat.completions.create(
        model=GREEDY, messages=messages, max_completion_tokens=40
    )
    assert chat_unset.choices[0].message.content == chat_greedy.choices[0].message.content


def _values(found: ModelSampling) -> tuple[float, float, float]:
    return (found.temperature, found.top_p, found.repeat_penalty)
