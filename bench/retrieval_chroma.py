"""Chroma's side of bench/retrieval.py, run with a Python that has `chromadb` (not a
project dependency): reads the embeddings the bench made (npz path as argument, the rest
as JSON on stdin), prints one JSON line. Default settings: a persistent client, one
collection, its default HNSW (cosine space asked for, as our vectors are normalised)."""

from __future__ import annotations

import json
import statistics
import sys
import tempfile
import time

import chromadb
import numpy as np


def main() -> None:
    arrays = np.load(sys.argv[1])
    meta = json.loads(sys.stdin.read())
    queries = arrays["queries"]
    report: dict[str, object] = {"scale": {}}
    with tempfile.TemporaryDirectory() as folder:
        client = chromadb.PersistentClient(path=folder)
        size = meta["quality_size"]
        collection = _filled(client, arrays[f"chunks_{size}"], "quality")[0]
        found = collection.query(query_embeddings=queries.tolist(), n_results=10)["ids"]
        ranked = [[int(i) for i in row] for row in found]
        report["quality"] = {"dense_hnsw": _scores(ranked, meta["relevant"])}
        for size in meta["sizes"]:
            collection, rate = _filled(client, arrays[f"chunks_{size}"], f"s{size}")
            times = []
            for vector in queries:
                started = time.perf_counter()
                collection.query(query_embeddings=[vector.tolist()], n_results=10)
                times.append((time.perf_counter() - started) * 1000)
            times.sort()
            report["scale"][str(size)] = {  # type: ignore[index]
                "insert_chunks_per_s": round(rate, 1),
                "p50_ms": round(statistics.median(times), 2),
                "p99_ms": round(times[min(len(times) - 1, int(len(times) * 0.99))], 2),
            }
    print(json.dumps(report))


def _filled(client, vectors, name):  # type: ignore[no-untyped-def]
    collection = client.create_collection(name, metadata={"hnsw:space": "cosine"})
    started = time.perf_counter()
    batch = 5000
    for first in range(0, len(vectors), batch):
        part = vectors[first : first + batch]
        ids = [str(first + i) for i in range(len(part))]
        collection.add(ids=ids, embeddings=part.tolist())
    return collection, len(vectors) / (time.perf_counter() - started)


def _scores(ranked, relevant):  # type: ignore[no-untyped-def]
    recall, mrr = [], []
    for hits, wanted in zip(ranked, relevant, strict=True):
        wanted = set(wanted)
        top = hits[:10]
        recall.append(len(wanted & set(top)) / min(len(wanted), 10))
        mrr.append(next((1 / (i + 1) for i, h in enumerate(top) if h in wanted), 0.0))
    return {
        "recall@10": round(statistics.mean(recall), 4),
        "mrr@10": round(statistics.mean(mrr), 4),
    }


if __name__ == "__main__":
    main()
