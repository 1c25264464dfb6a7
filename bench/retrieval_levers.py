"""Which cheap lever lifts the default hybrid (not a test): `python -m bench.retrieval_levers`.

Issue 22's target is hybrid recall@10 above Chroma's default (all-MiniLM-L6-v2, 0.718;
halves 0.689 / 0.747) with the offline default embedding (wordllama-l2-256). Each lever is
measured alone against the shipped path, on bench/retrieval.py's set, the same convex
fusion (`fusion.scored`'s rule) applied offline to each query's lists:

    bm25     FTS5 tokenizer (`porter unicode61` shipped, `unicode61`) × query form (OR of
             the terms without stop words, shipped; OR of every word; AND first, then OR)
    fusion   BM25 normalised by its best (shipped) or min-max; candidates 50 / 100 / 200
    dense    token weights in the mean (none, shipped; log rank; SIF with Zipf
             frequencies a = 1e-3…1e-5; the corpus' token IDF), on both sides or the
             query's only; the query without its stop words
    prf      dense pseudo-relevance feedback: q + β · mean(top m hybrid chunks)
    center   the table's mean and top principal components removed (all-but-the-top), or
             the corpus' (the store's) mean and components
    --postgres ADMIN_URL  PostgreSQL's full text: the old scoring (IDF of the matched terms
             + ts_rank, 'english' / 'simple'), ts_rank / ts_rank_cd alone, Okapi BM25 from
             the tsvector positions (length as tokens or as distinct lexemes)

Per lever: recall@10 at the shipped share 0.5 (halves and all), and the share tuned on one
half (0.05 steps, recall then MRR) reported on the other, both ways (bench.retrieval.halves).
Results: bench/results/retrieval_levers.json (docs/files.md "Levers measured").
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import math
import sqlite3
import sys
from collections import Counter
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from bench.retrieval import halves, labelled_set, scores
from thinkgate.retrieval.embedder import StaticEmbedder, Vectors
from thinkgate.retrieval.fusion import _WORD, query_terms

RESULTS = Path(__file__).parent / "results" / "retrieval_levers.json"
Lists = list[list[tuple[int, float]]]
DATA = labelled_set()
HALVES = halves(len(DATA.queries))
ALL = list(range(len(DATA.queries)))
SHARES = [x / 20 for x in range(21)]


def fts(tokenize: str) -> sqlite3.Connection:
    db = sqlite3.connect(":memory:")
    db.execute(f"CREATE VIRTUAL TABLE t USING fts5(text, tokenize='{tokenize}')")
    db.executemany("INSERT INTO t(rowid, text) VALUES (?, ?)", list(enumerate(DATA.chunks)))
    return db


def bm25_lists(db: sqlite3.Connection, form: str, depth: int = 50) -> Lists:
    sql = "SELECT rowid, -bm25(t) FROM t WHERE t MATCH ? ORDER BY bm25(t) LIMIT ?"
    out = []
    for query in DATA.queries:
        words = dict.fromkeys(_WORD.findall(query.lower())) if form == "or_all" else None
        terms = list(words) if words is not None else query_terms(query)
        quoted = ['"' + t.replace('"', "") + '"' for t in terms]
        if not quoted:
            out.append([])
            continue
        rows = db.execute(sql, (" OR ".join(quoted), depth)).fetchall()
        if form == "and_or":  # every term's hits first, scored above the rest
            both = db.execute(sql, (" AND ".join(quoted), depth)).fetchall()
            top = max((s for _, s in rows), default=0.0)
            seen = {r for r, _ in both}
            rows = [(r, s + top) for r, s in both] + [(r, s) for r, s in rows if r not in seen]
        out.append([(int(r), float(s)) for r, s in rows[:depth]])
    return out


class Dense:
    def __init__(self) -> None:
        self.model = StaticEmbedder.load()
        self.table, _ = self.model._model()
        self.size = self.table.shape[0]
        self.chunks = self.model.tokens(DATA.chunks)
        self.queries = self.model.tokens(DATA.queries)
        self.queries_no_stop = self.model.tokens(
            [" ".join(query_terms(q)) or q for q in DATA.queries]
        )

    def weights(self, kind: str) -> Vectors:
        rank = np.arange(self.size, dtype=np.float64) + 1  # BPE ids: merge order ~ frequency
        if kind == "none":
            return np.ones(self.size, np.float32)
        if kind == "logrank":
            return np.log1p(rank).astype(np.float32)
        if kind.startswith("sif"):
            p = (1 / rank) / (1 / rank).sum()
            return (float(kind[3:]) / (float(kind[3:]) + p)).astype(np.float32)
        df = Counter(t for ids in self.chunks for t in set(ids))  # "idf": the corpus'
        n = len(self.chunks)
        return np.array(
            [math.log((n + 1) / (df.get(i, 0) + 1)) + 1 for i in range(self.size)], np.float32
        )

    def means(self, token_lists: Sequence[Sequence[int]], w: Vectors) -> Vectors:
        """Weighted means, not normalised."""
        out = np.zeros((len(token_lists), self.table.shape[1]), np.float32)
        for n, ids in enumerate(token_lists):
            if ids:
                rows = np.clip(np.asarray(ids), 0, self.size - 1)
                out[n] = (self.table[rows] * w[rows, None]).sum(0) / w[rows].sum()
        return out


def unit(x: Vectors) -> Vectors:
    return x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-9)


def convex(
    words: list[tuple[int, float]], cos: Vectors, share: float, depth: int = 50, norm: str = "best"
) -> list[int]:
    """`fusion.scored`'s rule (norm `best`) over one query's lists."""
    bm = dict(words[:depth])
    found = set(bm) | {int(i) for i in np.argsort(-cos)[:depth]}
    low, high = min(bm.values(), default=0.0), max(bm.values(), default=0.0)
    if norm == "best":
        lex = {i: bm.get(i, 0.0) / high if high > 0 else 0.0 for i in found}
    else:
        lex = {i: ((bm[i] - low) / (high - low) if high > low else 1.0) if i in bm else 0.0
               for i in found}  # fmt: skip
    c = {i: float(cos[i]) for i in found}
    lo, hi = min(c.values()), max(c.values())
    score = {
        i: share * lex[i] + (1 - share) * ((c[i] - lo) / (hi - lo) if hi > lo else 1.0)
        for i in found
    }
    return sorted(score, key=lambda i: (-score[i], i))


def recall(ranked: list[list[int]], part: Sequence[int]) -> dict[str, float]:
    return scores([ranked[q][:10] for q in part], [DATA.relevant[q] for q in part])


def study(lists: Lists, cos: Vectors, **options: Any) -> dict[str, Any]:
    """recall@10 [half 0, half 1, all]: BM25, dense, hybrid at s = 0.5; s tuned per half."""
    ranked = {s: [convex(lists[q], cos[q], s, **options) for q in ALL] for s in SHARES}

    def three(r: list[list[int]]) -> list[float]:
        return [recall(r, part)["recall@10"] for part in (*HALVES, ALL)]

    out: dict[str, Any] = {
        "bm25": three([[i for i, _ in lists[q]] for q in ALL]),
        "dense": three([list(np.argsort(-cos[q])[:10]) for q in ALL]),
        "hybrid_s0.5": three(ranked[0.5]),
    }
    for tune in (0, 1):
        best = max(SHARES, key=lambda s: tuple(recall(ranked[s], HALVES[tune]).values()))
        out[f"tuned_on_half_{tune}"] = {"share": best, "recall@10": three(ranked[best])}
    out["held_out_mean"] = round(
        (out["tuned_on_half_0"]["recall@10"][1] + out["tuned_on_half_1"]["recall@10"][0]) / 2, 4
    )
    return out


def sqlite_levers(report: Callable[[str, dict[str, Any]], None]) -> None:
    porter = fts("porter unicode61")
    base = bm25_lists(porter, "or_stop")
    dense = Dense()
    none = dense.weights("none")
    docs = unit(dense.means(dense.chunks, none))
    queries = unit(dense.means(dense.queries, none))
    cos = queries @ docs.T
    report("shipped", study(base, cos))
    for tokenize, form in itertools.product(("porter unicode61", "unicode61"),
                                            ("or_stop", "or_all", "and_or")):  # fmt: skip
        db = porter if tokenize.startswith("porter") else fts(tokenize)
        report(f"bm25 {tokenize} {form}", study(bm25_lists(db, form), cos))
    for norm, depth in itertools.product(("best", "minmax"), (50, 100, 200)):
        lists = bm25_lists(porter, "or_stop", depth)
        report(f"fusion {norm} depth {depth}", study(lists, cos, depth=depth, norm=norm))
    no_stop = unit(dense.means(dense.queries_no_stop, none))
    report("dense query without stop words", study(base, no_stop @ docs.T))
    for kind in ("logrank", "sif1e-3", "sif1e-4", "sif1e-5", "idf"):
        w = dense.weights(kind)
        q = unit(dense.means(dense.queries, w))
        report(f"dense weights {kind}", study(base, q @ unit(dense.means(dense.chunks, w)).T))
        report(f"dense weights {kind}, query only", study(base, q @ docs.T))
    for m, beta in itertools.product((3, 5, 10), (0.5, 1.0, 2.0)):
        expanded = np.stack(
            [queries[q] + beta * docs[convex(base[q], cos[q], 0.5)[:m]].mean(0) for q in ALL]
        )
        report(f"prf m {m} beta {beta}", study(base, unit(expanded) @ docs.T))
    raw_docs, raw_queries = dense.means(dense.chunks, none), dense.means(dense.queries, none)
    for source, rows in (("table", dense.table), ("corpus", docs)):
        mean = rows.mean(0)
        _, _, vt = np.linalg.svd(rows - mean, full_matrices=False)
        for k in (0, 1, 2, 4, 8):
            keep = np.eye(rows.shape[1], dtype=np.float32) - vt[:k].T @ vt[:k]
            d = unit((raw_docs - mean) @ keep)
            q = unit((raw_queries - mean) @ keep)
            report(f"center {source} k {k}", study(base, q @ d.T))


async def postgres_levers(admin: str, report: Callable[[str, dict[str, Any]], None]) -> None:
    import asyncpg

    dense = Dense()
    none = dense.weights("none")
    cos = unit(dense.means(dense.queries, none)) @ unit(dense.means(dense.chunks, none)).T
    root = await asyncpg.connect(admin)
    await root.execute("DROP DATABASE IF EXISTS thinkgate_levers")
    await root.execute("CREATE DATABASE thinkgate_levers")
    db = await asyncpg.connect(admin.rsplit("/", 1)[0] + "/thinkgate_levers")
    try:
        await db.execute(
            "CREATE TABLE c (id int PRIMARY KEY, text text, "
            "en tsvector GENERATED ALWAYS AS (to_tsvector('english', text)) STORED, "
            "si tsvector GENERATED ALWAYS AS (to_tsvector('simple', text)) STORED)"
        )
        await db.executemany(
            "INSERT INTO c (id, text) VALUES ($1, $2)", list(enumerate(DATA.chunks))
        )
        for variant in ("old english", "old simple", "ts_rank english", "ts_rank_cd english",
                        "bm25 english", "bm25 simple", "bm25-distinct english"):  # fmt: skip
            report(f"postgresql {variant}", study(await _pg_lists(db, variant), cos))
    finally:
        await db.close()
        await root.execute("DROP DATABASE IF EXISTS thinkgate_levers")
        await root.close()


async def _pg_lists(db: Any, variant: str, depth: int = 50) -> Lists:
    kind, config = variant.split()
    col = "en" if config == "english" else "si"
    n = await db.fetchval("SELECT count(*) FROM c")
    tokens = f"(SELECT sum(array_length(positions, 1)) FROM unnest({{t}}.{col}))"
    length = f"length(c.{col})" if kind == "bm25-distinct" else tokens.format(t="c")
    mean = await db.fetchval(f"SELECT avg({length}) FROM c")
    out: Lists = []
    for query in DATA.queries:
        terms = query_terms(query)
        if not terms:
            out.append([])
            continue
        ored = " | ".join(terms)
        if not kind.startswith("bm25"):
            parts, args = [], [ored, depth]
            for t in terms if kind == "old" else []:
                df = await db.fetchval(
                    f"SELECT count(*) FROM c WHERE {col} @@ to_tsquery('{config}', $1)", t
                )
                args += [t, math.log(1 + (n - df + 0.5) / (df + 0.5))]
                parts.append(f"CASE WHEN {col} @@ to_tsquery('{config}', ${len(args) - 1}) "
                             f"THEN ${len(args)}::float8 ELSE 0 END")  # fmt: skip
            parts.append(f"{'ts_rank_cd' if kind == 'ts_rank_cd' else 'ts_rank'}({col}, q)")
            rows = await db.fetch(
                f"SELECT id, {' + '.join(parts)} AS s FROM c, to_tsquery('{config}', $1) q "
                f"WHERE {col} @@ q ORDER BY s DESC, id LIMIT $2",
                *args,
            )
        else:
            lexemes = await db.fetchval(
                f"SELECT array_agg(DISTINCT lexeme) FROM unnest(to_tsvector('{config}', $1))",
                " ".join(terms),
            )
            idf = []
            for x in lexemes or []:
                df = await db.fetchval(
                    f"SELECT count(*) FROM c WHERE {col} @@ $1::tsquery",
                    "'" + x.replace("'", "''") + "'",
                )
                idf.append(math.log(1 + (n - df + 0.5) / (df + 0.5)))
            rows = [] if not lexemes else await db.fetch(
                "SELECT c.id, SUM(w.idf * u.tf * 2.2 / "
                f"(u.tf + 1.2 * (0.25 + 0.75 * {length} / $4::float8))) "
                f"FROM c CROSS JOIN LATERAL (SELECT lexeme, array_length(positions, 1) AS tf "
                f"FROM unnest(c.{col}) WHERE lexeme = ANY($1::text[])) u "
                "JOIN unnest($1::text[], $2::float8[]) AS w(lexeme, idf) ON w.lexeme = u.lexeme "
                f"WHERE c.{col} @@ to_tsquery('{config}', $3) "
                "GROUP BY c.id ORDER BY 2 DESC, c.id LIMIT $5",
                lexemes, idf, ored, float(mean), depth,
            )  # fmt: skip
        out.append([(int(r[0]), float(r[1])) for r in rows])
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--postgres", help="a PostgreSQL admin URL (postgresql://…/postgres)")
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()
    results: dict[str, Any] = {
        "set": f"{len(DATA.chunks)} chunks, {len(DATA.queries)} queries",
        "figures": "recall@10 as [half 0, half 1, all]",
        "chroma_default_minilm": [0.6888, 0.747, 0.7179],
    }

    def report(name: str, figures: dict[str, Any]) -> None:
        results[name] = figures
        print(name, json.dumps(figures), flush=True)

    sqlite_levers(report)
    if args.postgres:
        asyncio.run(postgres_levers(args.postgres, report))
    args.out.write_text(json.dumps(results, indent=1) + "\n")


if __name__ == "__main__":
    sys.exit(main())
