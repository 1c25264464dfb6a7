"""One real server per test session, driven by the official openai SDK."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from openai import OpenAI

from tests.support.gateway_support import services, shared_env
from tests.support.key_hygiene import pytest_sessionfinish  # noqa: F401 - fails a run that logged a key
from tests.support.server import ADMIN_KEY, STARTS, ServerProcess, SharedServers, make_client
from tests.support.upstreams import UpstreamProcess, start_standin


@pytest.fixture(scope="session")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    process = ServerProcess(tmp_path_factory.mktemp("thinkgate") / "data")
    yield process
    process.stop()


@pytest.fixture(scope="session")
def pg_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    """The default config on PostgreSQL + Redis, one for the session: the same config in
    every module, so, like the SQLite `server`, one process that modules share (each test
    makes its own users and keys, so no test sees another's rows)."""
    env = shared_env(services())
    process = ServerProcess(tmp_path_factory.mktemp("gw-pg") / "data", extra_env=env)
    yield process
    process.stop()


@pytest.fixture(scope="session")
def pgvector_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    """The default config on PostgreSQL with pgvector (no Redis), for the vector store
    tests (tests/support/retrieval_support.py); skips, saying why, where there is none."""
    from tests.support.retrieval_support import pgvector_env

    env = pgvector_env()
    process = ServerProcess(tmp_path_factory.mktemp("gw-pgvector") / "data", extra_env=env)
    yield process
    process.stop()


@pytest.fixture(scope="session")
def shared_servers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SharedServers]:
    """Servers shared across modules, one per distinct config (`SharedServers.get`)."""
    shared = SharedServers(tmp_path_factory.mktemp("shared"))
    yield shared
    shared.stop()


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


@pytest.fixture(scope="session")
def standin(tmp_path_factory: pytest.TempPathFactory) -> Iterator[UpstreamProcess]:
    """The misbehaving OpenAI-compatible stand-in upstream, one for the session (its
    behaviours are chosen per request through the model name; a module that reads its
    counters compares them before and after, or starts a stand-in of its own)."""
    process = start_standin(tmp_path_factory.mktemp("standin"))
    yield process
    process.stop()


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """How many server processes the run started: each costs seconds, so the count is a
    figure worth watching (one server per distinct config is the aim)."""
    counts = ", ".join(f"{kind} {n}" for kind, n in sorted(STARTS.items()))
    terminalreporter.write_line(f"server processes started: {counts or 'none'}")
