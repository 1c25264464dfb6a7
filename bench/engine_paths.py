"""The three paths `bench/engine.py` times, each giving a `Stream`: raw llama-cpp-python's
`create_completion`, the bare `Llama.generate` loop, and thinkgate's streamed
`/v1/responses` (plus what opens them: the raw `Llama` as the server opens it, the
request body, the server's config)."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import llama_cpp
import orjson

from thinkgate.backends.local import LocalBackend
from thinkgate.config import DEFAULT_LOCAL_MODEL, LocalModelConfig
from thinkgate.engine.responses_request import canonical_from_responses
from thinkgate.protocol import parse_body
from thinkgate.protocol.responses import CreateResponseRequest

TERMINAL_EVENTS = ("response.completed", "response.incomplete", "response.failed")

DELTA_EVENT = "response.output_text.delta"
# The sampler settings thinkgate passes at temperature 0, for the raw `create_completion`.
GREEDY: dict[str, Any] = {
    "temperature": 0.0,
    "top_p": 1.0,
    "top_k": 0,
    "min_p": 0.0,
    "repeat_penalty": 1.0,
}


class BenchError(RuntimeError):
    """The paths did not do the same work: the comparison would be meaningless."""


@dataclass(slots=True)
class Stream:
    """What one streamed generation produced, with the times of its first and last text."""

    started: float
    first: float
    last: float
    ended: float
    text: str
    tokens: int
    input_tokens: int | None = None
    times: list[float] = field(default_factory=list)  # arrival of each piece of text


def raw_stream(llama: Any, tokens: list[int], max_tokens: int, expected_tokens: int) -> Stream:
    """One streamed `create_completion`. Its chunks carry no usage, so the token count is
    the calibrated one, valid because the text must match the reference (checked)."""
    pieces: list[str] = []
    times: list[float] = []
    started = time.perf_counter()
    for chunk in llama.create_completion(
        prompt=tokens, max_tokens=max_tokens, stream=True, **GREEDY
    ):
        text = chunk["choices"][0]["text"]
        if text:
            times.append(time.perf_counter())
            pieces.append(text)
    ended = time.perf_counter()
    return _stream(started, ended, times, "".join(pieces), expected_tokens)


def cold_raw_stream(llama: Any, tokens: list[int], max_tokens: int, expected: int) -> Stream:
    """The raw path on a prompt its context does not hold: `reset()` first."""
    llama.reset()
    return raw_stream(llama, tokens, max_tokens, expected)


def cold_generate_stream(llama: Any, tokens: list[int], max_tokens: int) -> Stream:
    llama.reset()
    return generate_stream(llama, tokens, max_tokens)


def calibrate(llama: Any, tokens: list[int], max_tokens: int) -> tuple[str, int]:
    """The reference text and token count of a prompt (raw, evaluated from scratch)."""
    llama.reset()
    done = llama.create_completion(prompt=tokens, max_tokens=max_tokens, **GREEDY)
    return str(done["choices"][0]["text"]), int(done["usage"]["completion_tokens"])


def generate_stream(llama: Any, tokens: list[int], max_tokens: int) -> Stream:
    """The bare token loop, with the sampler settings thinkgate passes at temperature 0."""
    vocab = llama._model.vocab
    pieces: list[bytes] = []
    times: list[float] = []
    started = time.perf_counter()
    for token in llama.generate(
        tokens, top_k=0, top_p=1.0, min_p=0.0, temp=0.0, repeat_penalty=1.0, reset=True
    ):
        if llama_cpp.llama_vocab_is_eog(vocab, token):
            break
        pieces.append(llama.detokenize([token]))
        times.append(time.perf_counter())
        if len(pieces) >= max_tokens:
            break
    ended = time.perf_counter()
    text = b"".join(pieces).decode("utf-8", errors="replace")
    return _stream(started, ended, times, text, len(pieces))


def server_stream(client: httpx.Client, body: bytes) -> Stream:
    """One streamed request; only `output_text.delta` and the terminal event are parsed."""
    pieces: list[str] = []
    times: list[float] = []
    event = ""
    final: dict[str, Any] | None = None
    started = time.perf_counter()
    with client.stream("POST", "/v1/responses", content=body) as response:
        if response.status_code != 200:
            response.read()
            raise BenchError(f"server answered {response.status_code}: {response.text}")
        for line in response.iter_lines():
            if line.startswith("event: "):
                event = line[7:]
            elif line.startswith("data: "):
                if event == DELTA_EVENT:
                    times.append(time.perf_counter())
                    pieces.append(orjson.loads(line[6:])["delta"])
                elif event in TERMINAL_EVENTS:
                    final = orjson.loads(line[6:])["response"]
    ended = time.perf_counter()
    if final is None or final["status"] == "failed":
        raise BenchError(f"the stream did not end well: {final}")
    usage = final["usage"]
    stream = _stream(started, ended, times, "".join(pieces), int(usage["output_tokens"]))
    stream.input_tokens = int(usage["input_tokens"])
    return stream


def _stream(started: float, ended: float, times: list[float], text: str, tokens: int) -> Stream:
    first, last = (times[0], times[-1]) if times else (ended, ended)
    return Stream(started, first, last, ended, text, tokens, times=times)


def request_body(prompt: str, max_tokens: int) -> dict[str, Any]:
    return {
        "model": DEFAULT_LOCAL_MODEL,
        "input": prompt,
        "temperature": 0,
        "max_output_tokens": max_tokens,
        "stream": True,
    }


Render = Callable[[dict[str, Any]], list[int]]


def open_raw(threads: int) -> tuple[Any, Render, LocalModelConfig]:
    """The raw `Llama`, opened with the server's constructor arguments, and a function
    giving the prompt tokens of a body by the server's own request parsing and template."""
    config = LocalModelConfig(name=DEFAULT_LOCAL_MODEL, threads=threads)
    backend = LocalBackend(config)
    windows, formatter = backend._open()
    llama = windows.base.llama  # the trained window (the bench's prompts fit in it)

    def render(body: dict[str, Any]) -> list[int]:
        backend._llama, backend._formatter = llama, formatter
        request = canonical_from_responses(parse_body(orjson.dumps(body), CreateResponseRequest))
        try:
            return backend._tokenize(request, request.all_items)
        finally:
            backend._llama = backend._formatter = None  # the bench uses `llama` directly

    return llama, render, config


def write_config(directory: Path, config: LocalModelConfig) -> Path:
    path = directory / "thinkgate.toml"
    path.write_text(
        f'[[local_models]]\nname = "{config.name}"\nthreads = {config.threads}\n'
        f"n_ctx = {config.n_ctx}\nn_batch = {config.n_batch}\n",
        encoding="utf-8",
    )
    return path
