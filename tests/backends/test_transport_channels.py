"""A channel on each transport, end to end: the real server, a stand-in upstream, the SDK
(the transports' own rules are tests/backends/test_transports.py)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from openai import OpenAI

from tests.support.config import channel, write_config
from tests.support.server import ServerProcess, make_client
from tests.support.standin_upstream import TEXT
from tests.support.upstreams import UpstreamProcess


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory, standin: UpstreamProcess) -> Iterator[OpenAI]:
    root: Path = tmp_path_factory.mktemp("transports")
    channels = [
        channel(
            f"on-{k}", standin.base_url, {f"fast-{k}": f"ok:{k}"}, transport=k, timeouts={"idle": 5}
        )
        for k in ("http1", "httpx")
    ]
    config = write_config(root / "thinkgate.toml", *channels)
    server = ServerProcess(root / "data", config=config)
    try:
        yield make_client(server.base_url)
    finally:
        server.stop()


@pytest.mark.parametrize("kind", ["http1", "httpx"])
def test_a_channel_answers_on_each_transport(client: OpenAI, kind: str) -> None:
    for _ in range(2):  # the second on a kept-alive connection
        response = client.responses.create(model=f"fast-{kind}", input="Say hello.")
        assert response.output_text == "".join(TEXT)
        assert (
            response.usage is not None and response.usage.input_tokens_details.cached_tokens == 32
        )
    with client.responses.stream(model=f"fast-{kind}", input="Say hello.") as stream:
        streamed = "".join(e.delta for e in stream if e.type == "response.output_text.delta")
    assert streamed == "".join(TEXT)
