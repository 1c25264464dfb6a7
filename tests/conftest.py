"""One real server per test session, driven by the official openai SDK."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from openai import OpenAI

from tests.key_hygiene import pytest_sessionfinish  # noqa: F401 - fails a run that logged a key
from tests.server import ADMIN_KEY, ServerProcess
from tests.upstreams import UpstreamProcess, start_standin


@pytest.fixture(scope="session")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    process = ServerProcess(tmp_path_factory.mktemp("thinkgate") / "data")
    yield process
    process.stop()


def make_client(base_url: str, api_key: str = ADMIN_KEY) -> OpenAI:
    return OpenAI(
        base_url=f"{base_url}/v1",
        api_key=api_key,
        max_retries=0,
        timeout=120,
        _strict_response_validation=True,
    )


@pytest.fixture(scope="session")
def client(server: ServerProcess) -> OpenAI:
    return make_client(server.base_url)


@pytest.fixture(scope="session")
def http(server: ServerProcess) -> Iterator[httpx.Client]:
    """Raw HTTP for what the SDK will not send (malformed bodies, wrong types)."""
    with httpx.Client(
        base_url=server.base_url,
        headers={"Authorization": f"Bearer {ADMIN_KEY}"},
        timeout=120,
    ) as session:
        yield session


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    return tmp_path / "data"


@pytest.fixture(scope="module")
def standin(tmp_path_factory: pytest.TempPathFactory) -> Iterator[UpstreamProcess]:
    """The misbehaving OpenAI-compatible stand-in upstream, one per test module (its
    behaviours are chosen per request through the model name)."""
    process = start_standin(tmp_path_factory.mktemp("standin"))
    yield process
    process.stop()
