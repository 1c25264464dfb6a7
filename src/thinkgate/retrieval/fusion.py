"""Turning ranked lists into one answer: query terms, reciprocal-rank fusion, scoring.

    per query: BM25 list ─┐
               dense list ─┴─► candidates (their union, over all queries)
    ranker `none`: RRF (k = 60) order, score = RRF / its best possible value
    ranker `auto` (default): score = s·BM25/best BM25 + (1 - s)·min-max(cosine), both
                             over the candidates (a convex combination of normalised
                             scores, no second model); s: the embedding model's
                             `text_share`
    `hybrid_search` weights (file_search's ranking_options) scale each side's lists in
    RRF and its share in the `auto` score (the model's own share at equal weights)

Every score is in [0, 1]. RRF needs only ranks, as BM25 and cosine are on unrelated scales
(Cormack et al., SIGIR 2009), but at k = 60 it weighs a weak list as much as a strong one:
on bench/retrieval's set hybrid RRF fell below BM25 alone, and with MiniLM's vectors below
dense alone. The default scores instead: each side stretched to [0, 1] over the query's
candidates, so that a share means the same for every model, and weighted by how good the
embedding is (bench/retrieval_fusion.py measures the rules, tuned on one half of the
queries and counted on the other; docs/files.md "Choosing the fusion").
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

RRF_K = 60
RERANKERS = ("auto", "default-2024-11-15", "default_2024_08_21")
_WORD = re.compile(r"\w+", re.UNICODE)
_MAX_TERMS = 32
_STOP = frozenset(
    _WORD.findall(
        """a about above after again all am an and any are as at be because been before being
        below between both but by can could did do does doing down during each few for from
        further had has have having he her here hers herself him himself his how i if in into
        is it its itself just me more most my myself no nor not now of off on once only or
        other our ours ourselves out over own same she should so some such than that the their
        theirs them themselves then there these they this those through to too under until up
        very was we were what when where which while who whom why will with would you your
        yours yourself yourselves"""
    )
)


def query_terms(query: str) -> list[str]:
    """The words a full-text search looks for: lowercased, stop words out, each once."""
    seen: dict[str, None] = {}
    for word in _WORD.findall(query.lower()):
        if word not in _STOP and word not in seen:
            seen[word] = None
    return list(seen)[:_MAX_TERMS]


def rewrite(query: str) -> str:
    """`rewrite_query`: the question reduced to its search terms."""
    terms = query_terms(query)
    return " ".join(terms) if terms else query.strip()


@dataclass(slots=True)
class Candidate:
    chunk_id: int
    rrf: float = 0.0
    bm25: float = 0.0  # the best BM25 score any query gave it (higher is better)
    cosine: float | None = None  # the best cosine any query gave it


def fuse(
    lexical: Sequence[Sequence[tuple[int, float]]],
    dense: Sequence[Sequence[tuple[int, float]]],
    weights: tuple[float, float] = (1.0, 1.0),
) -> dict[int, Candidate]:
    """RRF over every list (each: (chunk id, score) best first); `weights`: (text,
    embedding), each list's share."""
    text_weight, embedding_weight = weights
    found: dict[int, Candidate] = {}
    for ranked in lexical:
        for rank, (chunk_id, score) in enumerate(ranked):
            candidate = found.setdefault(chunk_id, Candidate(chunk_id))
            candidate.rrf += text_weight / (RRF_K + rank + 1)
            candidate.bm25 = max(candidate.bm25, score)
    for ranked in dense:
        for rank, (chunk_id, score) in enumerate(ranked):
            candidate = found.setdefault(chunk_id, Candidate(chunk_id))
            candidate.rrf += embedding_weight / (RRF_K + rank + 1)
            candidate.cosine = score if candidate.cosine is None else max(candidate.cosine, score)
    return found


def scored(
    found: Mapping[int, Candidate],
    best: float,
    ranker: str,
    cosines: Mapping[int, float],
    weights: tuple[float, float] = (1.0, 1.0),
    text_share: float = 0.5,
) -> list[tuple[int, float]]:
    """(chunk id, score in [0, 1]) best first. `best`: the highest RRF possible with these
    lists; `cosines`: each candidate's best cosine with the queries, for those the dense
    lists did not rank (the reranker needs all); `weights`: (text, embedding), scaling
    `text_share`, the full text's share of the score at equal weights."""
    if ranker not in RERANKERS:
        ranked = sorted(found.values(), key=lambda c: (-c.rrf, c.chunk_id))
        return [(c.chunk_id, _unit(c.rrf / best)) for c in ranked]
    share = _share(text_share, weights)
    top_bm25 = max((c.bm25 for c in found.values()), default=0.0)
    cosine = {
        c.chunk_id: c.cosine if c.cosine is not None else cosines.get(c.chunk_id, 0.0)
        for c in found.values()
    }
    low, high = min(cosine.values(), default=0.0), max(cosine.values(), default=0.0)
    out = []
    for candidate in found.values():
        lexical = candidate.bm25 / top_bm25 if top_bm25 > 0 else 0.0
        near = (cosine[candidate.chunk_id] - low) / (high - low) if high > low else 1.0
        out.append((candidate.chunk_id, _unit((1 - share) * near + share * lexical)))
    out.sort(key=lambda pair: (-pair[1], pair[0]))
    return out


def _share(text_share: float, weights: tuple[float, float]) -> float:
    """The full text's share once `hybrid_search`'s (text, embedding) weights scale the
    model's: equal weights keep it, a zero weight silences that side."""
    text, dense = weights[0] * text_share, weights[1] * (1 - text_share)
    return text / (text + dense) if text + dense > 0 else 0.5


def _unit(value: float) -> float:
    return round(min(max(value, 0.0), 1.0), 6)
