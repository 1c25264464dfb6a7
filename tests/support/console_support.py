"""Web console test helpers: a server with an admin password, users made through the admin
API, and a signed-in httpx session that posts forms with the page's CSRF token."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import httpx

from tests.support.server import ADMIN_KEY, ServerProcess

ADMIN_PASSWORD = "admin-console-pass-1"
ASK = {"model": "gpt-5.1", "input": "Say hi.", "max_output_tokens": 16, "temperature": 0}
_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def console_server(data_dir: Path) -> ServerProcess:
    return ServerProcess(data_dir, extra_env={"THINKGATE_ADMIN_PASSWORD": ADMIN_PASSWORD})


def admin_api(server: ServerProcess) -> httpx.Client:
    return httpx.Client(
        base_url=server.base_url, headers={"Authorization": f"Bearer {ADMIN_KEY}"}, timeout=120
    )


def add_user(server: ServerProcess, name: str, password: str, role: str = "member") -> str:
    with admin_api(server) as api:
        reply = api.post("/admin/v1/users", json={"name": name, "role": role, "password": password})
    assert reply.status_code == 201, reply.text
    return str(reply.json()["id"])


def add_key(server: ServerProcess, user_id: str, name: str) -> tuple[str, str]:
    with admin_api(server) as api:
        reply = api.post("/admin/v1/keys", json={"name": name, "user_id": user_id})
    assert reply.status_code == 201, reply.text
    return str(reply.json()["id"]), str(reply.json()["key"])


def csrf_of(html: str) -> str:
    found = _CSRF.search(html)
    assert found is not None, "no CSRF token in the page"
    return found.group(1)


class Browserless:
    """A signed-in console session over plain HTTP (cookies kept by httpx)."""

    def __init__(self, server: ServerProcess, login: str, password: str) -> None:
        self.http = httpx.Client(base_url=server.base_url, timeout=120, follow_redirects=False)
        self.sign_in_reply = sign_in(self.http, login, password)

    def page(self, path: str) -> httpx.Response:
        return self.http.get(path)

    def post_form(self, path: str, data: dict[str, Any], *, from_page: str) -> httpx.Response:
        token = csrf_of(self.page(from_page).text)
        return self.http.post(path, data={"csrf_token": token, **data})

    def close(self) -> None:
        self.http.close()


def sign_in(
    http: httpx.Client, login: str, password: str, headers: dict[str, str] | None = None
) -> httpx.Response:
    form = http.get("/console/login")
    return http.post(
        "/console/login",
        data={"csrf_token": csrf_of(form.text), "login": login, "password": password},
        headers=headers or {},
    )
