"""Channels in the config, the registry's routing of public names, the breaker and the
priority/weight order: the parts of failover that need no server."""

from __future__ import annotations

import asyncio
import random
from pathlib import Path
from typing import Any

import pytest

from tests.support.config import channel, write_config
from thinkgate.backends.registry import ModelRegistry
from thinkgate.backends.upstream.breaker import CircuitBreaker
from thinkgate.backends.upstream.channel import Channel
from thinkgate.backends.upstream.responses_wire import responses_body
from thinkgate.backends.upstream.routing import Route, draw_order
from thinkgate.config import ChannelConfig, ConfigError, load_settings
from thinkgate.core.request import CanonicalRequest


def _settings(tmp_path: Path, *channels: tuple[str, Any]) -> object:
    models = {"gpt-5.1": "Qwen/Qwen3-8B"}
    entries = [channel(n, "http://127.0.0.1:9", models, kind=k) for n, k in channels]
    config = write_config(tmp_path / "thinkgate.toml", *entries)
    return load_settings(config_file=config, environ={}, overrides={"data_dir": tmp_path})


def test_a_channel_takes_over_gpt_5_1(tmp_path: Path) -> None:
    settings = _settings(tmp_path, ("vllm-a", "openai-chat"))
    registry = ModelRegistry(settings)  # type: ignore[arg-type]
    info, backend = registry.resolve("gpt-5.1")
    assert backend.name == "upstream:gpt-5.1"
    assert info.reasoning_efforts == ("none", "low", "medium", "high")
    assert backend.capabilities().native_reasoning
    _, local = registry.resolve("smollm2-135m-instruct")  # the embedded model stays served
    assert local.name == "smollm2-135m-instruct"
    asyncio.run(registry.aclose())


def test_without_channels_gpt_5_1_is_the_embedded_model(tmp_path: Path) -> None:
    registry = ModelRegistry(load_settings(environ={}, overrides={"data_dir": tmp_path}))
    _, backend = registry.resolve("gpt-5.1")
    assert backend.name == "smollm2-135m-instruct"
    asyncio.run(registry.aclose())


def test_duplicate_channel_names_are_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="channel names must be unique: a"):
        _settings(tmp_path, ("a", "openai-chat"), ("a", "openai-responses"))


def test_unknown_kind_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="openai-chat"):
        _settings(tmp_path, ("a", "anthropic"))


def test_missing_key_variable_fails_at_boot() -> None:
    config = ChannelConfig.model_validate(
        {
            "name": "a",
            "kind": "openai-chat",
            "base_url": "http://127.0.0.1:9/v1",
            "api_key_env": "THINKGATE_TEST_KEY_THAT_IS_NOT_SET",
            "models": {"gpt-5.1": "x"},
        }
    )
    with pytest.raises(ConfigError, match="THINKGATE_TEST_KEY_THAT_IS_NOT_SET is not set"):
        Channel(config)


def test_breaker_opens_cools_down_and_probes() -> None:
    now = [0.0]
    breaker = CircuitBreaker(failures=2, cooldown=10.0, clock=lambda: now[0])
    breaker.failure()
    assert breaker.allow()  # one failure: still closed
    breaker.failure()
    assert breaker.state == "open" and not breaker.allow()
    now[0] = 10.0
    assert breaker.allow()  # the half-open probe
    assert not breaker.allow()  # only one at a time
    breaker.failure()
    assert breaker.state == "open" and not breaker.allow()
    now[0] = 20.0
    assert breaker.allow()
    breaker.abandon()  # the probe was cancelled: the next request may probe
    assert breaker.allow()
    breaker.success()
    assert breaker.state == "closed" and breaker.allow() and breaker.allow()


def _route(name: str, priority: int, weight: int) -> Route:
    config = ChannelConfig.model_validate(
        {
            "name": name,
            "kind": "openai-chat",
            "base_url": "http://127.0.0.1:9/v1",
            "models": {"m": "m"},
            "priority": priority,
            "weight": weight,
        }
    )
    return Route(Channel(config), "m")


def test_order_is_priority_then_weight() -> None:
    routes = [_route("backup", 2, 1), _route("heavy", 1, 9), _route("light", 1, 1)]
    rng = random.Random(7)
    firsts = [draw_order(routes, rng)[0].channel.name for _ in range(1000)]
    assert all(draw_order(routes, rng)[-1].channel.name == "backup" for _ in range(50))
    assert set(firsts) == {"heavy", "light"}
    assert 850 < firsts.count("heavy") < 950  # weight 9 of 10


def test_responses_body_takes_the_flat_forms() -> None:
    """A Chat Completions request (nested tool_choice) forwarded to a Responses upstream."""
    request = CanonicalRequest(
        model="gpt-5.1",
        input_items=[{"id": "msg_1", "type": "message", "role": "user", "content": "hi"}],
        tools=[{"type": "function", "name": "f", "parameters": {"type": "object"}}],
        tool_choice={"type": "function", "function": {"name": "f"}},
        reasoning_effort="none",
    )
    body = responses_body(request, "gpt-5.1-2025-11-13", 32)
    assert body["tool_choice"] == {"type": "function", "name": "f"}
    assert "reasoning" not in body  # "none" is the default, and older models refuse it
    assert body["input"] == [{"type": "message", "role": "user", "content": "hi"}]  # our ids stay
    assert (body["store"], body["stream"], body["max_output_tokens"]) == (False, True, 32)
    request.reasoning_effort = "high"
    assert responses_body(request, "m", None)["reasoning"] == {"effort": "high"}
