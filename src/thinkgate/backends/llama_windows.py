"""The embedded model's windows: the one it was trained on, and one stretched past it.

A GGUF trained on N positions reads a prompt that fits in N exactly as trained. Past N
llama.cpp can stretch RoPE (YaRN by default) over a longer window, at some cost in
quality (docs/long-context.md). One llama context cannot be both, so a model whose
`n_ctx` is past its trained context gets two, over one tokenizer:

    prompt + planned output <= trained ─► the trained window (opened at start, as trained)
    otherwise                           ─► the stretched window (opened on first need)

They share the backend's turn lock (one runs at a time) and never share prompt-cache
entries (each has its own fingerprint tag): a state is only valid under its own RoPE.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from thinkgate.backends.model_files import default_gguf_path, gguf_metadata
from thinkgate.config import LocalModelConfig
from thinkgate.errors import EngineError

log = logging.getLogger(__name__)


@dataclass(slots=True, frozen=True)
class Window:
    llama: Any
    size: int
    tag: str  # added to the prompt-cache fingerprint


class LlamaWindows:
    """Opens and picks the llama contexts of one model file; call from a worker thread."""

    def __init__(self, config: LocalModelConfig, path: Path, threads: int, trained: int) -> None:
        self._config = config
        self._path = path
        self._threads = threads
        self.trained = trained  # `budget_window()`: positions as trained, at most n_ctx
        self.stretches = config.rope_scaling != "none" and config.n_ctx > trained
        size = trained if self.stretches else config.n_ctx
        own = rope_params(config, path) if config.rope_scaling == "none" else {}
        self.base = Window(self._open(size, own), size, "")
        self._stretched: Window | None = None
        self._opening = threading.Lock()  # two requests may pick it at once

    def pick(self, prompt_tokens: int, max_new_tokens: int | None, reserve: int) -> Window:
        """The trained window when the prompt and its planned output fit in it (no cap:
        `reserve` tokens of room); else the stretched one, opened the first time."""
        planned = reserve if max_new_tokens is None else max_new_tokens
        if not self.stretches or prompt_tokens + planned <= self.base.size:
            return self.base
        with self._opening:
            if self._stretched is None:
                size = self._config.n_ctx
                llama = self._open(size, rope_params(self._config, self._path, self.trained))
                tag = f"|rope:{self._config.rope_scaling}:{size}"
                self._stretched = Window(llama, size, tag)
                log.info("opened the stretched %d-token window of %s", size, self._config.name)
            return self._stretched

    def close(self) -> None:
        for window in (self.base, self._stretched):
            if window is not None:
                window.llama.close()
        self._stretched = None

    def _open(self, n_ctx: int, rope: dict[str, Any]) -> Any:
        from llama_cpp import Llama

        return Llama(
            model_path=str(self._path),
            n_ctx=n_ctx,
            n_threads=self._threads,
            n_threads_batch=self._threads,
            n_batch=self._config.n_batch,
            verbose=False,
            **rope,
        )


def budget_window(config: LocalModelConfig) -> int:
    """What reasoning budgets are a share of: the window as trained, never the stretch."""
    try:
        path = config.path or default_gguf_path()
    except EngineError:  # no model file: opening it will say so
        return config.n_ctx
    return min(config.n_ctx, trained_window(config, path))


def trained_window(config: LocalModelConfig, path: Path) -> int:
    """Positions the model was trained on (`n_ctx` itself when the GGUF does not say)."""
    return config.trained_ctx or _gguf_context(path) or config.n_ctx


def rope_params(config: LocalModelConfig, path: Path, trained: int | None = None) -> dict[str, Any]:
    """llama.cpp's RoPE settings for the stretched window: positions squeezed by
    trained/n_ctx, by YaRN (the "auto" choice; bench/long_context.py compares) or linearly.
    Empty when `n_ctx` is within the trained context."""
    if config.rope_scaling == "none":
        return {"rope_scaling_type": llama_rope_type("none")}
    trained = trained or trained_window(config, path)
    if config.n_ctx <= trained:
        return {}
    factor = trained / config.n_ctx
    if config.rope_scaling == "linear":
        return {"rope_scaling_type": llama_rope_type("linear"), "rope_freq_scale": factor}
    return {
        "rope_scaling_type": llama_rope_type("yarn"),
        "rope_freq_scale": factor,
        "yarn_orig_ctx": trained,
    }


def llama_rope_type(name: str) -> int:
    import llama_cpp

    return {
        "none": llama_cpp.LLAMA_ROPE_SCALING_TYPE_NONE,
        "linear": llama_cpp.LLAMA_ROPE_SCALING_TYPE_LINEAR,
        "yarn": llama_cpp.LLAMA_ROPE_SCALING_TYPE_YARN,
    }[name]


def _gguf_context(path: Path) -> int | None:
    """The GGUF's `<architecture>.context_length`."""
    metadata = gguf_metadata(path)
    value = metadata.get(f"{metadata.get('general.architecture', 'llama')}.context_length")
    return int(value) if value else None
