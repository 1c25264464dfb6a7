"""A small labelled corpus and a vector store made from it through the SDK's upload path
(files.create, vector_stores.create with file_ids, polled until ingested); the vector
tests' server fixture, on SQLite, PostgreSQL without pgvector and PostgreSQL with it."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
from openai import OpenAI
from openai.types import VectorStore

from tests.support.gateway_support import PEPPER, Gateway, admin_http, new_database, services
from tests.support.server import ServerProcess

BACKENDS = {"sqlite": "server", "postgres+redis": "pg_server", "pgvector": "pgvector_server"}


def pgvector_env() -> dict[str, str]:
    """A fresh database on the PostgreSQL with pgvector that scripts/test-services.sh starts
    (the pgserver wheel's PostgreSQL 16); skips, saying why, where there is none."""
    values = services()
    if "THINKGATE_TEST_PGVECTOR_URL_BASE" not in values:
        why = values.get("PGVECTOR_SKIP_REASON", "scripts/test-services.sh did not start it")
        pytest.skip(f"PostgreSQL with pgvector unavailable: {why}")
    url = new_database(
        {
            "THINKGATE_TEST_PG_ADMIN_URL": values["THINKGATE_TEST_PGVECTOR_ADMIN_URL"],
            "THINKGATE_TEST_PG_URL_BASE": values["THINKGATE_TEST_PGVECTOR_URL_BASE"],
        }
    )
    return {"THINKGATE_DATABASE_URL": url, "THINKGATE_KEY_PEPPER": PEPPER}


@pytest.fixture(name="gateway", scope="module", params=list(BACKENDS))
def vector_gateway_fixture(request: pytest.FixtureRequest) -> Iterator[Gateway]:
    """The gateway fixture, with a third run on PostgreSQL with pgvector (conftest's
    session `pgvector_server`)."""
    process: ServerProcess = request.getfixturevalue(BACKENDS[request.param])
    with admin_http(process.base_url) as http:
        yield Gateway(process.base_url, http)


CORPUS: dict[str, tuple[str, dict[str, str | float | bool]]] = {
    "tides.txt": (
        "Ocean tides are caused by the gravitational pull of the moon and the sun on the "
        "water. Spring tides, the largest, come at full moon and new moon, when the sun and "
        "the moon line up.",
        {"topic": "science", "year": 2021, "public": True},
    ),
    "sourdough.md": (
        "# Sourdough\n\nTo bake sourdough bread, feed the starter the night before, mix flour, "
        "water and salt, let the dough rise for twelve hours, then bake it at 250 degrees in "
        "a covered pot.",
        {"topic": "cooking", "year": 2019, "public": True},
    ),
    "volcanoes.txt": (
        "Volcanoes erupt when magma rises through cracks in the crust. Basalt lava is runny "
        "and flows far; rhyolite lava is thick and traps gas, so its eruptions explode.",
        {"topic": "science", "year": 2024, "public": False},
    ),
}


def make_store(client: OpenAI, name: str, files: list[str] | None = None) -> VectorStore:
    """A vector store holding the named corpus files (all by default), ingested, with each
    file's attributes set."""
    ids = {}
    for filename in files or list(CORPUS):
        text, _ = CORPUS[filename]
        uploaded = client.files.create(file=(filename, text.encode()), purpose="assistants")
        ids[filename] = uploaded.id
    store = client.vector_stores.create(name=name)
    for filename, file_id in ids.items():
        client.vector_stores.files.create(
            vector_store_id=store.id, file_id=file_id, attributes=CORPUS[filename][1]
        )
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        store = client.vector_stores.retrieve(store.id)
        if store.file_counts.in_progress == 0:
            break
        time.sleep(0.1)
    assert store.file_counts.completed == len(ids), store.file_counts
    return store
