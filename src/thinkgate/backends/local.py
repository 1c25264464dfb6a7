"""The embedded engine: GGUF models through llama-cpp-python, offline, no key.

One `Llama` per model; requests to it take turns through a FIFO lock, so they
queue fairly. Tokenising and the context check happen before the turn is taken,
so a request that cannot fit fails at once with a 400 instead of waiting.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
from concurrent.futures import ThreadPoolExecutor
from functools import lru_cache
from typing import Any

import anyio

from thinkgate.backends.chat_prompt import to_chat_messages
from thinkgate.backends.grammar_bounds import (
    GrammarSource,
    check_grammar,
    engine_rejects,
    first_rejected,
    refusal,
)
from thinkgate.backends.llama_prompt import PromptEvaluation
from thinkgate.backends.llama_runner import LlamaRun, RunSpec
from thinkgate.backends.llama_windows import LlamaWindows, Window, budget_window
from thinkgate.backends.model_files import default_gguf_path
from thinkgate.backends.output_policy import Structure, applies, output_policy
from thinkgate.backends.sampling_defaults import sampling_of
from thinkgate.backends.tool_decision import tool_decider
from thinkgate.backends.tool_grammar import ToolPlan, plan_tools, schema_source
from thinkgate.backends.tool_parser import ToolCallParser
from thinkgate.cache import PromptCache, Retention
from thinkgate.config import LocalModelConfig
from thinkgate.core.backend import (
    ALL_EFFORTS,
    Batches,
    Capabilities,
    ChannelStatus,
    GenerationPlan,
    Health,
    Prepared,
)
from thinkgate.core.deltas import PromptDelta
from thinkgate.core.request import CanonicalRequest
from thinkgate.errors import EngineError, InvalidRequestError

log = logging.getLogger(__name__)

MIN_OUTPUT_ROOM = 16
DEFAULT_CHUNK = 64  # prompt evaluation chunk when no cache is configured
ACCEPTED_GRAMMARS = 64  # grammars llama.cpp accepted, remembered so as not to parse them again
_TOOLS = GrammarSource(param="tools", code="invalid_value", subject="Invalid tools")


class LocalBackend:
    """A `Backend` over one GGUF file."""

    def __init__(
        self, config: LocalModelConfig, *, prompt_cache: PromptCache | None = None
    ) -> None:
        self.name = config.name
        self._config = config
        self._cache = prompt_cache
        self._fingerprint = ""  # the model file's identity: cached states never cross files
        self._llama: Any | None = None  # the trained window's: tokenizer and grammar checks
        self._windows: LlamaWindows | None = None
        self._budget_window = budget_window(config)  # reads the GGUF's header
        self._sampling = sampling_of(config)  # for what a request leaves unset
        self._formatter: Any | None = None
        self._load_lock = asyncio.Lock()
        self._turn = asyncio.Lock()
        # Every generation runs on this one long-lived thread (the turn serialises them):
        # llama.cpp's OpenMP builds a thread team per calling thread, so a fresh thread per
        # request paid ~15 ms more on its first decode (docs/benchmarks.md, "Engine")
        self._engine = ThreadPoolExecutor(max_workers=1, thread_name_prefix="llama-generate")
        self._accepted: set[str] = set()  # grammars llama.cpp parsed (see `_engine_check`)
        self.waiting = 0  # generations queued for the turn (the /metrics queue depth)

    @property
    def loaded(self) -> bool:
        return self._llama is not None

    def capabilities(self) -> Capabilities:
        window = self._config.n_ctx  # an answer may fill what the prompt leaves of it
        return Capabilities(
            context_window=window,
            reasoning_efforts=ALL_EFFORTS,
            max_output_tokens=window,
            default_max_output_tokens=self._config.default_max_output_tokens,
            reasoning_window=self._budget_window,  # not doubled by a stretched window
            default_temperature=self._sampling.temperature,
            default_top_p=self._sampling.top_p,
            parallel_tool_calls=self._config.supports_parallel_tool_calls,
        )

    async def load(self) -> None:
        """Open the model off the event loop; later calls return at once."""
        async with self._load_lock:
            if self._llama is None:
                windows, self._formatter = await asyncio.to_thread(self._open)
                self._windows, self._llama = windows, windows.base.llama

    async def count_tokens(self, request: CanonicalRequest) -> int:
        await self.load()
        tokens, _ = await asyncio.to_thread(self._fit_prompt, request, enforce=False)
        return len(tokens)

    async def prepare(self, request: CanonicalRequest, plan: GenerationPlan) -> Prepared:
        """Tokenised, fitted, constrained and looked up in the prompt cache: nothing runs
        before the request is admitted and streamed."""
        await self.load()
        tokens, room = await asyncio.to_thread(self._fit_prompt, request, enforce=True)
        # Built before the prompt is accepted: a grammar the engine cannot enforce is a 400.
        grammar, tools = await asyncio.to_thread(self._constraints, request)
        cap = plan.max_output_tokens
        window = await asyncio.to_thread(self._pick_window, len(tokens), cap)
        room = window.size - len(tokens)
        prompt = await asyncio.to_thread(self._prompt_evaluation, request, tokens, window)
        cached = prompt.hit.tokens if prompt.hit is not None else 0
        structure: Structure = "tools" if tools else "json" if grammar is not None else "text"
        policy = None
        if applies(self._config, request.max_output_tokens, structure):
            policy = await asyncio.to_thread(  # the first call reads the vocabulary
                output_policy,
                window.llama,
                self._config,
                len(tokens),
                request.max_output_tokens,
                structure,
            )
        spec = RunSpec(
            tokens=tokens,
            sampling=request.sampling,
            repeat_penalty=self._sampling.repeat_penalty,
            grammar=grammar,
            max_new_tokens=room if cap is None else min(cap, room),
            meter=plan.meter,
            prompt=prompt,
            choose_grammar=tool_decider(
                self._config, request, tools, lambda items: self._tokenize(request, items)
            ),
            policy=policy,
        )
        stream = self._stream(window, spec, tools)
        return _Prepared(PromptDelta(input_tokens=len(tokens), cached_tokens=cached), stream)

    async def _stream(self, window: Window, spec: RunSpec, tools: ToolPlan | None) -> Batches:
        """The generation, once this request's turn comes (one at a time, in order): a
        batch per token (the parser's pieces for it)."""
        self.waiting += 1
        try:
            await self._turn.acquire()
        finally:
            self.waiting -= 1
        try:
            run = LlamaRun(window.llama, spec, self._engine)
            run.start()
            try:
                parser = tools and ToolCallParser(tools.kinds, allow_text=tools.allow_text)
                async for delta in run.deltas():
                    yield parser.feed(delta) if parser else (delta,)
            finally:
                run.cancel()
                # The turn must not pass on while the thread still touches the context:
                # `asyncio.shield` alone returns early when anyio re-delivers the cancel,
                # and two threads in one llama context abort the process (GGML_ASSERT).
                with anyio.CancelScope(shield=True):
                    await run.wait()
        finally:
            self._turn.release()

    def health(self) -> Health:
        return Health(self.loaded, "loaded" if self.loaded else "not loaded")

    def queue_depth(self) -> int:
        return self.waiting

    def channels(self) -> tuple[ChannelStatus, ...]:
        return ()

    async def aclose(self) -> None:
        async with self._turn:
            if self._windows is not None:
                await asyncio.to_thread(self._windows.close)
                self._windows = self._llama = None
        self._engine.shutdown(wait=False)

    # --- off the event loop ------------------------------------------------------

    def _constraints(self, request: CanonicalRequest) -> tuple[Any | None, ToolPlan | None]:
        """The grammar for this request (None: free text) and the tool plan. A grammar
        reaches the sampler only within `grammar_bounds` and accepted by llama.cpp: one it
        refuses would be a null sampler, which crashes the process on the first token."""
        output_format = request.output_format
        gbnf: str | None = None
        parts: tuple[tuple[GrammarSource, str], ...] = ()
        if output_format.type == "json_schema" and output_format.schema is not None:
            source = schema_source(request)
            gbnf = _schema_grammar(json.dumps(output_format.schema), source)  # key order kept
            parts = ((source, gbnf),)
        # tools offered: the call grammar replaces the above
        tools = plan_tools(request, parallel=self._config.supports_parallel_tool_calls)
        if tools is not None:
            gbnf, parts = tools.grammar, tools.parts
            check_grammar(gbnf, _TOOLS)  # each part passed on its own; together they may not
        if gbnf is None:
            return (_json_object_grammar() if output_format.type == "json_object" else None), tools
        self._engine_check(gbnf, parts)
        from llama_cpp.llama_grammar import LlamaGrammar

        return LlamaGrammar.from_string(gbnf, verbose=False), tools

    def _engine_check(self, gbnf: str, parts: tuple[tuple[GrammarSource, str], ...]) -> None:
        """llama.cpp's own parser, once per distinct grammar; a refusal names the part
        (the schema, a tool) that llama.cpp refuses on its own."""
        if gbnf in self._accepted:
            return
        assert self._llama is not None
        vocab = self._llama._model.vocab
        if engine_rejects(vocab, gbnf):
            source = first_rejected(vocab, parts) or _TOOLS
            raise refusal(
                source,
                "the embedded engine (llama.cpp) refuses its grammar, as for a left-recursive $ref",
            )
        if len(self._accepted) >= ACCEPTED_GRAMMARS:
            self._accepted.clear()
        self._accepted.add(gbnf)

    def _open(self) -> tuple[LlamaWindows, Any]:
        from llama_cpp.llama_chat_format import Jinja2ChatFormatter

        path = self._config.path or default_gguf_path()
        if not path.is_file():
            raise EngineError(f"Model file for '{self.name}' not found: {path}")
        threads = self._config.threads or min(os.cpu_count() or 1, 8)
        windows = LlamaWindows(self._config, path, threads, self._budget_window)
        llama = windows.base.llama
        template = self._config.chat_template or llama.metadata.get("tokenizer.chat_template")
        if not template:
            raise EngineError(f"Model '{self.name}' has no chat template; set `chat_template`.")
        formatter = Jinja2ChatFormatter(
            template=template,
            eos_token=llama._model.token_get_text(llama.token_eos()),
            bos_token=llama._model.token_get_text(llama.token_bos()),
            add_generation_prompt=True,
        )
        stat = path.stat()
        self._fingerprint = f"{self.name}|{path.resolve()}|{stat.st_size}|{stat.st_mtime_ns}"
        log.info(
            "loaded local model %s from %s (%d threads; unset sampling: %s)",
            self.name,
            path,
            threads,
            self._sampling.describe(),
        )
        return windows, formatter

    def _pick_window(self, prompt_tokens: int, cap: int | None) -> Window:
        assert self._windows is not None
        return self._windows.pick(prompt_tokens, cap, MIN_OUTPUT_ROOM)

    def _prompt_evaluation(
        self, request: CanonicalRequest, tokens: list[int], window: Window
    ) -> PromptEvaluation:
        """Aligned evaluation always (determinism); the longest cached prefix when caching."""
        cache = self._cache
        chunk = cache.config.chunk_tokens if cache is not None else DEFAULT_CHUNK
        if cache is None or not cache.config.enabled:
            return PromptEvaluation(tokens=tokens, chunk=chunk)
        key = cache.key(self.name, self._fingerprint + window.tag, request.prompt_cache_key)
        retention: Retention = "24h" if request.prompt_cache_retention == "24h" else "in_memory"
        hit = cache.lookup(key, tokens)
        return PromptEvaluation(tokens, chunk, cache, key, retention, hit)

    def _fit_prompt(self, request: CanonicalRequest, *, enforce: bool) -> tuple[list[int], int]:
        """Tokens of the prompt and the room left for output; `truncation: auto` drops
        the oldest items until it fits, `disabled` refuses with context_length_exceeded."""
        items = request.all_items
        n_ctx = self._config.n_ctx
        while True:
            tokens = self._tokenize(request, items)
            room = n_ctx - len(tokens)
            if not enforce or room >= MIN_OUTPUT_ROOM:
                return tokens, room
            if request.truncation == "auto" and len(items) > 1:
                items = items[1:]
                continue
            raise InvalidRequestError(
                f"Your input exceeds the context window of this model. This model's maximum "
                f"context length is {n_ctx} tokens, however your input resulted in "
                f"{len(tokens)} tokens (with room for at least {MIN_OUTPUT_ROOM} output tokens "
                "needed). Please reduce the length of the input.",
                param=request.context.param_names.get("input", "input"),
                code="context_length_exceeded",
            )

    def _tokenize(self, request: CanonicalRequest, items: list[dict[str, Any]]) -> list[int]:
        assert self._llama is not None and self._formatter is not None
        rendered = self._formatter(messages=to_chat_messages(request, items))
        add_bos = (
            not rendered.added_special
            and self._llama.metadata.get("tokenizer.ggml.add_bos_token", "true") == "true"
        )
        prompt = rendered.prompt + request.context.assistant_prefix  # a prefilled reply start
        tokens: list[int] = self._llama.tokenize(
            prompt.encode("utf-8"), add_bos=add_bos, special=True
        )
        return tokens


class _Prepared:
    """A prepared embedded generation: nothing to send, the stream waits for its turn."""

    __slots__ = ("_stream", "prompt")

    def __init__(self, prompt: PromptDelta, stream: Batches) -> None:
        self.prompt = prompt
        self._stream = stream

    async def send(self) -> None:
        """Nothing leaves the process: the turn is taken when the stream is read."""

    def stream(self) -> Batches:
        return self._stream

    async def aclose(self) -> None:
        """The stream holds nothing before it is read (an unstarted generator)."""


@lru_cache(maxsize=128)
def _schema_grammar(schema_json: str, source: GrammarSource) -> str:
    """Structured outputs are enforced by grammar: strict output always parses."""
    from llama_cpp.llama_grammar import json_schema_to_gbnf

    try:
        gbnf = str(json_schema_to_gbnf(schema_json))
    except Exception as exc:  # the converter raises bare exceptions for unsupported schemas
        raise InvalidRequestError(
            f"{source.subject}: {exc}", param=source.param, code=source.code
        ) from exc
    check_grammar(gbnf, source)
    return gbnf


@lru_cache(maxsize=1)
def _json_object_grammar() -> Any:
    from llama_cpp.llama_grammar import JSON_GBNF, LlamaGrammar

    return LlamaGrammar.from_string(JSON_GBNF, verbose=False)
