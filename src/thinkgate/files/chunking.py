"""Chunking: token windows over the extracted text, as OpenAI's `chunking_strategy`.

`auto` is 800-token windows overlapping by 400; `static` takes `max_chunk_size_tokens`
(100–4096) and `chunk_overlap_tokens` (≤ half of it). Tokens are the embedded embedding
model's (WordLlama's Llama-2 tokenizer, shipped in its wheel): a chunk is then exactly as
long for the embedder as it says, and its character offsets come from the tokenizer. The
text is encoded in blocks cut at whitespace, so a 20 MB file never holds all its token
objects at once (offsets are kept in two integer arrays).
"""

from __future__ import annotations

import importlib.util
import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
from tokenizers import Tokenizer

from thinkgate.retrieval.index import Chunk

AUTO = {"type": "auto"}
AUTO_SIZE, AUTO_OVERLAP = 800, 400
_TOKENIZER = "tokenizers/l2_supercat_tokenizer_config.json"
_BLOCK_CHARS = 64_000
_SPACE = re.compile(r"\s")


@dataclass(frozen=True, slots=True)
class Strategy:
    size: int = AUTO_SIZE
    overlap: int = AUTO_OVERLAP

    @classmethod
    def from_stored(cls, stored: dict[str, Any]) -> Strategy:
        if stored.get("type") == "static":
            static = stored["static"]
            return cls(static["max_chunk_size_tokens"], static["chunk_overlap_tokens"])
        return cls()


def shown_strategy(stored: dict[str, Any]) -> dict[str, Any]:
    """What the API shows: `auto` is reported as the static values it stands for."""
    strategy = Strategy.from_stored(stored)
    return {
        "type": "static",
        "static": {
            "max_chunk_size_tokens": strategy.size,
            "chunk_overlap_tokens": strategy.overlap,
        },
    }


@lru_cache(maxsize=1)
def tokenizer() -> Tokenizer:
    spec = importlib.util.find_spec("wordllama")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("the embedding model's package 'wordllama' is not installed")
    root = Path(next(iter(spec.submodule_search_locations)))
    loaded = Tokenizer.from_file(str(root / _TOKENIZER))
    loaded.no_padding()
    loaded.no_truncation()
    return loaded


def chunk_text(text: str, strategy: Strategy) -> list[Chunk]:
    """Windows of `size` tokens, each starting `size - overlap` tokens after the last;
    blocking (call it in a worker thread)."""
    starts, ends = token_spans(text)
    count = len(starts)
    if count == 0:
        return []
    step = strategy.size - strategy.overlap
    chunks: list[Chunk] = []
    first = 0
    while True:
        last = min(first + strategy.size, count) - 1
        start, end = int(starts[first]), int(ends[last])
        while start < end and text[start].isspace():
            start += 1
        chunks.append(Chunk(index=len(chunks), text=text[start:end], start=start, end=end))
        if last == count - 1:
            return chunks
        first += step


def token_spans(text: str) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]:
    """Character start and end of every token of `text`."""
    blocks = list(_blocks(text))
    encoded = tokenizer().encode_batch([text[a:b] for a, b in blocks], add_special_tokens=False)
    starts: list[npt.NDArray[np.int64]] = []
    ends: list[npt.NDArray[np.int64]] = []
    for (offset, _), encoding in zip(blocks, encoded, strict=True):
        spans = np.asarray(encoding.offsets, dtype=np.int64).reshape(-1, 2) + offset
        starts.append(spans[:, 0])
        ends.append(spans[:, 1])
    if not starts:
        empty = np.zeros(0, dtype=np.int64)
        return empty, empty
    return np.concatenate(starts), np.concatenate(ends)


def count_tokens(text: str) -> int:
    return len(token_spans(text)[0])


def _blocks(text: str) -> Any:
    """(start, end) pieces of about `_BLOCK_CHARS`, each cut just before whitespace."""
    start = 0
    while start < len(text):
        end = min(start + _BLOCK_CHARS, len(text))
        if end < len(text):
            space = _last_space(text, start + _BLOCK_CHARS // 2, end)
            end = space if space is not None else end
        yield start, end
        start = end


def _last_space(text: str, low: int, high: int) -> int | None:
    index = max(text.rfind(" ", low, high), text.rfind("\n", low, high))
    if index > low:
        return index
    spaces = [found.start() for found in _SPACE.finditer(text, low, high)]
    return spaces[-1] if spaces else None
