"""Keys stay secret and roles hold: no key in error bodies or server logs, and every admin
operation in the OpenAPI document refuses a member's key (403) and no key (401)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support.key_hygiene import leaked_keys
from tests.support.server import ADMIN_KEY, ServerProcess
from thinkgate.app import create_app
from thinkgate.config import Settings

ADMIN_ONLY = ("/admin/v1/", "/v1/internal/")


def _admin_operations() -> list[tuple[str, str]]:
    paths = create_app(Settings()).openapi()["paths"]
    return [
        (method.upper(), path)
        for path, methods in paths.items()
        if path.startswith(ADMIN_ONLY)
        for method in methods
    ]


@pytest.fixture(scope="module")
def member_key(http: httpx.Client) -> str:
    user = http.post("/admin/v1/users", json={"name": "hygiene-member", "role": "member"})
    assert user.status_code == 201, user.text
    key = http.post("/admin/v1/keys", json={"name": "member", "user_id": user.json()["id"]})
    assert key.status_code == 201, key.text
    secret: str = key.json()["key"]
    return secret


def test_log_scanner_finds_keys_and_ignores_masked_ones(tmp_path: Path) -> None:
    (tmp_path / "planted-1.log").write_text(
        "INFO ok\nwarning: key sk-***abcd refused\nprefix sk-tg-AbCdEfGh shown\n"
    )
    assert leaked_keys(tmp_path, "planted-*.log") == []  # not server-*: the run would fail
    (tmp_path / "nested").mkdir()
    (tmp_path / "nested" / "planted-2.log").write_text(f"debug Authorization: Bearer {ADMIN_KEY}\n")
    (hit,) = leaked_keys(tmp_path, "planted-*.log")
    assert hit.endswith("planted-2.log:1: sk-te…ef")
    assert ADMIN_KEY not in hit


@pytest.mark.parametrize(("method", "path"), _admin_operations())
def test_admin_operations_refuse_members(
    server: ServerProcess, member_key: str, method: str, path: str
) -> None:
    url = server.base_url + path.replace("{key_id}", "key_missing")
    body: dict[str, Any] = {"name": "x"}
    member = httpx.request(
        method, url, headers={"Authorization": f"Bearer {member_key}"}, json=body, timeout=30
    )
    assert member.status_code == 403, member.text
    assert member.json()["error"]["code"] == "insufficient_permissions"
    assert httpx.request(method, url, json=body, timeout=30).status_code == 401


def test_there_are_admin_operations_to_check() -> None:
    assert len(_admin_operations()) >= 8


@pytest.mark.parametrize(
    "presented",
    [
        "sk-tg-" + "A" * 43,  # shaped like a real key, unknown
        "sk-" + "x" * 60,
        ADMIN_KEY + "x",
    ],
)
def test_error_bodies_never_echo_a_presented_key(server: ServerProcess, presented: str) -> None:
    reply = httpx.get(
        f"{server.base_url}/v1/models", headers={"Authorization": f"Bearer {presented}"}
    )
    assert reply.status_code == 401
    assert presented not in reply.text
    assert presented[6:20] not in reply.text


def test_revoked_key_error_does_not_echo_it(http: httpx.Client, server: ServerProcess) -> None:
    created = http.post("/admin/v1/keys", json={"name": "to-revoke", "role": "admin"}).json()
    assert http.delete(f"/admin/v1/keys/{created['id']}").status_code == 200
    reply = httpx.get(
        f"{server.base_url}/v1/models", headers={"Authorization": f"Bearer {created['key']}"}
    )
    assert reply.status_code == 401
    assert created["key"] not in reply.text


def test_key_listings_never_show_secrets(http: httpx.Client, member_key: str) -> None:
    listing = http.get("/admin/v1/keys").text
    assert member_key not in listing and member_key[6:20] not in listing


def test_this_servers_log_has_no_key_so_far(server: ServerProcess, member_key: str) -> None:
    """The session-end check covers every log; this one fails next to its cause."""
    httpx.get(f"{server.base_url}/v1/models", headers={"Authorization": f"Bearer {member_key}"})
    httpx.get(f"{server.base_url}/v1/models", headers={"Authorization": "Bearer sk-" + "z" * 40})
    assert leaked_keys(server.log_path.parent) == []
