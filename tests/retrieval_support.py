"""A small labelled corpus and a vector store made from it through the SDK's upload path
(files.create, vector_stores.create with file_ids, polled until ingested)."""

from __future__ import annotations

import time

from openai import OpenAI
from openai.types import VectorStore

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
