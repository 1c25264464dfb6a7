"""`POST /v1/embeddings`: the embedded model or an upstream's, billed per input token."""

from __future__ import annotations

import base64
from typing import Any

import numpy as np
from fastapi import APIRouter, Request

from thinkgate.api.deps import AccountDep
from thinkgate.core.request import CanonicalRequest
from thinkgate.errors import ThinkgateError
from thinkgate.ids import new_id
from thinkgate.protocol import parse_body
from thinkgate.protocol.retrieval import EmbeddingRequest
from thinkgate.retrieval.embedding_models import EmbeddingModels, as_inputs

router = APIRouter()


@router.post("/v1/embeddings")
async def create_embeddings(request: Request, account: AccountDep) -> dict[str, Any]:
    body = parse_body(await request.body(), EmbeddingRequest)
    inputs = as_inputs(body.input)
    models: EmbeddingModels = request.app.state.embedding_models
    bill = await account.admit(CanonicalRequest(model=body.model, input_items=[]), 0, 0)
    record_id = new_id("emb")
    record: dict[str, Any] = {"id": record_id, "status": "completed", "output": []}
    try:
        embedded = await models.embed(body.model, inputs, body.dimensions)
    except ThinkgateError as error:  # nothing embedded: nothing billed, a ledger row says why
        await bill.withdraw(record_id, error, channel=None)
        raise
    usage = {"input_tokens": embedded.tokens, "output_tokens": 0}
    await bill.settle(record, usage, channel=embedded.channel)
    return {
        "object": "list",
        "data": [
            {"object": "embedding", "index": i, "embedding": _encoded(v, body.encoding_format)}
            for i, v in enumerate(embedded.vectors)
        ],
        "model": body.model,
        "usage": {"prompt_tokens": embedded.tokens, "total_tokens": embedded.tokens},
    }


def _encoded(vector: list[float], encoding: str) -> list[float] | str:
    if encoding == "base64":  # little-endian float32, as OpenAI sends it
        return base64.b64encode(np.asarray(vector, dtype="<f4").tobytes()).decode()
    return vector
