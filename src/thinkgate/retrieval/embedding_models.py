"""`/v1/embeddings` models: the embedded ones (retrieval.embedders) and upstream channels'
(`embeddings = {public = "upstream"}` in `[[channels]]`), tried in priority order.

    model name ─► embedded (wordllama-l2-256; all-minilm-l6-v2 where installed)
               │      ─► token ids ─► mean-pooled vectors
               └► channels serving it ─► POST {base_url}/embeddings (first that answers)

`dimensions`: wordllama was trained Matryoshka-style (a prefix of its vector is itself an
embedding), so any width up to 256 is served; MiniLM was not, so only its 384.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

import anyio
import httpx
import numpy as np

from thinkgate.config import ChannelConfig, Settings
from thinkgate.errors import InvalidRequestError, UpstreamError, model_not_found
from thinkgate.retrieval.embedders import Embedder, Embedders

Inputs = list[str] | list[list[int]]
_MAX_INPUTS = 2048


@dataclass(frozen=True, slots=True)
class Embedded:
    vectors: list[list[float]]
    tokens: int
    channel: str | None = None  # None: the embedded model


class EmbeddingModels:
    def __init__(self, settings: Settings, local: Embedders) -> None:
        self._local = local
        self._channels = sorted(
            (c for c in settings.channels if c.embeddings), key=lambda c: c.priority
        )
        self._client = httpx.AsyncClient(trust_env=False)

    def names(self) -> list[str]:
        names = {m: None for m in self._local.names()}
        return [*names, *{m: None for c in self._channels for m in c.embeddings if m not in names}]

    async def embed(self, model: str, inputs: Inputs, dimensions: int | None) -> Embedded:
        if len(inputs) > _MAX_INPUTS:
            raise InvalidRequestError(
                f"Invalid 'input': at most {_MAX_INPUTS} inputs in one request.", param="input"
            )
        if model in self._local.names():
            return await self._embed_local(self._local.get(model), inputs, dimensions)
        channels = [c for c in self._channels if model in c.embeddings]
        if not channels:
            raise model_not_found(model)
        failures = []
        for channel in channels:
            try:
                return await self._embed_upstream(channel, model, inputs, dimensions)
            except (httpx.HTTPError, ValueError, KeyError, TypeError) as failure:
                failures.append(f"{channel.name}: {type(failure).__name__}")
        raise UpstreamError("No upstream could embed the input (" + "; ".join(failures) + ").")

    async def _embed_local(
        self, local: Embedder, inputs: Inputs, dimensions: int | None
    ) -> Embedded:
        if not local.matryoshka and dimensions not in (None, local.dimensions):
            raise InvalidRequestError(
                f"Invalid 'dimensions': {local.name} has {local.dimensions} and was not trained "
                "to be cut shorter; leave it out or ask for that many.",
                param="dimensions",
            )
        if dimensions is not None and dimensions > local.dimensions:
            raise InvalidRequestError(
                f"Invalid 'dimensions': {local.name} has {local.dimensions}; ask for at most "
                "that many.",
                param="dimensions",
            )
        if inputs and isinstance(inputs[0], list):
            ids = [[int(i) for i in row] for row in inputs]
            if any(i < 0 or i >= local.vocabulary for row in ids for i in row):
                raise InvalidRequestError(
                    f"Invalid 'input': token ids must be below {local.vocabulary}.", param="input"
                )
        else:
            ids = local.tokens([str(text) for text in inputs])
        if any(not row for row in ids):
            raise InvalidRequestError(
                "Invalid 'input': an input is empty (no tokens).", param="input"
            )
        if local.max_input_tokens is not None:  # what it reads, and so what is billed
            ids = [row[: local.max_input_tokens] for row in ids]
        vectors = await anyio.to_thread.run_sync(local.embed_tokens, ids)
        if dimensions is not None and dimensions < local.dimensions:  # Matryoshka: a prefix
            vectors = vectors[:, :dimensions]
            norms = np.linalg.norm(vectors, axis=1, keepdims=True)
            vectors = np.divide(vectors, norms, out=np.zeros_like(vectors), where=norms > 0)
        return Embedded(vectors.tolist(), sum(len(row) for row in ids))

    async def _embed_upstream(
        self, channel: ChannelConfig, model: str, inputs: Inputs, dimensions: int | None
    ) -> Embedded:
        body: dict[str, object] = {
            "model": channel.embeddings[model],
            "input": inputs,
            "encoding_format": "float",
        }
        if dimensions is not None:
            body["dimensions"] = dimensions
        headers = {}
        key = os.environ.get(channel.api_key_env or "", "")
        if key:
            headers["authorization"] = f"Bearer {key}"
        timeout = httpx.Timeout(channel.timeouts.total, connect=channel.timeouts.connect)
        reply = await self._client.post(
            channel.base_url.rstrip("/") + "/embeddings",
            json=body,
            headers=headers,
            timeout=timeout,
        )
        reply.raise_for_status()
        data = reply.json()
        rows = sorted(data["data"], key=lambda row: int(row["index"]))
        vectors = [[float(x) for x in row["embedding"]] for row in rows]
        if len(vectors) != len(inputs):
            raise ValueError("the upstream answered a different number of embeddings")
        usage = data.get("usage") or {}
        tokens = int(usage.get("prompt_tokens") or usage.get("total_tokens") or 0)
        return Embedded(vectors, tokens, channel.name)

    async def aclose(self) -> None:
        await self._client.aclose()


def as_inputs(raw: Any) -> Inputs:
    """OpenAI's four shapes of `input` as a list of texts or a list of token arrays."""
    if isinstance(raw, str):
        return [raw]
    items = list(raw)
    if not items:
        raise InvalidRequestError("Invalid 'input': it must not be empty.", param="input")
    if all(isinstance(x, int) for x in items):
        return [[int(x) for x in items]]
    if all(isinstance(x, str) for x in items):
        return [str(x) for x in items]
    return [[int(i) for i in x] for x in items]
