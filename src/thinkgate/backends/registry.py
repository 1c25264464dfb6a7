"""Models by name: public ids (aliases such as `gpt-5.1`) → backends, found by kind.

Backend kinds are a name table imported lazily; a registered kind name is public
configuration, so renaming one is a breaking change.
"""

from __future__ import annotations

import asyncio
import importlib
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import cast

from thinkgate.cache import PromptCache
from thinkgate.config import Settings
from thinkgate.core.backend import ALL_EFFORTS, Backend
from thinkgate.errors import model_not_found

BACKEND_KINDS: dict[str, str] = {
    "llama_cpp": "thinkgate.backends.local:LocalBackend",
}

GPT_5_1_EFFORTS = ("none", "low", "medium", "high")
GPT_5_1_CREATED = 1762992000  # 2025-11-13, the gpt-5.1 snapshot date


@dataclass(slots=True, frozen=True)
class ModelInfo:
    """What `/v1/models` publishes, and the rules a request to this model follows."""

    id: str
    backend: str
    created: int
    owned_by: str
    reasoning_efforts: tuple[str, ...]
    default_effort: str
    openai_rules: bool  # GPT-5.1's parameter rules (sampling only at effort `none`)


def backend_kind(name: str) -> Callable[..., Backend]:
    module_name, _, attribute = BACKEND_KINDS[name].partition(":")
    return cast(Callable[..., Backend], getattr(importlib.import_module(module_name), attribute))


class ModelRegistry:
    def __init__(self, settings: Settings) -> None:
        self._backends: dict[str, Backend] = {}
        self._models: dict[str, ModelInfo] = {}
        started = int(time.time())
        local = backend_kind("llama_cpp")
        # One prompt cache for all local models: one RAM and one disk budget.
        self.prompt_cache = PromptCache(settings.prompt_cache, settings.data_dir / "prompt-cache")
        for config in settings.local_models:
            self.register(
                local(config, prompt_cache=self.prompt_cache),
                ModelInfo(
                    id=config.name,
                    backend=config.name,
                    created=started,
                    owned_by="thinkgate",
                    reasoning_efforts=ALL_EFFORTS,
                    default_effort="none",
                    openai_rules=False,
                ),
            )
        for alias, target in settings.aliases.items():
            self.alias(alias, target)
        if settings.channels:  # a name a channel serves is taken over by the upstream
            self._register_upstreams(settings, started)

    def _register_upstreams(self, settings: Settings, started: int) -> None:
        from thinkgate.backends.upstream import upstream_backends  # lazy: httpx, channels

        for backend in upstream_backends(settings.channels):
            is_gpt = backend.model.startswith("gpt-5.1")
            info = ModelInfo(
                id=backend.model,
                backend=backend.name,
                created=GPT_5_1_CREATED if is_gpt else started,
                owned_by="system" if is_gpt else "upstream",
                reasoning_efforts=GPT_5_1_EFFORTS if is_gpt else ALL_EFFORTS,
                default_effort="none",
                openai_rules=is_gpt,
            )
            self.register(backend, info)

    def register(self, backend: Backend, info: ModelInfo) -> None:
        self._backends[backend.name] = backend
        self._models[info.id] = info

    def alias(self, alias: str, target: str) -> None:
        """A public name for a backend; GPT-5.1 names follow GPT-5.1's rules."""
        base = self._models.get(target)
        if base is None:
            raise ValueError(f"alias {alias!r} points at unknown model {target!r}")
        is_gpt = alias.startswith("gpt-5.1")
        self._models[alias] = ModelInfo(
            id=alias,
            backend=base.backend,
            created=GPT_5_1_CREATED if is_gpt else base.created,
            owned_by="system" if is_gpt else base.owned_by,
            reasoning_efforts=GPT_5_1_EFFORTS if is_gpt else base.reasoning_efforts,
            default_effort="none" if is_gpt else base.default_effort,
            openai_rules=is_gpt,
        )

    def resolve(self, model: str) -> tuple[ModelInfo, Backend]:
        info = self._models.get(model)
        if info is None:
            raise model_not_found(model)
        return info, self._backends[info.backend]

    def models(self) -> list[ModelInfo]:
        return list(self._models.values())

    def backends(self) -> list[Backend]:
        return list(self._backends.values())

    async def aclose(self) -> None:
        for backend in self._backends.values():
            await backend.aclose()
        await asyncio.to_thread(self.prompt_cache.close)  # finish pending disk writes


def channel_states(registry: ModelRegistry) -> list[tuple[str, str]]:
    """(channel, breaker state) for every upstream channel, once each (for /metrics)."""
    states: dict[str, str] = {}
    for backend in registry.backends():
        for channel in backend.channels():
            states[channel.name] = channel.breaker
    return sorted(states.items())
