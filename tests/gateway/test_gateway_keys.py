"""Users and keys: lifecycle, expiry, model allow-list, IP allow-list, revocation, admin-only
routes, and the CLI, against the real server (SQLite, then PostgreSQL + Redis)."""

from __future__ import annotations

import json
import time
from pathlib import Path

import httpx
import openai
import pytest
from click.testing import CliRunner

from tests.support.gateway_support import Gateway, admin_http, gateway_fixture  # noqa: F401
from tests.support.server import ADMIN_KEY, ServerProcess, make_client
from thinkgate.cli import main

ASK = {"model": "gpt-5.1", "input": "Say hi.", "max_output_tokens": 16, "temperature": 0}


def test_key_lifecycle_create_use_show_list_revoke(gateway: Gateway) -> None:
    key_id, secret = gateway.key(rpm=1000, models=["gpt-5.1"], budget_usd="5")
    response = gateway.sdk(secret).responses.create(**ASK)
    assert response.usage is not None and response.usage.output_tokens > 0

    shown = gateway.show(key_id)
    assert "key" not in shown  # the secret is shown only at creation
    assert shown["prefix"] == secret[:10]
    assert shown["models"] == ["gpt-5.1"] and shown["budget_usd"] == "5"
    assert shown["last_used_at"] is not None and shown["revoked_at"] is None
    assert shown["spend_usd"] != "0"
    listed = gateway.admin.get("/admin/v1/keys").json()["data"]
    assert key_id in {row["id"] for row in listed}
    assert all("key" not in row for row in listed)

    revoked = gateway.admin.delete(f"/admin/v1/keys/{key_id}")
    assert revoked.status_code == 200 and revoked.json()["revoked"] is True
    with pytest.raises(openai.AuthenticationError) as caught:
        gateway.sdk(secret).responses.create(**ASK)
    assert caught.value.code == "invalid_api_key"
    assert gateway.show(key_id)["revoked_at"] is not None


def test_keys_are_stored_hashed_never_in_the_log(server: ServerProcess) -> None:
    with admin_http(server.base_url) as http:
        _, secret = Gateway(server.base_url, http).key()
    make_client(server.base_url, secret).models.list()
    assert secret not in server.log()
    database = Path(server.data_dir) / "thinkgate.db"
    assert secret.encode() not in database.read_bytes()


def test_expired_key_is_refused(gateway: Gateway) -> None:
    _, past = gateway.key(expires_at=int(time.time()) - 1)
    with pytest.raises(openai.AuthenticationError) as caught:
        gateway.sdk(past).responses.create(**ASK)
    assert caught.value.code == "expired_api_key"
    _, future = gateway.key(expires_at=int(time.time()) + 3600)
    assert gateway.sdk(future).models.list().data


def test_model_allow_list(gateway: Gateway) -> None:
    _, secret = gateway.key(models=["gpt-5.1"])
    with pytest.raises(openai.NotFoundError) as caught:
        gateway.sdk(secret).responses.create(**{**ASK, "model": "smollm2-135m-instruct"})
    assert caught.value.code == "model_not_found"
    assert gateway.sdk(secret).responses.create(**ASK).status in {"completed", "incomplete"}


def test_ip_allow_list(gateway: Gateway) -> None:
    _, elsewhere = gateway.key(ip_allow=["10.0.0.0/8"])
    with pytest.raises(openai.PermissionDeniedError) as caught:
        gateway.sdk(elsewhere).models.list()
    assert caught.value.code == "ip_not_allowed"
    _, here = gateway.key(ip_allow=["127.0.0.1/32"])
    assert gateway.sdk(here).models.list().data


def test_admin_routes_need_an_admin_key(gateway: Gateway) -> None:
    _, member = gateway.key()
    for method, path in [("GET", "/admin/v1/keys"), ("POST", "/admin/v1/users")]:
        reply = httpx.request(
            method,
            f"{gateway.base_url}{path}",
            headers={"Authorization": f"Bearer {member}"},
            json={"name": "x"},
        )
        assert reply.status_code == 403
        assert reply.json()["error"]["type"] == "invalid_request_error"
        assert reply.json()["error"]["code"] == "insufficient_permissions"
    anonymous = httpx.get(f"{gateway.base_url}/admin/v1/keys")
    assert anonymous.status_code == 401


def test_admin_created_admin_user_gets_an_admin_key(gateway: Gateway) -> None:
    _, secret = gateway.key(user_id=gateway.user("admin"))
    reply = httpx.get(
        f"{gateway.base_url}/admin/v1/users", headers={"Authorization": f"Bearer {secret}"}
    )
    assert reply.status_code == 200
    assert {"admin", "member"} <= {user["role"] for user in reply.json()["data"]}


def test_admin_bad_input_is_an_openai_error(gateway: Gateway) -> None:
    cases = [
        ("/admin/v1/users", {"name": "x", "role": "boss"}),
        ("/admin/v1/keys", {"name": "x", "budget_usd": "-1"}),
        ("/admin/v1/keys", {"name": "x", "ip_allow": ["not-an-ip"]}),
        ("/admin/v1/keys", {"name": "x", "user_id": "usr_missing"}),
        ("/admin/v1/keys", {"name": "x", "surprise": 1}),
    ]
    for path, body in cases:
        reply = gateway.admin.post(path, json=body)
        assert reply.status_code == 400, (body, reply.text)
        assert set(reply.json()["error"]) == {"message", "type", "param", "code"}
    missing = gateway.admin.get("/admin/v1/keys/key_missing")
    assert missing.status_code == 404
    assert gateway.admin.delete("/admin/v1/keys/key_missing").status_code == 404


def test_admin_api_is_documented(gateway: Gateway) -> None:
    paths = httpx.get(f"{gateway.base_url}/openapi.json").json()["paths"]
    for path in [
        "/admin/v1/users",
        "/admin/v1/keys",
        "/admin/v1/keys/{key_id}",
        "/admin/v1/requests",
        "/admin/v1/usage",
    ]:
        assert path in paths


def _cli(*args: str, data_dir: Path) -> object:
    """The real command line, in process (one import instead of seven)."""
    result = CliRunner().invoke(
        main, [*args, "--data-dir", str(data_dir)], env={"THINKGATE_ADMIN_KEY": ADMIN_KEY}
    )
    assert result.exit_code == 0, result.output
    return json.loads(result.output)


def test_cli_users_keys_usage(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    user = _cli("users", "create", "carol", "--role", "member", data_dir=data_dir)
    assert isinstance(user, dict) and user["role"] == "member"
    created = _cli(
        "keys",
        "create",
        "ci",
        "--user",
        user["id"],
        "--budget-usd",
        "1.50",
        "--rpm",
        "10",
        "--model",
        "gpt-5.1",
        data_dir=data_dir,
    )
    assert isinstance(created, dict) and created["key"].startswith("sk-tg-")
    shown = _cli("keys", "show", created["id"], data_dir=data_dir)
    assert isinstance(shown, dict)
    assert shown["budget_usd"] == "1.50" and shown["rpm"] == 10 and "key" not in shown
    listed = _cli("keys", "list", data_dir=data_dir)
    assert isinstance(listed, list) and created["id"] in {k["id"] for k in listed}
    users = _cli("users", "list", data_dir=data_dir)
    assert isinstance(users, list) and "carol" in {u["name"] for u in users}
    revoked = _cli("keys", "revoke", created["id"], data_dir=data_dir)
    assert revoked == {"id": created["id"], "revoked": True}
    assert _cli("usage", "--group-by", "model", data_dir=data_dir) == []
