"""`/v1/files` through the openai SDK (strict types), on SQLite and on PostgreSQL: upload,
list with its filters and pages, retrieve, content, delete; owners kept apart; bad uploads
answered with clear errors."""

from __future__ import annotations

import httpx
import openai
import pytest

from tests.support.gateway_support import Gateway, gateway_fixture  # noqa: F401 - the fixture

BIG = bytes(range(256)) * (10 * 1024 + 7)  # 2.5 MiB: several stored parts


def test_upload_list_retrieve_content_delete(gateway: Gateway) -> None:
    _, secret = gateway.key()
    client = gateway.sdk(secret)
    notes = client.files.create(file=("notes.md", b"# Notes\n\nhello"), purpose="assistants")
    blob = client.files.create(file=("dir/blob.txt", BIG), purpose="user_data")
    assert (notes.object, notes.purpose, notes.bytes, notes.filename) == (
        "file",
        "assistants",
        14,
        "notes.md",
    )
    assert notes.id.startswith("file-") and blob.filename == "blob.txt"  # no client path
    assert client.files.retrieve(blob.id) == blob
    assert client.files.content(blob.id).read() == BIG

    listed = client.files.list()
    assert [f.id for f in listed.data] == [blob.id, notes.id]  # newest first
    assert [f.id for f in client.files.list(purpose="assistants")] == [notes.id]
    first = client.files.list(order="asc", limit=1)
    assert [f.id for f in first.data] == [notes.id] and first.has_more
    assert [f.id for f in first.get_next_page().data] == [blob.id]

    deleted = client.files.delete(notes.id)
    assert (deleted.id, deleted.deleted, deleted.object) == (notes.id, True, "file")
    with pytest.raises(openai.NotFoundError):
        client.files.retrieve(notes.id)
    assert [f.id for f in client.files.list()] == [blob.id]


def test_expiring_file(gateway: Gateway) -> None:
    _, secret = gateway.key()
    client = gateway.sdk(secret)
    made = client.files.create(
        file=("a.txt", b"x"),
        purpose="batch",
        expires_after={"anchor": "created_at", "seconds": 3600},
    )
    assert made.expires_at == made.created_at + 3600
    with pytest.raises(openai.BadRequestError) as error:
        client.files.create(
            file=("a.txt", b"x"),
            purpose="batch",
            expires_after={"anchor": "created_at", "seconds": 60},
        )
    assert error.value.param == "expires_after.seconds"


def test_two_users_never_see_each_others_files(gateway: Gateway) -> None:
    _, alice_key = gateway.key()
    _, bob_key = gateway.key()
    alice, bob = gateway.sdk(alice_key), gateway.sdk(bob_key)
    secret = alice.files.create(file=("secret.txt", b"alice only"), purpose="user_data")
    assert secret.id not in [f.id for f in bob.files.list()]
    for call in (bob.files.retrieve, bob.files.content, bob.files.delete):
        with pytest.raises(openai.NotFoundError):
            call(secret.id)
    assert alice.files.content(secret.id).read() == b"alice only"  # still there


def test_bad_uploads_are_clear_errors(gateway: Gateway) -> None:
    _, secret = gateway.key()
    client = gateway.sdk(secret)
    with pytest.raises(openai.BadRequestError) as empty:
        client.files.create(file=("empty.txt", b""), purpose="assistants")
    assert empty.value.code == "empty_file"
    with pytest.raises(openai.BadRequestError) as purpose:
        client.files.create(file=("a.txt", b"x"), purpose="nonsense")  # type: ignore[arg-type]
    assert purpose.value.param == "purpose"
    auth = {"Authorization": f"Bearer {secret}"}
    no_file = httpx.post(
        f"{gateway.base_url}/v1/files", data={"purpose": "assistants"}, headers=auth
    )
    assert no_file.status_code == 400 and no_file.json()["error"]["param"] == "file"
    as_json = httpx.post(f"{gateway.base_url}/v1/files", json={"purpose": "x"}, headers=auth)
    assert as_json.status_code == 400
    assert client.files.list().data == []  # nothing half-stored
