"""Which fusion of BM25 and dense lists (not a test): `python -m bench.retrieval_fusion`.

Each query of bench/retrieval.py's labelled set is searched once through the real chunk
index (SQLite; also PostgreSQL's with --postgres), full text and dense apart (their ranked
lists with scores, `DEPTH` deep); the fusion rules below are then applied offline to those
lists. Each family is tuned on one half of the queries (bench.retrieval.halves, a fixed
random split) and reported on the other, both ways round (2-fold cross-validation): a
`held_out_mean` was never tuned on the queries it reports. The share a model ships with
(`text_share`) is then the one tuned on all queries (`tuned_on_all`); its full-set figure
(`rerank_new_default`) is in-sample, the held-out mean is the honest estimate.

    rrf        Σ w / (k + rank), k and the dense weight tuned
    rerank     the old default: 0.5·cosine + 0.5·BM25/best BM25 (no tuning)
    convex     α·BM25/best BM25 + (1-α)·min-max(cosine) over the candidates, α tuned
               (the new default, α = the embedding model's `text_share`)
    --minilm-vectors NPZ  also with all-MiniLM-L6-v2's vectors (chunks, queries)
Results: bench/results/retrieval_fusion.json (docs/files.md "Search").
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import sys
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import anyio
import numpy as np

from bench.retrieval import STORE, LabelledSet, _fill, labelled_set, scores
from bench.retrieval import halves as split
from thinkgate.retrieval.embedder import StaticEmbedder, Vectors
from thinkgate.retrieval.embedders import Embedders
from thinkgate.retrieval.fusion import query_terms
from thinkgate.retrieval.hybrid import HybridIndex
from thinkgate.retrieval.open import open_chunk_index
from thinkgate.retrieval.sqlite_index import SqliteChunkIndex
from thinkgate.store import Database

RESULTS = Path(__file__).parent / "results" / "retrieval_fusion.json"
DEPTH = 50  # what `HybridIndex.search` asks of each side for 10 results
MINILM_TEXT_SHARE = 0.15  # tuned on all queries (bench/embedding_models.py's MiniLM too)
Lists = list[tuple[list[tuple[int, float]], list[tuple[int, float]], dict[int, float]]]
Rule = Callable[[list[tuple[int, float]], list[tuple[int, float]], dict[int, float]], list[int]]


class Given:
    """An embedder whose vectors were made elsewhere (texts looked up)."""

    def __init__(
        self, name: str, texts: Sequence[str], vectors: Vectors, text_share: float
    ) -> None:
        self.name = name
        self.dimensions = vectors.shape[1]
        self.text_share = text_share
        self.table = dict(zip(texts, vectors.astype(np.float32), strict=True))

    def embed_now(self, texts: Sequence[str]) -> Vectors:
        return np.stack([self.table[t] for t in texts])

    async def embed(self, texts: Sequence[str]) -> Vectors:
        return self.embed_now(texts)


async def collect(model: Any, data: LabelledSet, postgres: str | None = None) -> Lists:
    """Per query: BM25 list, dense list (chunk indexes, scores) and every chunk's cosine;
    on SQLite, or on the PostgreSQL database `postgres` (its own full-text scoring)."""
    with tempfile.TemporaryDirectory() as folder:
        database = None
        if postgres:
            database = Database(postgres)
            await database.migrate()
            index: HybridIndex = await open_chunk_index(database, Embedders(model.name, [model]))
            await index.drop_store(STORE)
        else:
            index = await anyio.to_thread.run_sync(
                SqliteChunkIndex,
                Path(folder) / "bench.retrieval.db",
                Embedders(model.name, [model]),
            )
        try:
            await _fill(index, data.chunks)
            out: Lists = []
            chunk_vectors = model.embed_now(data.chunks)
            for query in data.queries:
                vector = model.embed_now([query])[0]
                terms = query_terms(query)
                words = await index._lexical([STORE], terms, DEPTH, None) if terms else []
                near = await index._dense([STORE], vector, DEPTH)
                rows = {
                    r.id: r.chunk_index for r in await index._chunks([i for i, _ in words + near])
                }
                cosine = chunk_vectors @ vector
                out.append(
                    (
                        [(rows[i], s) for i, s in words],
                        [(rows[i], s) for i, s in near],
                        {i: float(c) for i, c in enumerate(cosine)},
                    )
                )
        finally:
            await index.drop_store(STORE)
            await index.aclose()
            if database is not None:
                await database.aclose()
    return out


def rrf(k: float, dense_weight: float, depth: int) -> Rule:
    def rule(words: Any, near: Any, cosine: Any) -> list[int]:
        score: dict[int, float] = {}
        for rank, (i, _) in enumerate(words[:depth]):
            score[i] = score.get(i, 0.0) + (1 - dense_weight) / (k + rank + 1)
        for rank, (i, _) in enumerate(near[:depth]):
            score[i] = score.get(i, 0.0) + dense_weight / (k + rank + 1)
        return sorted(score, key=lambda i: (-score[i], i))

    return rule


def convex(alpha: float, depth: int, norm: str) -> Rule:
    def rule(words: Any, near: Any, cosine: Any) -> list[int]:
        words, near = words[:depth], near[:depth]
        bm25 = dict(words)
        top = max(bm25.values(), default=0.0)
        found = set(bm25) | {i for i, _ in near}
        cos = {i: cosine[i] for i in found}
        if norm == "minmax" and cos:
            low, high = min(cos.values()), max(cos.values())
            cos = {i: (c - low) / (high - low) if high > low else 1.0 for i, c in cos.items()}
        elif norm == "raw":
            cos = {i: max(c, 0.0) for i, c in cos.items()}
        score = {
            i: alpha * (bm25.get(i, 0.0) / top if top > 0 else 0.0) + (1 - alpha) * cos[i]
            for i in found
        }
        return sorted(score, key=lambda i: (-score[i], i))

    return rule


def single(which: int) -> Rule:
    return lambda words, near, cosine: [i for i, _ in (words, near)[which]]


def evaluate(rule: Rule, lists: Lists, data: LabelledSet, part: Sequence[int]) -> dict[str, float]:
    ranked = [rule(*lists[q])[:10] for q in part]
    return scores(ranked, [data.relevant[q] for q in part])


def families() -> dict[str, list[tuple[dict[str, Any], Rule]]]:
    """Each family at the search's own depth (50 a list for 10 results)."""
    grid: dict[str, list[tuple[dict[str, Any], Rule]]] = {"rrf": [], "convex": []}
    for k, w in itertools.product((1, 5, 10, 20, 40, 60), (0.3, 0.4, 0.5, 0.6, 0.7)):
        grid["rrf"].append(({"k": k, "dense_weight": w}, rrf(k, w, 50)))
    for a in [x / 20 for x in range(1, 20)]:
        grid["convex"].append(({"text_share": a}, convex(a, 50, "minmax")))
    return grid


def study(lists: Lists, data: LabelledSet, shipped: float) -> dict[str, Any]:
    """`shipped`: the text share the model ships with (tuned on all queries; the held-out
    figures of `convex_tuned` are the honest estimate of what such tuning gives)."""
    order = list(range(len(data.queries)))
    halves = split(len(order))
    fixed: dict[str, Rule] = {
        "bm25": single(0),
        "dense": single(1),
        "rrf_k60_equal_depth50": rrf(60, 0.5, 50),
        "rerank_old_default": convex(0.5, 50, "raw"),
        "rerank_new_default": convex(shipped, 50, "minmax"),
    }
    out: dict[str, Any] = {}
    for name, rule in fixed.items():
        out[name] = {
            "all": evaluate(rule, lists, data, order),
            "halves": [evaluate(rule, lists, data, h) for h in halves],
        }
    for family, grid in families().items():
        folds: list[dict[str, Any]] = []
        for tune, report in ((0, 1), (1, 0)):
            best = max(
                grid,
                key=lambda pr: tuple(
                    evaluate(pr[1], lists, data, halves[tune])[m] for m in ("recall@10", "mrr@10")
                ),
            )
            folds.append(
                {
                    "tuned_on": tune,
                    "params": best[0],
                    "tune": evaluate(best[1], lists, data, halves[tune]),
                    "report": evaluate(best[1], lists, data, halves[report]),
                }
            )
        recall = sum(f["report"]["recall@10"] for f in folds) / 2
        mrr = sum(f["report"]["mrr@10"] for f in folds) / 2
        best_all = max(
            grid,
            key=lambda pr: tuple(
                evaluate(pr[1], lists, data, order)[m] for m in ("recall@10", "mrr@10")
            ),
        )
        out[family + "_tuned"] = {
            "folds": folds,
            "tuned_on_all": best_all[0],
            "held_out_mean": {"recall@10": round(recall, 4), "mrr@10": round(mrr, 4)},
        }
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--minilm-vectors", type=Path)
    parser.add_argument("--postgres", help="also on this empty PostgreSQL database (its full text)")
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()
    data = labelled_set()
    models: list[Any] = [StaticEmbedder.load()]
    if args.minilm_vectors:
        given = np.load(args.minilm_vectors)
        texts = data.chunks + data.queries
        vectors = np.concatenate([given["chunks"], given["queries"]])
        models.append(Given("all-minilm-l6-v2", texts, vectors, MINILM_TEXT_SHARE))
    results: dict[str, Any] = {"set": f"{len(data.chunks)} chunks, {len(data.queries)} queries"}
    for model in models:
        for where in ("sqlite", "postgresql") if args.postgres else ("sqlite",):
            url = args.postgres if where == "postgresql" else None
            lists = asyncio.run(collect(model, data, url))
            name = model.name if where == "sqlite" else f"{model.name} (postgresql)"
            results[name] = study(lists, data, model.text_share)
            print(name, json.dumps(results[name], indent=1), flush=True)
    args.out.write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    sys.exit(main())
