"""The tests' config builder (tests/support/config.py) writes TOML that thinkgate reads back
as the channels and settings it was given: the server tests rely on it for every channel."""

from __future__ import annotations

from pathlib import Path

from tests.support.config import channel, server_config, write_config
from thinkgate.config import load_settings


def test_built_channels_and_sections_load_as_given(tmp_path: Path) -> None:
    config = write_config(
        tmp_path / "thinkgate.toml",
        channel(
            "first",
            "http://127.0.0.1:9",
            {"gpt-5.1": "upstream-a", "vendor.model/x": "b"},  # names that need quoting
            priority=2,
            breaker_failures=1000,
            timeouts={"first_byte": 1.5},
            model_limits={"vendor.model/x": {"context_window": 16384}},
        ),
        channel(
            "second",
            "http://127.0.0.1:9",
            kind="openai-responses",
            api_key_env="KEY",
            embeddings={"text-embedding-3-small": "small"},
        ),
        preamble='# kept as written\n[security]\nallowed_networks = ["127.0.0.0/8"]\n',
        trusted_proxies=["127.0.0.1"],
    )
    settings = load_settings(
        config_file=config, environ={"KEY": "sk-x"}, overrides={"data_dir": tmp_path}
    )
    first, second = settings.channels
    assert (first.name, first.kind, first.base_url) == (
        "first",
        "openai-chat",
        "http://127.0.0.1:9/v1",
    )
    assert first.models == {"gpt-5.1": "upstream-a", "vendor.model/x": "b"}
    assert (first.priority, first.breaker_failures, first.timeouts.first_byte) == (2, 1000, 1.5)
    assert first.model_limits["vendor.model/x"].context_window == 16384
    assert (second.kind, second.api_key_env, second.models) == ("openai-responses", "KEY", {})
    assert second.embeddings == {"text-embedding-3-small": "small"}
    assert settings.security.allowed_networks == ["127.0.0.0/8"]
    assert settings.trusted_proxies == ["127.0.0.1"]


def test_no_channels_writes_only_the_sections() -> None:
    assert server_config(log_format="json") == 'log_format = "json"\n'
