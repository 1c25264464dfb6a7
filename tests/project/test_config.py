"""Serving other GGUF files through `[[local_models]]` in the config file."""

from __future__ import annotations

from pathlib import Path

import openai
import pytest

from tests.support.server import ServerProcess, make_client
from thinkgate.backends.model_files import default_gguf_path
from thinkgate.config import ConfigError, load_settings
from thinkgate.config_docs import DOC, table


def test_config_file_adds_a_local_model_and_alias(tmp_path: Path) -> None:
    config = tmp_path / "thinkgate.toml"
    config.write_text(
        "[[local_models]]\n"
        'name = "my-gguf"\n'
        f'path = "{default_gguf_path()}"\n'
        "n_ctx = 2048\n"
        "threads = 1\n"
        "\n[aliases]\n"
        '"house-model" = "my-gguf"\n'
    )
    server = ServerProcess(tmp_path / "data", config=config)
    try:
        client = make_client(server.base_url)
        ids = {model.id for model in client.models.list()}
        assert {"my-gguf", "house-model", "gpt-5.1", "smollm2-135m-instruct"} <= ids
        response = client.responses.create(
            model="house-model", input="Say hi.", max_output_tokens=16, temperature=0
        )
        assert response.model == "house-model" and response.output_text
        # Its own context window (2048) applies, not the default model's (16,384).
        long_input = "word " * 2100  # past 2,048 tokens, and no more: read on the CPU
        with pytest.raises(openai.BadRequestError) as error:
            client.responses.create(model="my-gguf", input=long_input, max_output_tokens=16)
        assert error.value.code == "context_length_exceeded"
        ok = client.responses.create(
            model="gpt-5.1", input=long_input, max_output_tokens=16, temperature=0
        )
        assert ok.usage is not None and ok.usage.input_tokens > 2048
    finally:
        server.stop()


def test_bad_config_fails_at_boot(tmp_path: Path) -> None:
    config = tmp_path / "bad.toml"
    config.write_text("[[local_models]]\nname = 'x'\nn_ctx = 'big'\n")
    with pytest.raises(ConfigError):
        load_settings(config_file=config, environ={})


def test_placeholder_admin_key_is_refused() -> None:
    with pytest.raises(ConfigError):
        load_settings(environ={"THINKGATE_ADMIN_KEY": "changeme"})


def test_every_setting_comes_from_the_environment_over_the_file(tmp_path: Path) -> None:
    """Nested with `__`, lists and tables as JSON, empty variables unset; a variable for one
    nested setting keeps the rest of the file's table; the command line wins over both."""
    config = tmp_path / "thinkgate.toml"
    config.write_text("port = 7000\n[prompt_cache]\nchunk_tokens = 32\nram_budget_bytes = 1024\n")
    environ = {
        "THINKGATE_PROMPT_CACHE__RAM_BUDGET_BYTES": "2048",
        "THINKGATE_ALIASES": '{"fast": "smollm2-135m-instruct"}',
        "THINKGATE_BUSY_POLL_US": "250",
        "THINKGATE_LOG_LEVEL": "",
        "THINKGATE_TRUSTED_PROXIES": "127.0.0.1, 10.0.0.0/8",
    }
    settings = load_settings(config_file=config, environ=environ, overrides={"port": 7100})
    assert settings.prompt_cache.ram_budget_bytes == 2048
    assert settings.prompt_cache.chunk_tokens == 32  # the file's, kept
    assert settings.aliases["fast"] == "smollm2-135m-instruct"
    assert settings.aliases["gpt-5.1"] == "smollm2-135m-instruct"  # the default alias stays
    assert settings.busy_poll_us == 250
    assert settings.log_level == load_settings(environ={}).log_level  # empty: unset
    assert settings.trusted_proxies == ["127.0.0.1", "10.0.0.0/8"]
    assert settings.port == 7100
    with pytest.raises(ConfigError, match="busy_poll_us"):
        load_settings(environ={"THINKGATE_BUSY_POLL_US": "-1"})
    with pytest.raises(ConfigError, match="aliases"):
        load_settings(environ={"THINKGATE_ALIASES": "fast=smollm2"})  # a table must be JSON


def test_the_configuration_table_lists_every_setting() -> None:
    """docs/configuration.md's table is the one the code generates (regenerate it with
    `python -m thinkgate.config_docs` after adding a setting)."""
    assert table() in DOC.read_text(), "stale: run `python -m thinkgate.config_docs`"
