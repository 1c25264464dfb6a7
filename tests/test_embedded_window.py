"""The embedded model's window past its trained context, and its default output cap; Codex
CLI on the embedded default: its ~8,700-token first request, past SmolLM2's trained 8K
context, completes a turn, and the next turn reuses the first's prompt prefix.

The Codex test is the slowest of the suite (a 10K-token prompt read on the CPU, then its
cached prefix): one session, two turns, on the session's server (`make serve`'s defaults).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from openai import OpenAI

from tests.codex_cli import require_codex, run_codex
from tests.conftest import make_client
from tests.server import ServerProcess
from thinkgate.backends.local import llama_rope_type, rope_params
from thinkgate.backends.model_files import default_gguf_path
from thinkgate.config import LocalModelConfig

CAP = 24
TRAINED_CONTEXT = 8192


@pytest.fixture(scope="module")
def embedded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    root = tmp_path_factory.mktemp("capped")
    config = root / "thinkgate.toml"
    config.write_text(
        f'[[local_models]]\nname = "smollm2-135m-instruct"\ndefault_max_output_tokens = {CAP}\n'
    )
    process = ServerProcess(root / "data", config=config)
    yield process
    process.stop()


@pytest.fixture(scope="module")
def capped(embedded: ServerProcess) -> OpenAI:
    return make_client(embedded.base_url)


def test_a_window_past_the_trained_context_stretches_rope_by_yarn() -> None:
    gguf = default_gguf_path()
    yarn = llama_rope_type("yarn")
    assert rope_params(LocalModelConfig(name="m", n_ctx=16384), gguf) == {
        "rope_scaling_type": yarn,
        "rope_freq_scale": 0.5,  # 8,192 trained positions over 16,384
        "yarn_orig_ctx": 8192,
    }
    assert rope_params(LocalModelConfig(name="m"), gguf) == {}  # the default: as trained
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


@pytest.fixture(scope="module")
def wide(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    """The embedded model with the 16,384-token window Codex's first request needs."""
    root = tmp_path_factory.mktemp("wide")
    config = root / "thinkgate.toml"
    config.write_text('[[local_models]]\nname = "smollm2-135m-instruct"\nn_ctx = 16384\n')
    process = ServerProcess(root / "data", config=config)
    yield process
    process.stop()


@pytest.mark.skipif(
    not os.environ.get("THINKGATE_SLOW_CODEX"),
    reason="not yet seen to pass: one Codex turn on the CPU took 17 minutes on a loaded "
    "2-core machine; set THINKGATE_SLOW_CODEX=1 to run it",
)
@pytest.mark.timeout(3200)  # minutes on a loaded machine: the prompt is read on the CPU
def test_codex_completes_turns_on_the_embedded_model(wide: ServerProcess, tmp_path: Path) -> None:
    """With the default output cap, since Codex fails a turn whose response is
    `incomplete` (a cap of 24 tokens did, here)."""
    server = wide
    require_codex()
    workdir = tmp_path / "work"
    workdir.mkdir()
    home = tmp_path / "codex-home"
    options: dict[str, Any] = {"sandbox": "read-only", "idle_ms": 1_800_000, "timeout": 1500}
    prompt = "Reply with one short greeting. Do not run any command."
    first = run_codex(server.base_url, "gpt-5.1", prompt, workdir, home, **options)
    assert first.returncode == 0, first.describe()
    [usage] = first.usage()
    assert usage["input_tokens"] > TRAINED_CONTEXT  # past the trained context, served
    again = "Once more, please."
    second = run_codex(server.base_url, "gpt-5.1", again, workdir, home, resume=True, **options)
    assert second.returncode == 0, second.describe()
    [usage] = second.usage()
    assert usage["cached_input_tokens"] > TRAINED_CONTEXT // 2  # the first turn's prefix
