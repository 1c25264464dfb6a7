"""Callers for ownership tests, made through the real admin API only."""

from __future__ import annotations

import secrets

import httpx
import pytest
from openai import OpenAI

from tests.support.server import make_client


def other_user_client(server_url: str, http: httpx.Client) -> OpenAI:
    """A client whose key belongs to a new user (another owner)."""
    reply = http.post("/admin/v1/users", json={"name": f"other-{secrets.token_hex(4)}"})
    _require_admin_api(reply)
    return _client_for_user(server_url, http, reply.json()["id"])


def same_user_client(server_url: str, http: httpx.Client) -> OpenAI:
    """A second key of the admin key's own user (the same owner)."""
    return _client_for_user(server_url, http, None)


def _client_for_user(server_url: str, http: httpx.Client, user_id: str | None) -> OpenAI:
    payload: dict[str, object] = {"name": f"key-{secrets.token_hex(4)}"}
    if user_id is not None:
        payload["user_id"] = user_id
    else:  # a key of the calling admin's own user, said explicitly
        payload["role"] = "admin"
    reply = http.post("/admin/v1/keys", json=payload)
    _require_admin_api(reply)
    assert reply.status_code in (200, 201), reply.text
    return make_client(server_url, api_key=reply.json()["key"])


def _require_admin_api(reply: httpx.Response) -> None:
    if reply.status_code in (404, 405):
        pytest.xfail("the admin API (users, keys) is not there yet: no second owner to test")
    assert reply.status_code in (200, 201), reply.text
