"""`POST /v1/vector_stores/{id}/search` on SQLite (FTS5 + vectors), PostgreSQL (full
text + vectors in memory) and PostgreSQL with pgvector, through the openai SDK with strict
types: the right file first, scores in [0, 1], attribute filters, query lists and
rewriting, bounds, bad filters as 400s, and two users who never see each other's stores."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import openai
import pytest
from openai import OpenAI

from tests.support.gateway_support import Gateway
from tests.support.retrieval_support import (  # noqa: F401 - the fixture
    CORPUS,
    make_store,
    vector_gateway_fixture,
)


@pytest.fixture(scope="module")
def users(gateway: Gateway) -> Iterator[tuple[OpenAI, OpenAI, str]]:
    """Two users' clients, and the first user's store of the corpus."""
    _, first = gateway.key()
    _, second = gateway.key()
    alice, bob = gateway.sdk(first), gateway.sdk(second)
    store = make_store(alice, "corpus")
    yield alice, bob, store.id


def _names(page: Any) -> list[str]:
    return [hit.filename for hit in page.data]


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("what causes the tides?", "tides.txt"),
        ("how long should bread dough rise", "sourdough.md"),
        ("why do some eruptions explode", "volcanoes.txt"),
    ],
)
def test_search_finds_the_file_that_answers(
    users: tuple[OpenAI, OpenAI, str], query: str, expected: str
) -> None:
    alice, _, store = users
    page = alice.vector_stores.search(store, query=query, max_num_results=3)
    assert _names(page)[0] == expected
    for hit in page.data:
        assert 0.0 <= hit.score <= 1.0
        assert hit.content[0].type == "text" and hit.content[0].text in CORPUS[hit.filename][0]
        assert hit.attributes == CORPUS[hit.filename][1]
    assert [h.score for h in page.data] == sorted((h.score for h in page.data), reverse=True)


def test_filters_options_and_query_lists(users: tuple[OpenAI, OpenAI, str]) -> None:
    alice, _, store = users
    science = {"type": "eq", "key": "topic", "value": "science"}
    recent = {"type": "gte", "key": "year", "value": 2022}
    page = alice.vector_stores.search(store, query="lava and tides", filters=science)
    assert set(_names(page)) == {"tides.txt", "volcanoes.txt"}
    both = {"type": "and", "filters": [science, recent]}
    assert _names(alice.vector_stores.search(store, query="tides", filters=both)) == [
        "volcanoes.txt"
    ]
    either = {"type": "or", "filters": [{"type": "eq", "key": "public", "value": False}, recent]}
    assert _names(alice.vector_stores.search(store, query="bread", filters=either)) == [
        "volcanoes.txt"
    ]
    nin = {"type": "nin", "key": "topic", "value": ["science"]}
    assert _names(alice.vector_stores.search(store, query="moon", filters=nin)) == ["sourdough.md"]
    one = alice.vector_stores.search(store, query="moon", max_num_results=1)
    assert len(one.data) == 1
    strict = alice.vector_stores.search(
        store, query="moon tides", ranking_options={"ranker": "none", "score_threshold": 0.99}
    )
    assert all(hit.score >= 0.99 for hit in strict.data)
    many = alice.vector_stores.search(store, query=["sourdough starter", "basalt lava"])
    assert {"sourdough.md", "volcanoes.txt"} <= set(_names(many)[:2])


def test_rewrite_query_reports_what_was_searched(users: tuple[OpenAI, OpenAI, str]) -> None:
    alice, _, store = users
    raw = alice.vector_stores.with_raw_response.search(
        store, query="What is the cause of the tides?", rewrite_query=True
    )
    body = raw.http_response.json()
    assert body["object"] == "vector_store.search_results.page"
    assert body["search_query"] == ["cause tides"]
    assert body["data"][0]["filename"] == "tides.txt"


@pytest.mark.parametrize(
    ("body", "param"),
    [
        ({"query": "x", "filters": {"type": "eq", "key": "year", "value": "2021"}}, "filters"),
        ({"query": "x", "filters": {"type": "gt", "key": "topic", "value": 3}}, "filters"),
        ({"query": "x", "filters": {"type": "gt", "key": "year", "value": "soon"}}, "filters"),
        ({"query": "x", "filters": {"type": "like", "key": "year", "value": 1}}, "filters"),
        ({"query": "x", "filters": {"type": "and", "filters": []}}, "filters"),
        ({"query": "x", "max_num_results": 51}, "max_num_results"),
        ({"query": "x", "ranking_options": {"score_threshold": 2}}, "ranking_options"),
        ({"query": ""}, "query"),
    ],
)
def test_bad_searches_are_400s(
    users: tuple[OpenAI, OpenAI, str], body: dict[str, Any], param: str
) -> None:
    alice, _, store = users
    with pytest.raises(openai.BadRequestError) as caught:
        alice.post(f"/vector_stores/{store}/search", body=body, cast_to=object)
    error = caught.value.body
    assert isinstance(error, dict) and str(error.get("param") or "").startswith(param), error


def test_users_never_see_each_others_stores(users: tuple[OpenAI, OpenAI, str]) -> None:
    alice, bob, store = users
    with pytest.raises(openai.NotFoundError):
        bob.vector_stores.search(store, query="tides")
    own = make_store(bob, "bob's", files=["sourdough.md"])
    page = bob.vector_stores.search(own.id, query="tides moon lava bread")
    assert _names(page) == ["sourdough.md"]  # only his file, though alice's match better
    assert all(hit.file_id not in _alice_files(alice, store) for hit in page.data)


def _alice_files(alice: OpenAI, store: str) -> set[str]:
    return {f.id for f in alice.vector_stores.files.list(vector_store_id=store)}
