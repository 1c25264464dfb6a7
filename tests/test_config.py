"""Serving other GGUF files through `[[local_models]]` in the config file."""

from __future__ import annotations

from pathlib import Path

import openai
import pytest

from tests.conftest import make_client
from tests.server import ServerProcess
from thinkgate.backends.model_files import default_gguf_path
from thinkgate.config import ConfigError, load_settings


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
        long_input = "word " * 3000
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
