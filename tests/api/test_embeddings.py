"""`/v1/embeddings` through the openai SDK with strict types: the embedded model
(wordllama-l2-256, no download) for text, lists and token arrays, `dimensions`, base64;
an upstream channel's model (the stand-in) with failover; per-token billing in the ledger;
bad input as 400s."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import numpy as np
import openai
import pytest
from openai import OpenAI

from tests.support.config import channel, server_config
from tests.support.gateway_support import Gateway, admin_http
from tests.support.server import ServerProcess
from tests.support.upstreams import UpstreamProcess

MODEL = "wordllama-l2-256"
FLOAT: dict[str, Any] = {"encoding_format": "float"}  # see the base64 case below


def _config(url: str) -> str:
    return server_config(
        channel("embed-broken", url, priority=1, embeddings={"text-embedding-3-small": "fail500"}),
        channel("embed-ok", url, priority=2, embeddings={"text-embedding-3-small": "small"}),
    )


@pytest.fixture(scope="module")
def gateway(
    tmp_path_factory: pytest.TempPathFactory, standin: UpstreamProcess
) -> Iterator[Gateway]:
    config = tmp_path_factory.mktemp("config") / "thinkgate.toml"
    config.write_text(_config(standin.base_url))
    process = ServerProcess(tmp_path_factory.mktemp("embed") / "data", config=config)
    try:
        with admin_http(process.base_url) as http:
            yield Gateway(process.base_url, http)
    finally:
        process.stop()


def test_embedded_model_embeds_text_lists_and_tokens(gateway: Gateway) -> None:
    key_id, secret = gateway.key()
    client = gateway.sdk(secret)
    one = client.embeddings.create(model=MODEL, input="The moon pulls the tides.", **FLOAT)
    assert one.model == MODEL and len(one.data) == 1
    vector = np.asarray(one.data[0].embedding)
    assert vector.shape == (256,) and abs(np.linalg.norm(vector) - 1) < 1e-4
    texts = ["The moon pulls the tides.", "Ocean tides follow the moon.", "Bake bread at 250."]
    many = client.embeddings.create(model=MODEL, input=texts, encoding_format="float")
    rows = np.asarray([d.embedding for d in many.data])
    assert [d.index for d in many.data] == [0, 1, 2]
    assert rows[0] @ rows[1] > rows[0] @ rows[2]  # related texts are closer
    assert np.allclose(rows[0], vector, atol=1e-6)
    tokens = client.embeddings.create(model=MODEL, input=[[1, 2, 3], [4, 5]], **FLOAT)
    assert len(tokens.data) == 2 and tokens.usage.prompt_tokens == 5
    flat = client.embeddings.create(model=MODEL, input=[1, 2, 3], **FLOAT)
    assert np.allclose(flat.data[0].embedding, tokens.data[0].embedding)
    short = client.embeddings.create(model=MODEL, input="tides", dimensions=64, **FLOAT)
    assert len(short.data[0].embedding) == 64
    raw = client.embeddings.with_raw_response.create(
        model=MODEL, input="The moon pulls the tides.", encoding_format="base64"
    ).http_response.json()
    decoded = np.frombuffer(base64.b64decode(raw["data"][0]["embedding"]), dtype="<f4")
    assert np.allclose(decoded, vector, atol=1e-6)
    # Left unset, the SDK asks for base64 and decodes it itself, after validating: its
    # strict mode would refuse the string it asked for, so this client is a default one.
    default = OpenAI(base_url=f"{gateway.base_url}/v1", api_key=secret, max_retries=0)
    plain = default.embeddings.create(model=MODEL, input="The moon pulls the tides.")
    assert np.allclose(plain.data[0].embedding, vector, atol=1e-6)
    # billed per input token at the model's price ($0.02 per 1M)
    rows_ = gateway.ledger(key_id, wait_for=7)
    first = rows_[-1]
    assert first["model"] == MODEL and first["input_tokens"] == one.usage.prompt_tokens > 0
    assert Decimal(first["cost_usd"]) == Decimal("0.00000002") * first["input_tokens"]


def test_base64_through_the_sdk_equals_float(gateway: Gateway) -> None:
    """The SDK's two base64 paths give back exactly the float reply's numbers: asked for
    by name, `embedding` is the string as OpenAI sends it (the SDK leaves it alone);
    left unset, the SDK asks for base64 and decodes it to floats itself."""
    _, secret = gateway.key()
    client = OpenAI(base_url=f"{gateway.base_url}/v1", api_key=secret, max_retries=0)
    texts = ["Tides follow the moon.", "Bread rises in a warm room.", "Löwe 🦁 über"]
    for dimensions in (None, 48):
        extra: dict[str, Any] = {} if dimensions is None else {"dimensions": dimensions}
        floats = client.embeddings.create(model=MODEL, input=texts, **FLOAT, **extra)
        named = client.embeddings.create(
            model=MODEL, input=texts, encoding_format="base64", **extra
        )
        decoded_by_sdk = client.embeddings.create(model=MODEL, input=texts, **extra)
        for f, b, d in zip(floats.data, named.data, decoded_by_sdk.data, strict=True):
            assert isinstance(b.embedding, str)  # as OpenAI's: the caller decodes it
            ours = np.frombuffer(base64.b64decode(b.embedding), dtype="<f4").tolist()
            assert ours == f.embedding == d.embedding  # float32 both ways: bit for bit
            assert len(f.embedding) == (dimensions or 256)
        assert named.usage == floats.usage == decoded_by_sdk.usage


def test_upstream_channel_with_failover(gateway: Gateway, standin: UpstreamProcess) -> None:
    key_id, secret = gateway.key()
    client = gateway.sdk(secret)
    reply = client.embeddings.create(
        model="text-embedding-3-small", input=["a b", "c"], encoding_format="float"
    )
    assert [d.embedding for d in reply.data] == [[3.0, 1.0, 0.0], [1.0, 1.0, 1.0]]
    assert reply.usage.prompt_tokens == 3
    (row,) = gateway.ledger(key_id, wait_for=1)
    assert row["channel"] == "embed-ok" and row["input_tokens"] == 3


@pytest.mark.parametrize(
    ("kwargs", "error"),
    [
        ({"model": "no-such-embedder", "input": "x"}, openai.NotFoundError),
        ({"model": MODEL, "input": "x", "dimensions": 512}, openai.BadRequestError),
        ({"model": MODEL, "input": []}, openai.BadRequestError),
        ({"model": MODEL, "input": [[99999999]]}, openai.BadRequestError),
        ({"model": MODEL, "input": ""}, openai.BadRequestError),
        ({"model": MODEL, "input": "x", "encoding_format": "hex"}, openai.BadRequestError),
        ({"model": MODEL, "input": "x", "dimensions": 0}, openai.BadRequestError),
    ],
)
def test_bad_input_is_refused(
    gateway: Gateway, kwargs: dict[str, object], error: type[Exception]
) -> None:
    _, secret = gateway.key()
    with pytest.raises(error):
        gateway.sdk(secret).embeddings.create(**{**FLOAT, **kwargs})  # type: ignore[arg-type]
