"""The embedded model's window past its trained context, and its default output cap.

SmolLM2 was trained on 8,192 positions; the default window is 16,384: a prompt that fits
the trained window (with its planned output) is read as trained, a longer one by a
second llama context with RoPE stretched by YaRN; reasoning budgets stay a share of the
trained window. Codex on the embedded default: tests/clients/test_codex_embedded.py.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from openai import OpenAI

from tests.support.config import write_config
from tests.support.server import ServerProcess, make_client
from thinkgate.backends.llama_windows import LlamaWindows, llama_rope_type, rope_params
from thinkgate.backends.local import LocalBackend
from thinkgate.backends.model_files import default_gguf_path
from thinkgate.config import LocalModelConfig
from thinkgate.reasoning.budgets import budget_for

CAP = 24
TRAINED_CONTEXT = 8192


@pytest.fixture(scope="module")
def embedded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    root = tmp_path_factory.mktemp("capped")
    model = {"name": "smollm2-135m-instruct", "default_max_output_tokens": CAP}
    config = write_config(root / "thinkgate.toml", local_models=[model])
    process = ServerProcess(root / "data", config=config)
    yield process
    process.stop()


@pytest.fixture(scope="module")
def capped(embedded: ServerProcess) -> OpenAI:
    return make_client(embedded.base_url)


def test_a_window_past_the_trained_context_stretches_rope_by_yarn() -> None:
    gguf = default_gguf_path()
    yarn = llama_rope_type("yarn")
    assert rope_params(LocalModelConfig(name="m"), gguf) == {  # the default: 16,384
        "rope_scaling_type": yarn,
        "rope_freq_scale": 0.5,  # 8,192 trained positions over 16,384
        "yarn_orig_ctx": 8192,
    }
    assert rope_params(LocalModelConfig(name="m", n_ctx=8192), gguf) == {}  # as trained
    linear = LocalModelConfig(name="m", n_ctx=32768, rope_scaling="linear")
    assert rope_params(linear, gguf) == {
        "rope_scaling_type": llama_rope_type("linear"),
        "rope_freq_scale": 0.25,
    }
    trained = LocalModelConfig(name="m", n_ctx=8192, trained_ctx=4096)
    assert rope_params(trained, gguf)["rope_freq_scale"] == 0.5
    unscaled = LocalModelConfig(name="m", n_ctx=16384, rope_scaling="none")
    assert rope_params(unscaled, gguf) == {"rope_scaling_type": llama_rope_type("none")}


def test_a_request_without_a_cap_gets_the_models_default(capped: OpenAI) -> None:
    response = capped.responses.create(
        model="gpt-5.1", input="Write a long story about the sea.", temperature=0
    )
    assert response.status == "incomplete"
    assert response.incomplete_details is not None
    assert response.incomplete_details.reason == "max_output_tokens"
    assert response.usage is not None and response.usage.output_tokens == CAP
    assert response.max_output_tokens is None  # echoed as sent


def test_an_explicit_cap_overrides_the_default(capped: OpenAI) -> None:
    response = capped.responses.create(
        model="gpt-5.1",
        input="Write a long story about the sea.",
        temperature=0,
        max_output_tokens=CAP + 10,
    )
    assert response.usage is not None and response.usage.output_tokens > CAP


def test_prompts_that_fit_the_trained_window_are_read_as_trained() -> None:
    """Two llama contexts: the trained one for prompts that fit it with their planned output
    (no cap: a little room), the stretched one, opened on first need, for the rest."""
    config = LocalModelConfig(name="m")
    windows = LlamaWindows(config, default_gguf_path(), threads=1, trained=TRAINED_CONTEXT)
    try:
        assert (windows.base.size, windows.base.tag) == (TRAINED_CONTEXT, "")
        assert windows.pick(7000, 1024, 16) is windows.base
        assert windows.pick(8100, None, 16) is windows.base
        stretched = windows.pick(8700, 1024, 16)  # Codex's first request
        assert (stretched.size, stretched.tag) == (16384, "|rope:auto:16384")
        assert windows.pick(7500, 1024, 16) is stretched  # its answer would pass 8,192
        assert stretched.llama.n_ctx() == 16384
    finally:
        windows.close()
    unscaled = LocalModelConfig(name="m", n_ctx=16384, rope_scaling="none")
    one = LlamaWindows(unscaled, default_gguf_path(), threads=1, trained=TRAINED_CONTEXT)
    try:  # one window, positions past 8,192 extrapolated
        assert one.pick(12000, 1024, 16) is one.base and one.base.size == 16384
    finally:
        one.close()


def test_reasoning_budgets_are_a_share_of_the_trained_window() -> None:
    """Stretching makes room for long prompts, not for longer thoughts."""
    capabilities = LocalBackend(LocalModelConfig(name="m")).capabilities()
    assert capabilities.context_window == 16384
    assert capabilities.reasoning_window == TRAINED_CONTEXT
    assert budget_for("high", capabilities.reasoning_window) == 512
    small = LocalBackend(LocalModelConfig(name="m", n_ctx=2048)).capabilities()
    assert small.reasoning_window == 2048  # a window under the trained one is its own share
