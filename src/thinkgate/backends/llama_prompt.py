"""Prompt evaluation on a llama context: aligned chunks, restored prefixes, kept states.

At temperature 0 llama.cpp's output depends on how the prompt was split into batches
(kernels differ by batch size), so llama-cpp-python's own reuse of the previous
request's prefix already changes answers. Here the prompt is always evaluated by us, in
chunks aligned to absolute positions ([0, c), [c, 2c), ..., then the rest), from a
cleared context. A cache hit restores the state of an aligned prefix and evaluates the
rest in the same chunks, so hit and miss make bit-identical computations; `generate()`
then finds the whole prompt evaluated and samples at once.

After the generation the KV is trimmed to the last aligned boundary of the prompt and
that sequence state (the KV only, ~23 KB a token for SmolLM2-135M) goes to the cache.
A prompt shorter than one chunk has no boundary: its whole KV goes to the cache instead,
with the logits its evaluation left (an exact entry), so an equal prompt later restores
both and samples at once, bit-identical to evaluating it (llama-cpp-python's own reuse
evaluates the last token again, alone, which is a different computation).
Runs on the generation thread, inside the model's turn.
"""

from __future__ import annotations

import ctypes
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import llama_cpp

from thinkgate.cache import CachedPrefix, PrefixKey, PromptCache, Retention

log = logging.getLogger(__name__)

SEQ = 0  # llama-cpp-python uses one sequence
LOGIT_BYTES = ctypes.sizeof(ctypes.c_float)


@dataclass(slots=True)
class PromptEvaluation:
    tokens: list[int]
    chunk: int
    cache: PromptCache | None = None
    key: PrefixKey | None = None
    retention: Retention = "in_memory"
    hit: CachedPrefix | None = None
    _logits: bytes | None = None  # the prompt's last logits, for an exact entry

    def evaluate(self, llama: Any, stop: Callable[[], bool]) -> int | None:
        """Leave the context holding exactly `tokens`, last logits fresh. Returns the tokens
        restored from the cache, or None when `stop()` interrupted it."""
        llama.reset()
        llama._ctx.kv_cache_seq_rm(-1, 0, -1)
        if self.hit is not None and self.hit.exact:
            if _restore_exact(llama, self.hit, self.tokens):
                return len(self.tokens)
            position = 0  # refused (no logits buffer yet on a reopened context): evaluate it
        else:
            position = _restore(llama, self.hit, self.tokens) if self.hit is not None else 0
        restored = position
        while position < len(self.tokens):
            if stop():
                return None
            end = min(len(self.tokens), (position // self.chunk + 1) * self.chunk)
            llama.eval(self.tokens[position:end])
            position = end
        if self._exact_wanted():
            self._logits = _last_logits(llama)
        return restored

    def keep(self, llama: Any) -> None:
        """Offer the state of the prompt's last aligned prefix (a short prompt: the whole
        prompt, with its logits) to the cache."""
        if self.cache is None or self.key is None:
            return
        boundary = len(self.tokens) - len(self.tokens) % self.chunk
        prefix = self.tokens[:boundary]
        if not prefix:
            self._keep_exact(llama)
            return
        if not self.cache.wants(self.key, prefix, self.retention):
            return
        if llama.n_tokens < boundary or llama.input_ids[:boundary].tolist() != prefix:
            return  # the context no longer holds the prompt (should not happen)
        llama._ctx.kv_cache_seq_rm(SEQ, boundary, -1)
        llama.n_tokens = boundary
        state = _sequence_state(llama)
        if state:
            self.cache.store(self.key, prefix, state, self.retention)

    def _exact_wanted(self) -> bool:
        return (
            self.cache is not None
            and self.key is not None
            and self.hit is None
            and self.cache.wants_exact(self.key, self.tokens)
        )

    def _keep_exact(self, llama: Any) -> None:
        logits, self._logits = self._logits, None
        if logits is None or self.cache is None or self.key is None:
            return
        count = len(self.tokens)
        if llama.n_tokens < count or llama.input_ids[:count].tolist() != self.tokens:
            return
        llama._ctx.kv_cache_seq_rm(SEQ, count, -1)  # the answer's tokens are not kept
        llama.n_tokens = count
        state = _sequence_state(llama)
        if state:
            self.cache.store_exact(self.key, self.tokens, logits + state)


def _restore(llama: Any, hit: CachedPrefix, tokens: list[int]) -> int:
    """Load the cached KV and trim it to the shared prefix; 0 when llama refuses it."""
    ctx = llama._ctx.ctx
    buffer = (ctypes.c_uint8 * len(hit.state)).from_buffer_copy(hit.state)
    loaded = llama_cpp.llama_state_seq_set_data(ctx, buffer, len(hit.state), SEQ)
    if loaded != len(hit.state):
        log.warning(
            "prompt cache: llama refused a cached state (%d of %d bytes)", loaded, len(hit.state)
        )
        llama._ctx.kv_cache_seq_rm(-1, 0, -1)
        return 0
    llama._ctx.kv_cache_seq_rm(SEQ, hit.tokens, -1)
    llama.input_ids[: hit.tokens] = tokens[: hit.tokens]
    llama.n_tokens = hit.tokens
    return hit.tokens


def _restore_exact(llama: Any, hit: CachedPrefix, tokens: list[int]) -> bool:
    """Load an exact entry: the whole prompt's KV, then its logits where the sampler reads
    them. False (the context cleared) when llama refuses either."""
    width = llama.n_vocab() * LOGIT_BYTES
    logits, state = memoryview(hit.state)[:width], memoryview(hit.state)[width:]
    pointer = llama_cpp.llama_get_logits_ith(llama._ctx.ctx, -1)
    if not pointer or len(state) == 0 or len(logits) != width:
        return False
    buffer = (ctypes.c_uint8 * len(state)).from_buffer_copy(state)
    if llama_cpp.llama_state_seq_set_data(llama._ctx.ctx, buffer, len(state), SEQ) != len(state):
        llama._ctx.kv_cache_seq_rm(-1, 0, -1)
        return False
    ctypes.memmove(pointer, bytes(logits), width)
    llama.input_ids[: len(tokens)] = tokens
    llama.n_tokens = len(tokens)
    llama._requires_eval = False  # `generate()` samples from these logits at once
    return True


def _last_logits(llama: Any) -> bytes | None:
    pointer = llama_cpp.llama_get_logits_ith(llama._ctx.ctx, -1)
    if not pointer:
        return None
    return ctypes.string_at(pointer, llama.n_vocab() * LOGIT_BYTES)


def _sequence_state(llama: Any) -> bytes:
    ctx = llama._ctx.ctx
    size = llama_cpp.llama_state_seq_get_size(ctx, SEQ)
    buffer = (ctypes.c_uint8 * size)()
    written = llama_cpp.llama_state_seq_get_data(ctx, buffer, size, SEQ)
    return bytes(memoryview(buffer)[:written])
