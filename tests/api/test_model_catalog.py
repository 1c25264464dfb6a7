"""`GET /v1/models` as a catalog clients configure themselves from: OpenAI's model object,
parsed by the SDK, plus the window, output cap, efforts, modalities and tool types, under
both OpenAI-style names and the names Codex's `ModelInfo` reads (codex-rs
`protocol/src/openai_models.rs`; its `/models` client reads the `models` key). For the
embedded model and for an upstream channel's model. Real servers, real SDK.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from openai import OpenAI

from tests.support.config import channel, server_config
from tests.support.server import ADMIN_KEY, ServerProcess, make_client
from thinkgate.config import ConfigError, load_settings

pytestmark = pytest.mark.timeout(300)

# Fields Codex's ModelInfo requires (no serde default), then those it sizes itself by.
CODEX_REQUIRED = {
    "slug",
    "display_name",
    "description",
    "supported_reasoning_levels",
    "shell_type",
    "visibility",
    "supported_in_api",
    "priority",
    "upgrade",
    "availability_nux",
    "support_verbosity",
    "default_verbosity",
    "apply_patch_tool_type",
    "truncation_policy",
    "supports_parallel_tool_calls",
    "experimental_supported_tools",
}
CODEX_SIZING = {
    "context_window",
    "auto_compact_token_limit",
    "effective_context_window_percent",
    "input_modalities",
    "default_reasoning_level",
}
# The embedded model's config: the test server keeps the defaults
EMBEDDED = load_settings(environ={}, overrides={"data_dir": Path("/nonexistent")}).local_models[0]


def listed(client: OpenAI) -> dict[str, dict[str, Any]]:
    """Each model as the SDK parsed it (strict), with its extra fields."""
    return {
        model.id: {**model.model_dump(), **(model.model_extra or {})}
        for model in client.models.list()
    }


def check_codex_shape(entry: dict[str, Any]) -> None:
    assert set(entry) >= CODEX_REQUIRED | CODEX_SIZING
    assert entry["slug"] == entry["id"] and entry["visibility"] == "list"
    assert entry["apply_patch_tool_type"] == "freeform"
    assert entry["shell_type"] in {"default", "local", "unified_exec", "disabled", "shell_command"}
    assert entry["truncation_policy"]["mode"] in {"bytes", "tokens"}
    assert entry["truncation_policy"]["limit"] > 0
    levels = [level["effort"] for level in entry["supported_reasoning_levels"]]
    assert levels == entry["reasoning_efforts"]
    assert all(
        isinstance(level["description"], str) for level in entry["supported_reasoning_levels"]
    )
    assert entry["default_reasoning_level"] == entry["default_reasoning_effort"] in levels
    assert entry["auto_compact_token_limit"] == entry["context_window"] * 9 // 10
    assert {"function", "custom", "apply_patch", "shell"} <= set(entry["supported_tools"])


def test_the_embedded_model_publishes_its_window(client: OpenAI, http: httpx.Client) -> None:
    models = listed(client)
    for name in ("gpt-5.1", "smollm2-135m-instruct"):
        entry = models[name]
        check_codex_shape(entry)
        assert entry["context_window"] == EMBEDDED.n_ctx
        assert entry["max_output_tokens"] == EMBEDDED.n_ctx  # what the prompt leaves of it
        assert entry["default_max_output_tokens"] == EMBEDDED.default_max_output_tokens
        assert entry["input_modalities"] == ["text"]
    assert models["gpt-5.1"]["reasoning_efforts"] == ["none", "low", "medium", "high"]
    one = client.models.retrieve("gpt-5.1")
    assert {**one.model_dump(), **(one.model_extra or {})} == models["gpt-5.1"]
    # Codex asks `{base_url}/models?client_version=…` and reads `models`
    reply = http.get("/v1/models", params={"client_version": "0.169.0"})
    assert reply.status_code == 200, reply.text
    body = reply.json()
    assert body["models"] == body["data"] and body["object"] == "list"
    assert [entry["priority"] for entry in body["models"]] == list(range(len(body["models"])))


def _config(limited: str = "vendor-small") -> str:
    """One channel with two models and per-model limits for `limited`."""
    limits = {"context_window": 16384, "max_output_tokens": 2048, "input_modalities": ["text"]}
    return server_config(
        channel(
            "big",
            "http://127.0.0.1:9",
            {"vendor-large": "large", "vendor-small": "small"},
            context_window=32768,
            max_output_tokens=4096,
            model_limits={limited: limits},
        )
    )


@pytest.fixture(name="upstream_server", scope="module")
def upstream_server_fixture(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    config = tmp_path_factory.mktemp("catalog") / "thinkgate.toml"
    config.write_text(_config())
    process = ServerProcess(tmp_path_factory.mktemp("catalog-data") / "data", config=config)
    try:
        yield process
    finally:
        process.stop()


def test_an_upstream_channels_models_publish_their_config(upstream_server: ServerProcess) -> None:
    models = listed(make_client(upstream_server.base_url, ADMIN_KEY))
    large, small = models["vendor-large"], models["vendor-small"]
    for entry in (large, small):
        check_codex_shape(entry)
    assert (large["context_window"], large["max_output_tokens"]) == (32768, 4096)
    assert large["input_modalities"] == ["text", "image"]  # images are forwarded upstream
    assert (small["context_window"], small["max_output_tokens"]) == (16384, 2048)
    assert small["input_modalities"] == ["text"]
    assert small["auto_compact_token_limit"] == 14745


def test_limits_for_a_model_the_channel_does_not_serve_are_refused(tmp_path: Path) -> None:
    config = tmp_path / "thinkgate.toml"
    config.write_text(_config(limited="vendor-tiny"))
    with pytest.raises(ConfigError, match="vendor-tiny"):
        load_settings(config_file=config, environ={}, overrides={"data_dir": tmp_path})
