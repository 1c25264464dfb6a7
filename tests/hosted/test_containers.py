"""`/v1/containers` and their files through the openai SDK's own `client.containers.*`, on
PostgreSQL (SQLite where it cannot start; tests/hosted/test_hosted_code_interpreter.py uses
containers on SQLite): create, list (paged), retrieve, delete; upload (multipart, and by
the id of a /v1/files file), list, retrieve, content, delete. Another user's container is a
404; an oversize upload is a 413; a container idle past its time reads `expired` (the idle
time is configured short here: a fraction of a minute, not OpenAI's 20)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import openai
import pytest
from openai import OpenAI

from tests.support.gateway_support import admin_http, services, shared_env
from tests.support.owners import other_user_client
from tests.support.server import ServerProcess, make_client

IDLE_SECONDS = 3
CONFIG = (
    "[code_interpreter]\n"
    f"idle_minutes = {IDLE_SECONDS / 60}\n"
    "max_file_bytes = 65536\n"  # an upload past it is refused
)


@pytest.fixture(scope="module")
def front(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    root = tmp_path_factory.mktemp("containers")
    config = root / "thinkgate.toml"
    config.write_text(CONFIG)
    try:
        env = shared_env(services())
    except pytest.skip.Exception:  # no PostgreSQL here: the same tests on SQLite
        env = {}
    process = ServerProcess(root / "data", config=config, extra_env=env)
    yield process
    process.stop()


@pytest.fixture(scope="module")
def client(front: ServerProcess) -> OpenAI:
    return make_client(front.base_url)


def test_create_retrieve_list_and_delete_with_the_sdk(client: OpenAI) -> None:
    made = client.containers.create(
        name="analysis", expires_after={"anchor": "last_active_at", "minutes": 5}
    )
    assert made.id.startswith("cntr_") and made.object == "container"
    assert made.status == "running" and made.name == "analysis"
    assert made.expires_after is not None and made.expires_after.minutes == 5
    assert made.memory_limit == "1g"
    assert client.containers.retrieve(made.id).id == made.id
    others = [client.containers.create(name=f"c{n}", memory_limit="4g") for n in range(3)]
    assert others[0].memory_limit == "4g"
    first = client.containers.list(limit=2, order="asc")
    assert len(first.data) == 2 and first.has_more
    ids = [c.id for c in client.containers.list(order="asc", limit=2)]  # every page
    assert ids.index(made.id) < ids.index(others[-1].id)
    assert [c.id for c in client.containers.list(name="c1").data] == [others[1].id]
    assert client.containers.delete(made.id) is None
    with pytest.raises(openai.NotFoundError):
        client.containers.retrieve(made.id)


def test_files_upload_list_content_and_delete(client: OpenAI, front: ServerProcess) -> None:
    container = client.containers.create(name="files")
    uploaded = client.containers.files.create(
        container.id, file=("data.csv", b"a,b\n1,2\n", "text/csv")
    )
    assert uploaded.object == "container.file" and uploaded.source == "user"
    assert uploaded.path == "/mnt/data/data.csv" and uploaded.bytes == 8
    assert uploaded.container_id == container.id
    # by the id of a /v1/files file, where that API is served
    stored = client.files.create(file=("notes.txt", b"hello"), purpose="user_data")
    copied = client.containers.files.create(container.id, file_id=stored.id)
    assert copied.path == "/mnt/data/notes.txt" and copied.bytes == 5
    listed = client.containers.files.list(container.id, order="asc")
    assert [f.id for f in listed.data] == [uploaded.id, copied.id]
    got = client.containers.files.retrieve(copied.id, container_id=container.id)
    assert got.path == copied.path
    content = client.containers.files.content.retrieve(uploaded.id, container_id=container.id)
    assert content.read() == b"a,b\n1,2\n"
    client.containers.files.delete(uploaded.id, container_id=container.id)
    assert [f.id for f in client.containers.files.list(container.id).data] == [copied.id]
    with pytest.raises(openai.NotFoundError):
        client.containers.files.content.retrieve(uploaded.id, container_id=container.id)


def test_another_users_container_is_not_found(client: OpenAI, front: ServerProcess) -> None:
    mine = client.containers.create(name="mine")
    upload = client.containers.files.create(mine.id, file=("a.txt", b"secret"))
    with admin_http(front.base_url) as http:
        stranger = other_user_client(front.base_url, http)
    for attempt in (
        lambda: stranger.containers.retrieve(mine.id),
        lambda: stranger.containers.delete(mine.id),
        lambda: stranger.containers.files.list(mine.id),
        lambda: stranger.containers.files.content.retrieve(upload.id, container_id=mine.id),
        lambda: stranger.containers.files.create(mine.id, file=("b.txt", b"x")),
    ):
        with pytest.raises(openai.NotFoundError) as refused:
            attempt()
        assert refused.value.body["param"] == "container_id"  # type: ignore[index]
    assert mine.id not in [c.id for c in stranger.containers.list().data]
    assert client.containers.retrieve(mine.id).status == "running"


def test_bad_input_is_refused_in_openai_words(client: OpenAI, front: ServerProcess) -> None:
    container = client.containers.create(name="limits")
    with pytest.raises(openai.APIStatusError) as too_big:
        client.containers.files.create(container.id, file=("big.bin", b"x" * 70_000))
    assert too_big.value.status_code == 413
    assert too_big.value.body["code"] == "file_too_large"  # type: ignore[index]
    assert client.containers.files.list(container.id).data == []  # nothing half-kept
    with pytest.raises(openai.NotFoundError):
        client.containers.retrieve("cntr_unknown")
    with pytest.raises(openai.NotFoundError):
        client.containers.files.create(container.id, file_id="file-unknown")
    with pytest.raises(openai.BadRequestError) as no_name:
        client.post("/containers", body={}, cast_to=httpx.Response)
    assert no_name.value.body["param"] == "name"  # type: ignore[index]
    with pytest.raises(openai.BadRequestError):
        client.containers.create(name="net", network_policy={"type": "allowlist"})  # type: ignore[typeddict-item]
    with pytest.raises(openai.BadRequestError):
        client.containers.create(name="long", expires_after={"anchor": "created_at", "minutes": 1})  # type: ignore[typeddict-item]


def test_an_idle_container_expires_and_its_files_go(client: OpenAI, front: ServerProcess) -> None:
    container = client.containers.create(name="short-lived")
    client.containers.files.create(container.id, file=("x.txt", b"x"))
    directory = Path(front.data_dir) / "containers" / container.id
    assert directory.is_dir()
    deadline = time.monotonic() + 60
    while client.containers.retrieve(container.id).status != "expired":
        assert time.monotonic() < deadline, "never expired"
        time.sleep(0.5)
    assert not directory.exists()  # its files are removed
    assert client.containers.files.list(container.id).data == []
    with pytest.raises(openai.BadRequestError) as expired:
        client.containers.files.create(container.id, file=("y.txt", b"y"))
    assert expired.value.body["code"] == "container_expired"  # type: ignore[index]
