"""The embedded embedding model: WordLlama's 256-dimension static token embeddings
(`wordllama` wheel, weights and tokenizer inside it, ~33 MB, no torch, no download).

A text's vector is the mean of its tokens' rows, L2-normalised: ~0.1 ms a chunk on one core,
so indexing 100K chunks takes seconds, not the hours a transformer would on two cores
(docs/files.md "Embeddings" has the measured choice). The package's own loader looks for
its bundled tokenizer in the wrong folder and would then try the network, so the two files
are read here directly; importing `wordllama` itself also reconfigures logging, so it is
only located, never imported.
"""

from __future__ import annotations

import importlib.util
import threading
from collections.abc import Sequence
from pathlib import Path

import anyio
import numpy as np
import numpy.typing as npt
from safetensors import safe_open
from tokenizers import Tokenizer

from thinkgate.config import DEFAULT_EMBEDDING_MODEL

Vectors = npt.NDArray[np.float32]
_WEIGHTS = "weights/l2_supercat_256.safetensors"
_TOKENIZER = "tokenizers/l2_supercat_tokenizer_config.json"
_BATCH = 256


class StaticEmbedder:
    """Mean-pooled static token embeddings; thread-safe (read-only arrays). The table is
    read on first use, so a server that never embeds never pays for it."""

    name = DEFAULT_EMBEDDING_MODEL
    dimensions = 256
    # the full text's share of a hybrid `auto` score (`fusion.scored`), the best for this
    # model on bench/retrieval's set (bench/retrieval_fusion.py); a stronger embedding
    # takes less (MiniLM: 0.15)
    text_share = 0.5
    matryoshka = True  # any `dimensions` up to 256: a renormalised prefix
    max_input_tokens: int | None = None  # a mean over every token

    def __init__(self) -> None:
        self._loaded: tuple[Vectors, Tokenizer] | None = None
        self._lock = threading.Lock()

    @classmethod
    def load(cls) -> StaticEmbedder:
        embedder = cls()
        embedder._model()
        return embedder

    def _model(self) -> tuple[Vectors, Tokenizer]:
        with self._lock:
            if self._loaded is None:
                root = _package_dir("wordllama")
                with safe_open(str(root / _WEIGHTS), framework="np", device="cpu") as weights:
                    table = np.ascontiguousarray(weights.get_tensor("embedding.weight"), np.float32)
                tokenizer = Tokenizer.from_file(str(root / _TOKENIZER))
                tokenizer.no_padding()
                tokenizer.no_truncation()
                assert table.shape[1] == self.dimensions
                self._loaded = (table, tokenizer)
            return self._loaded

    @property
    def vocabulary(self) -> int:
        return int(self._model()[0].shape[0])

    def tokens(self, texts: Sequence[str]) -> list[list[int]]:
        encoded = self._model()[1].encode_batch(list(texts), add_special_tokens=False)
        return [e.ids for e in encoded]

    def embed_tokens(self, token_lists: Sequence[Sequence[int]]) -> Vectors:
        """One normalised vector per token list (an empty list: the zero vector)."""
        out = np.zeros((len(token_lists), self.dimensions), dtype=np.float32)
        lengths = np.fromiter((len(ids) for ids in token_lists), np.int64, len(token_lists))
        rows = np.flatnonzero(lengths)
        if rows.size:
            flat = np.fromiter((i for ids in token_lists for i in ids), np.int64)
            np.clip(flat, 0, self.vocabulary - 1, out=flat)
            starts = np.concatenate(([0], np.cumsum(lengths[rows])[:-1]))
            sums = np.add.reduceat(self._model()[0][flat], starts, axis=0)
            out[rows] = sums / lengths[rows, None]
        norms = np.linalg.norm(out, axis=1, keepdims=True)
        np.divide(out, norms, out=out, where=norms > 0)
        return out

    def embed_now(self, texts: Sequence[str]) -> Vectors:
        parts = [
            self.embed_tokens(self.tokens(texts[i : i + _BATCH]))
            for i in range(0, len(texts), _BATCH)
        ]
        return np.concatenate(parts) if parts else np.zeros((0, self.dimensions), np.float32)

    async def embed(self, texts: Sequence[str]) -> Vectors:
        """Off the event loop: a large file's chunks take a while."""
        return await anyio.to_thread.run_sync(self.embed_now, list(texts))


def _package_dir(name: str) -> Path:
    spec = importlib.util.find_spec(name)
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError(f"the embedding model's package {name!r} is not installed")
    return Path(next(iter(spec.submodule_search_locations)))
