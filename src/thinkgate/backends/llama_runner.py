"""One generation on a llama.cpp model, run in the backend's generation thread.

llama.cpp blocks, so the token loop runs off the event loop and hands Deltas to
it through a deque. The loop is woken only when it has drained what it was given:
tokens that arrive while it is busy (a loaded machine) are read in one wake-up, not
one each, so it takes fewer turns from the cores llama.cpp needs. Cancelling sets an
event the loop checks after every token, so a disconnected client stops costing
compute within one token's time.
"""

from __future__ import annotations

import asyncio
import codecs
import math
import threading
from collections import deque
from collections.abc import AsyncIterator, Callable
from concurrent.futures import Executor
from dataclasses import dataclass
from typing import Any

import llama_cpp
import numpy as np

from thinkgate.backends.llama_prompt import PromptEvaluation
from thinkgate.backends.stop_matcher import StopMatcher
from thinkgate.core.backend import UsageMeter
from thinkgate.core.deltas import Delta, FinishDelta, FinishReason, TextDelta, TokenLogprob
from thinkgate.core.request import Sampling
from thinkgate.errors import EngineError

_DONE = object()


@dataclass(slots=True)
class RunSpec:
    tokens: list[int]
    sampling: Sampling
    grammar: Any | None
    max_new_tokens: int
    meter: UsageMeter
    prompt: PromptEvaluation | None = None  # aligned evaluation + prefix cache
    # Picks the grammar once the prompt is evaluated (backends.tool_decision)
    choose_grammar: Callable[[Any, PromptEvaluation], Any] | None = None
    repeat_penalty: float = 1.0  # the model's (backends.sampling_defaults); not an API field
    # Soft length and loop guard (backends.output_policy): a llama-cpp logits processor
    policy: Callable[[Any, Any], Any] | None = None


class LlamaRun:
    """Iterate it for Deltas; `cancel()` + `wait()` when the consumer goes away."""

    def __init__(self, llama: Any, spec: RunSpec, engine: Executor) -> None:
        self._llama = llama
        self._engine = engine  # the backend's one long-lived generation thread
        self._spec = spec
        self._loop = asyncio.get_running_loop()
        self._items: deque[object] = deque()  # appended by the thread, drained by the loop
        self._ready = asyncio.Event()
        self._signalled = False  # a wake-up is on its way: the next items ride along
        self._cancelled = threading.Event()
        self._finished = asyncio.Event()

    def start(self) -> None:
        self._engine.submit(self._run)

    def cancel(self) -> None:
        self._cancelled.set()

    async def wait(self) -> None:
        await self._finished.wait()

    async def deltas(self) -> AsyncIterator[Delta]:
        async for batch in self.batches():
            for delta in batch:
                yield delta

    async def batches(self) -> AsyncIterator[list[Delta]]:
        """What the thread produced since the last wake-up, one list per wake-up."""
        items = self._items
        while True:
            await self._ready.wait()
            self._ready.clear()
            self._signalled = False  # before draining: an item appended later wakes us again
            batch: list[Delta] = []
            while items:
                item = items.popleft()
                if item is _DONE:
                    if batch:
                        yield batch
                    return
                if isinstance(item, BaseException):
                    if batch:
                        yield batch
                    raise EngineError(f"The local engine failed: {item}") from item
                assert isinstance(item, TextDelta | FinishDelta)
                batch.append(item)
            if batch:
                yield batch

    # --- worker thread -------------------------------------------------------------

    def _emit(self, item: object) -> None:
        self._items.append(item)
        if not self._signalled:
            self._signalled = True
            self._loop.call_soon_threadsafe(self._ready.set)

    def _run(self) -> None:
        try:
            self._generate()
        except BaseException as exc:  # surfaced to the consumer as an EngineError
            self._emit(exc)
        finally:
            self._emit(_DONE)
            self._loop.call_soon_threadsafe(self._finished.set)

    def _generate(self) -> None:
        llama, spec, sampling = self._llama, self._spec, self._spec.sampling
        vocab = llama._model.vocab
        decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        stops = StopMatcher(sampling.stop)
        if sampling.seed is not None:
            llama.set_seed(sampling.seed)
        produced = 0
        reason: FinishReason = "length"
        pieces: dict[int, bytes] = {}  # token → its text: one ctypes call per distinct token
        evaluated = spec.max_new_tokens > 0
        if evaluated and spec.prompt is not None:
            evaluated = spec.prompt.evaluate(llama, self._cancelled.is_set) is not None
            reason = "length" if evaluated else "cancelled"
        grammar = spec.grammar
        if evaluated and spec.prompt is not None and spec.choose_grammar is not None:
            grammar = spec.choose_grammar(llama, spec.prompt)
        if evaluated:
            for token in llama.generate(
                spec.tokens,
                temp=sampling.temperature,
                top_p=sampling.top_p,
                top_k=0,
                min_p=0.05 if sampling.temperature > 0 else 0.0,
                repeat_penalty=spec.repeat_penalty,
                frequency_penalty=sampling.frequency_penalty,
                presence_penalty=sampling.presence_penalty,
                grammar=grammar,
                logits_processor=None if spec.policy is None else [spec.policy],
                reset=True,
            ):
                if self._cancelled.is_set():
                    reason = "cancelled"
                    break
                if llama_cpp.llama_vocab_is_eog(vocab, token):
                    reason = "stop"
                    break
                produced += 1
                spec.meter.output_tokens = produced
                logprobs = _token_logprobs(llama, token, sampling) if sampling.logprobs else ()
                piece = pieces.get(token)
                if piece is None:
                    piece = pieces[token] = llama.detokenize([token])
                text = stops.push(decoder.decode(piece))
                if text or logprobs:
                    self._emit(TextDelta(text, logprobs))
                if stops.stopped:
                    reason = "stop"
                    break
                if produced >= spec.max_new_tokens:
                    break
        if not stops.stopped:
            tail = stops.push(decoder.decode(b"", final=True)) + stops.flush()
            if tail:
                self._emit(TextDelta(tail))
        self._emit(FinishDelta(reason=reason, output_tokens=produced))
        if evaluated and spec.prompt is not None:
            spec.prompt.keep(llama)  # still inside the turn: the context is ours


def _token_logprobs(llama: Any, token: int, sampling: Sampling) -> tuple[TokenLogprob, ...]:
    """Log-probabilities from the logits that produced `token` (before any grammar mask)."""
    pointer = llama_cpp.llama_get_logits_ith(llama._ctx.ctx, -1)
    logits = np.ctypeslib.as_array(pointer, shape=(llama.n_vocab(),)).astype(np.float64)
    peak = float(logits.max())
    log_total = peak + math.log(float(np.exp(logits - peak).sum()))
    chosen = _piece(llama, token)
    top: list[tuple[str, float, list[int]]] = []
    if sampling.top_logprobs:
        best = np.argpartition(-logits, sampling.top_logprobs)[: sampling.top_logprobs]
        for candidate in sorted(best.tolist(), key=lambda i: -logits[i]):
            text = _piece(llama, candidate)
            top.append((text, float(logits[candidate]) - log_total, list(text.encode())))
    return (
        TokenLogprob(
            token=chosen,
            logprob=float(logits[token]) - log_total,
            bytes=list(chosen.encode()),
            top=top,
        ),
    )


def _piece(llama: Any, token: int) -> str:
    return str(llama.detokenize([token]).decode("utf-8", errors="replace"))
