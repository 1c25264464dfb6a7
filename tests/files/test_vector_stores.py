"""`/v1/vector_stores`, its files and file batches through the openai SDK (strict types),
on SQLite, on PostgreSQL and on PostgreSQL with pgvector: the lifecycle, background
ingestion with its statuses and counts, bad files failed with `last_error` (never a store
reported completed with a file half-indexed), and owners kept apart."""

from __future__ import annotations

import time
from decimal import Decimal

import openai
import pytest
from openai import OpenAI

from tests.support.files_support import docx_with_text, docx_zip_bomb, pdf_with_text
from tests.support.gateway_support import Gateway, admin_http, services, shared_env
from tests.support.retrieval_support import vector_gateway_fixture  # noqa: F401 - the fixture
from tests.support.server import ServerProcess, make_client

FACTS = "Freedonia's capital is Fredville. Its river is the Blue Snake. " * 120


def _upload(client: OpenAI, name: str, data: bytes) -> str:
    return client.files.create(file=(name, data), purpose="assistants").id


def test_vector_store_lifecycle(gateway: Gateway) -> None:
    _, secret = gateway.key()
    client = gateway.sdk(secret)
    facts = _upload(client, "facts.md", FACTS.encode())
    store = client.vector_stores.create(
        name="kb",
        file_ids=[facts, facts],  # named twice: attached once
        chunking_strategy={
            "type": "static",
            "static": {"max_chunk_size_tokens": 200, "chunk_overlap_tokens": 50},
        },
        metadata={"team": "geo"},
        expires_after={"anchor": "last_active_at", "days": 7},
    )
    assert (store.object, store.name, store.metadata) == ("vector_store", "kb", {"team": "geo"})
    assert store.expires_at == store.last_active_at + 7 * 86400
    assert store.file_counts.total == 1

    done = client.vector_stores.files.poll(facts, vector_store_id=store.id)  # header paced
    assert done.status == "completed" and done.last_error is None and done.usage_bytes > 0
    assert done.chunking_strategy is not None and done.chunking_strategy.type == "static"
    assert done.chunking_strategy.static.max_chunk_size_tokens == 200
    shown = client.vector_stores.retrieve(store.id)
    assert shown.status == "completed" and shown.usage_bytes == done.usage_bytes
    assert (shown.file_counts.completed, shown.file_counts.in_progress) == (1, 0)
    content = list(client.vector_stores.files.content(facts, vector_store_id=store.id))
    assert content[0].text is not None and "Fredville" in content[0].text

    updated = client.vector_stores.files.update(
        facts, vector_store_id=store.id, attributes={"region": "north", "year": 2024, "ok": True}
    )
    assert updated.attributes == {"region": "north", "year": 2024, "ok": True}
    renamed = client.vector_stores.update(store.id, name="kb2", metadata={"team": "maps"})
    assert (renamed.name, renamed.metadata) == ("kb2", {"team": "maps"})
    assert store.id in [s.id for s in client.vector_stores.list()]
    listed = client.vector_stores.files.list(store.id, filter="completed")
    assert [f.id for f in listed] == [facts]
    assert list(client.vector_stores.files.list(store.id, filter="failed")) == []

    removed = client.vector_stores.files.delete(facts, vector_store_id=store.id)
    assert (removed.deleted, removed.object) == (True, "vector_store.file.deleted")
    assert client.vector_stores.retrieve(store.id).file_counts.total == 0
    gone = client.vector_stores.delete(store.id)
    assert (gone.deleted, gone.object) == (True, "vector_store.deleted")
    with pytest.raises(openai.NotFoundError):
        client.vector_stores.retrieve(store.id)


def test_formats_and_bad_files_in_a_batch(gateway: Gateway) -> None:
    """Each format extracted; each bad file `failed` with its reason, the rest indexed."""
    _, secret = gateway.key()
    client = gateway.sdk(secret)
    store = client.vector_stores.create(name="formats")
    batch = client.vector_stores.file_batches.upload_and_poll(
        store.id,
        files=[
            ("page.html", b"<html><script>x()</script><p>Hello <b>HTML</b></p></html>"),
            ("data.json", b'{"city": "Fredville"}'),
            ("code.py", b"def fredville():\n    return 1\n"),
            ("paper.pdf", pdf_with_text(["Fredville lies on the Blue Snake."])),
            ("memo.docx", docx_with_text(["Fredville memo", "second paragraph"])),
            ("fake.pdf", b"this is not a PDF at all"),
            ("bomb.docx", docx_zip_bomb()),
            ("tool.exe", b"MZ\x90\x00binary"),
            ("blank.txt", b"   \n\n  "),
        ],
        poll_interval_ms=100,
    )
    assert batch.status == "completed" and batch.object == "vector_store.files_batch"
    counts = batch.file_counts
    assert (counts.completed, counts.failed, counts.in_progress, counts.total) == (5, 4, 0, 9)
    failed = list(client.vector_stores.file_batches.list_files(
        batch.id, vector_store_id=store.id, filter="failed"
    ))  # fmt: skip
    names = {f.id: client.files.retrieve(f.id).filename for f in failed}
    errors = {names[f.id]: f.last_error for f in failed}
    assert set(errors) == {"fake.pdf", "bomb.docx", "tool.exe", "blank.txt"}
    assert errors["tool.exe"] is not None and errors["tool.exe"].code == "unsupported_file"
    assert errors["fake.pdf"] is not None and "not a PDF" in errors["fake.pdf"].message
    assert errors["bomb.docx"] is not None and "zip bomb" in errors["bomb.docx"].message
    assert all(f.usage_bytes == 0 for f in failed)
    shown = client.vector_stores.retrieve(store.id)
    assert shown.status == "completed"
    assert (shown.file_counts.completed, shown.file_counts.failed) == (5, 4)
    for item in client.vector_stores.files.list(store.id, filter="completed"):
        text = list(client.vector_stores.files.content(item.id, vector_store_id=store.id))
        assert text and text[0].text and "script" not in text[0].text


def test_batch_cancel(gateway: Gateway) -> None:
    _, secret = gateway.key()
    client = gateway.sdk(secret)
    store = client.vector_stores.create(name="cancel")
    ids = [_upload(client, f"f{n}.txt", (FACTS * 20).encode()) for n in range(4)]
    batch = client.vector_stores.file_batches.create(store.id, file_ids=[*ids, ids[0]])
    cancelled = client.vector_stores.file_batches.cancel(batch.id, vector_store_id=store.id)
    assert cancelled.status == "cancelled" and cancelled.file_counts.in_progress == 0
    statuses = {
        f.status
        for f in client.vector_stores.file_batches.list_files(batch.id, vector_store_id=store.id)
    }
    assert statuses <= {"cancelled", "completed"}
    again = client.vector_stores.file_batches.retrieve(batch.id, vector_store_id=store.id)
    assert again.file_counts.cancelled + again.file_counts.completed == 4


def test_other_users_store_and_files_are_not_found(gateway: Gateway) -> None:
    _, alice_key = gateway.key()
    _, bob_key = gateway.key()
    alice, bob = gateway.sdk(alice_key), gateway.sdk(bob_key)
    alice_file = _upload(alice, "a.txt", b"alice's words")
    store = alice.vector_stores.create(name="alice", file_ids=[alice_file])
    bob_file = _upload(bob, "b.txt", b"bob's words")
    bob_store = bob.vector_stores.create(name="bob")
    calls = [
        lambda: bob.vector_stores.retrieve(store.id),
        lambda: bob.vector_stores.update(store.id, name="mine"),
        lambda: bob.vector_stores.delete(store.id),
        lambda: bob.vector_stores.files.create(vector_store_id=store.id, file_id=bob_file),
        lambda: bob.vector_stores.files.list(store.id),
        lambda: bob.vector_stores.files.retrieve(alice_file, vector_store_id=store.id),
        lambda: bob.vector_stores.files.delete(alice_file, vector_store_id=store.id),
        lambda: bob.vector_stores.file_batches.create(store.id, file_ids=[bob_file]),
        lambda: bob.vector_stores.files.create(vector_store_id=bob_store.id, file_id=alice_file),
        lambda: bob.vector_stores.create(name="x", file_ids=[alice_file]),
    ]
    for call in calls:
        with pytest.raises(openai.NotFoundError):
            call()
    assert store.id not in [s.id for s in bob.vector_stores.list()]
    assert [s.name for s in bob.vector_stores.list()] == ["bob"]
    assert alice.vector_stores.retrieve(store.id).name == "alice"


def test_bad_requests(gateway: Gateway) -> None:
    _, secret = gateway.key()
    client = gateway.sdk(secret)
    store = client.vector_stores.create(name="bad")
    file_id = _upload(client, "a.txt", b"words")
    with pytest.raises(openai.BadRequestError) as overlap:
        client.vector_stores.files.create(
            vector_store_id=store.id,
            file_id=file_id,
            chunking_strategy={
                "type": "static",
                "static": {"max_chunk_size_tokens": 100, "chunk_overlap_tokens": 60},
            },
        )
    assert "chunk_overlap_tokens" in overlap.value.message
    with pytest.raises(openai.BadRequestError):
        client.vector_stores.files.create(
            vector_store_id=store.id,
            file_id=file_id,
            attributes={"k": ["no", "lists"]},  # type: ignore[dict-item]
        )
    with pytest.raises(openai.BadRequestError):
        client.vector_stores.file_batches.create(
            store.id, file_ids=[file_id], files=[{"file_id": file_id}]
        )
    with pytest.raises(openai.BadRequestError):
        client.vector_stores.create(name="x", extra_body={"unknown": 1})
    with pytest.raises(openai.NotFoundError):
        client.vector_stores.files.create(vector_store_id=store.id, file_id="file-missing")
    with pytest.raises(openai.BadRequestError):  # PostgreSQL text holds no NUL: a 400
        client.vector_stores.create(name="nul\x00name")
    with pytest.raises(openai.NotFoundError):
        client.vector_stores.retrieve("vs_\x00")
    assert client.files.list(purpose="x\x00").data == []
    assert client.vector_stores.retrieve(store.id).file_counts.total == 0


@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
def test_ingestion_interrupted_by_a_restart_finishes_after_it(
    backend: str, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """The server is killed (no clean stop) while the file is in progress; the next one
    (SQLite: the same process's successor; PostgreSQL: once the dead lease lapses)
    finishes it. Then the limits and the storage use of the same server."""
    root = tmp_path_factory.mktemp(f"restart-{backend}")
    env = {}
    if backend == "postgres":
        env = {**shared_env(services()), "THINKGATE_JOB_LEASE_SECONDS": "2"}
    config = root / "thinkgate.toml"
    config.write_text(
        "[files]\nmax_file_bytes = 4000000\nmax_files_per_owner = 3\nmax_files_per_key = 2\n"
        "free_storage_bytes = 0\nfile_storage_price_per_gb_day = 1000000\n"
    )
    server = ServerProcess(root / "data", extra_env=env, config=config)
    try:
        with admin_http(server.base_url) as http:
            admin = Gateway(server.base_url, http)
            key_id, secret = admin.key()
            _, other_secret = admin.key(user_id=admin.show(key_id)["user_id"])
        client = make_client(server.base_url, secret)
        big = (FACTS * 400).encode()  # 3 MB: seconds of chunking and indexing
        file_id = _upload(client, "big.txt", big)
        store = client.vector_stores.create(name="restart", file_ids=[file_id])
        _wait_for_log(server, f"ingesting {file_id}")  # claimed: under way
        assert client.vector_stores.files.retrieve(file_id, vector_store_id=store.id).status == (
            "in_progress"
        )
    finally:
        server.process.kill()  # no shutdown: leases and rows as a crash leaves them
        server.process.wait()
        server.stop()
    restarted = ServerProcess(root / "data", extra_env=env, config=config)
    try:
        done = client_for(restarted, secret).vector_stores.files.poll(
            file_id, vector_store_id=store.id, poll_interval_ms=200
        )
        assert done.status == "completed", done.last_error
        if backend == "sqlite":  # alone on its database: took it over at once
            assert "resuming 1 vector store file(s)" in restarted.log()
        client = client_for(restarted, secret)
        shown = client.vector_stores.retrieve(store.id)
        assert (shown.status, shown.file_counts.completed) == ("completed", 1)
        _check_limits(client, client_for(restarted, other_secret))
        _check_storage_use(restarted, key_id, len(big), shown.usage_bytes)
    finally:
        restarted.stop()


def _wait_for_log(server: ServerProcess, text: str) -> None:
    deadline = time.monotonic() + 60
    while text not in server.log():
        assert time.monotonic() < deadline, f"{text!r} never logged"
        time.sleep(0.05)


def client_for(server: ServerProcess, secret: str) -> OpenAI:
    return make_client(server.base_url, secret)


def _check_limits(client: OpenAI, same_user: OpenAI) -> None:
    """4 MB a file; 2 files a key; 3 files a user (two keys of one user here)."""
    with pytest.raises(openai.APIStatusError) as too_big:
        client.files.create(file=("big.txt", b"x" * 4_000_001), purpose="assistants")
    assert too_big.value.status_code == 413 and too_big.value.code == "file_too_large"
    client.files.create(file=("second.txt", b"x"), purpose="assistants")  # the key's 2nd
    with pytest.raises(openai.BadRequestError) as key_full:
        client.files.create(file=("third.txt", b"x"), purpose="assistants")
    assert key_full.value.code == "file_count_limit_exceeded"
    assert "API key" in key_full.value.message
    same_user.files.create(file=("third.txt", b"x"), purpose="assistants")  # the user's 3rd
    with pytest.raises(openai.BadRequestError) as user_full:
        same_user.files.create(file=("fourth.txt", b"x"), purpose="assistants")
    assert user_full.value.code == "file_count_limit_exceeded"
    assert "Your files" in user_full.value.message


def _check_storage_use(server: ServerProcess, key_id: str, file_bytes: int, used: int) -> None:
    with admin_http(server.base_url) as http:
        owner = http.get(f"/admin/v1/keys/{key_id}").json()["user_id"]
        reply = http.get("/admin/v1/storage_usage", params={"owner": owner})
    assert reply.status_code == 200, reply.text
    [today] = reply.json()["data"]
    assert (today["vector_store_bytes"], today["file_bytes"]) == (used, file_bytes + 2)
    assert Decimal(today["file_gb_days"]) > 0 and Decimal(today["cost_usd"]) > 0
