"""The default fusion (`fusion.scored`, ranker `auto`) over arbitrary ranked lists: a chunk
both lists rank first is first, every score stays in [0, 1] and the order follows the
scores, whatever the lists, weights or embedding model's text share; a zero weight
silences its side. Plain functions (no server): the search path around them is tested
through the SDK in test_retrieval.py."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from thinkgate.retrieval.fusion import fuse, scored

_ids = st.lists(st.integers(0, 40), min_size=1, max_size=25, unique=True)
_bm25 = st.floats(0.01, 30.0)
_cosine = st.floats(-1.0, 1.0)
_share = st.floats(0.0, 1.0)
_weight = st.floats(0.0, 5.0)


def _ranked(ids: list[int], values: list[float]) -> list[tuple[int, float]]:
    """Best first, as a backend returns them."""
    return sorted(zip(ids, values, strict=False), key=lambda pair: -pair[1])


@settings(max_examples=200, deadline=None)
@given(
    text_ids=_ids,
    dense_ids=_ids,
    data=st.data(),
    share=_share,
    weights=st.tuples(_weight, _weight).filter(lambda w: sum(w) > 0),
)
def test_scores_stay_in_the_unit_interval_and_order_follows_them(
    text_ids: list[int],
    dense_ids: list[int],
    data: st.DataObject,
    share: float,
    weights: tuple[float, float],
) -> None:
    lexical = _ranked(text_ids, data.draw(st.lists(_bm25, min_size=len(text_ids))))
    dense = _ranked(dense_ids, data.draw(st.lists(_cosine, min_size=len(dense_ids))))
    found = fuse([lexical], [dense], weights)
    out = scored(found, 1.0, "auto", {}, weights, share)
    assert {chunk for chunk, _ in out} == set(text_ids) | set(dense_ids)
    assert all(0.0 <= score <= 1.0 for _, score in out)
    assert [score for _, score in out] == sorted((score for _, score in out), reverse=True)


@settings(max_examples=200, deadline=None)
@given(text_ids=_ids, dense_ids=_ids, data=st.data(), share=_share)
def test_a_chunk_first_in_both_lists_is_first(
    text_ids: list[int], dense_ids: list[int], data: st.DataObject, share: float
) -> None:
    winner = 99  # outside the other ids, strictly best in both lists
    bm25 = data.draw(st.lists(_bm25, min_size=len(text_ids)))
    cosines = data.draw(st.lists(st.floats(-1.0, 0.99), min_size=len(dense_ids)))
    lexical = [(winner, 31.0), *_ranked(text_ids, bm25)]
    dense = [(winner, 1.0), *_ranked(dense_ids, cosines)]
    out = scored(fuse([lexical], [dense]), 1.0, "auto", {}, (1.0, 1.0), share)
    assert out[0] == (winner, 1.0)


def test_a_zero_weight_silences_its_side() -> None:
    lexical = [(1, 9.0), (2, 5.0), (3, 1.0)]
    dense = [(3, 0.9), (2, 0.5), (1, 0.1)]
    found = fuse([lexical], [dense])
    assert [c for c, _ in scored(found, 1.0, "auto", {}, (1.0, 0.0), 0.2)] == [1, 2, 3]
    assert [c for c, _ in scored(found, 1.0, "auto", {}, (0.0, 1.0), 0.8)] == [3, 2, 1]


def test_the_text_share_decides_between_the_sides() -> None:
    """Chunk 1 is BM25's best, chunk 2 the embedding's: a model that gives the full text
    the larger share ranks 1 first, one that gives it the smaller ranks 2 first."""
    lexical = [(1, 10.0), (2, 4.0)]
    dense = [(2, 0.8), (1, 0.6), (3, 0.2)]
    found = fuse([lexical], [dense])
    assert scored(found, 1.0, "auto", {}, (1.0, 1.0), 0.7)[0][0] == 1
    assert scored(found, 1.0, "auto", {}, (1.0, 1.0), 0.3)[0][0] == 2
