"""An embedded model's own sampling defaults, for the parameters a request leaves unset.

OpenAI samples a request without `temperature` / `top_p` at the model's defaults (1 and 1
for GPT-5.1; gpt-5.1-codex-max echoes `top_p: 0.985`). A small local model sampled at 1.0
rambles: vLLM applies the model's `generation_config.json` instead, Ollama its Modelfile.
Here each parameter comes from the first of:

1. the `[[local_models]]` entry (`temperature`, `top_p`, `repeat_penalty`);
2. the GGUF's `general.sampling.*` metadata (llama.cpp's keys, written by convert_hf_to_gguf
   from `generation_config.json`);
3. the model card's recommendation, by the GGUF's `general.basename` (the shipped SmolLM2
   GGUF carries no sampling keys; its card samples at temperature 0.2, top_p 0.9);
4. OpenAI's defaults (1.0, and no repeat penalty).

A parameter the request sets is always the request's.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

from thinkgate.backends.model_files import default_gguf_path, gguf_metadata
from thinkgate.config import LocalModelConfig
from thinkgate.errors import EngineError

# GGUF metadata keys (llama.cpp `LLM_KV_SAMPLING_*`), by the config field they stand for.
GGUF_KEYS = {
    "temperature": "general.sampling.temp",
    "top_p": "general.sampling.top_p",
    "repeat_penalty": "general.sampling.penalty_repeat",
}
# What a model card recommends, for GGUFs that carry no `general.sampling.*` keys.
MODEL_CARDS: dict[str, dict[str, float]] = {
    # huggingface.co/HuggingFaceTB/SmolLM2-135M-Instruct: `temperature=0.2, top_p=0.9`
    "smollm2": {"temperature": 0.2, "top_p": 0.9},
}
OPENAI = {"temperature": 1.0, "top_p": 1.0, "repeat_penalty": 1.0}
# What a request could set (a GGUF value outside it is ignored, as unreadable).
RANGES = {"temperature": (0.0, 2.0), "top_p": (1e-6, 1.0), "repeat_penalty": (1e-6, 10.0)}


@dataclass(slots=True, frozen=True)
class ModelSampling:
    """The values a request is sampled with where it sets none, and where each came from
    (`config`, `gguf`, `model card`, `default`: the startup log says so)."""

    temperature: float = 1.0
    top_p: float = 1.0
    repeat_penalty: float = 1.0
    sources: tuple[tuple[str, str], ...] = ()

    def describe(self) -> str:
        origin = dict(self.sources)
        return ", ".join(f"{name} {getattr(self, name):g} ({origin[name]})" for name in OPENAI)


def sampling_of(config: LocalModelConfig) -> ModelSampling:
    """The defaults of a configured model, its GGUF's header read (not its weights)."""
    try:
        path = config.path or default_gguf_path()
    except EngineError:  # no model file: opening it will say so
        return model_sampling(config, {})
    return model_sampling(config, gguf_metadata(path))


def model_sampling(config: LocalModelConfig, metadata: Mapping[str, str]) -> ModelSampling:
    """Each parameter from the first source that has it (see the module docstring)."""
    card = MODEL_CARDS.get(metadata.get("general.basename", "").lower(), {})
    values: dict[str, float] = {}
    sources: list[tuple[str, str]] = []
    for name, fallback in OPENAI.items():
        configured: float | None = getattr(config, name)
        from_gguf = _number(metadata.get(GGUF_KEYS[name]), *RANGES[name])
        if configured is not None:
            value, source = configured, "config"
        elif from_gguf is not None:
            value, source = from_gguf, "gguf"
        elif name in card:
            value, source = card[name], "model card"
        else:
            value, source = fallback, "default"
        values[name] = value
        sources.append((name, source))
    return ModelSampling(**values, sources=tuple(sources))


def _number(text: str | None, low: float, high: float) -> float | None:
    """A metadata value as a float within [low, high] (llama.cpp hands values over as text)."""
    if text is None:
        return None
    try:
        value = float(text)
    except ValueError:
        return None
    return value if math.isfinite(value) and low <= value <= high else None
