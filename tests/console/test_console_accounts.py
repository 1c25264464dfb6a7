"""Console accounts (issue 26): the sign-in throttle counts the account a login names, not
its text (hole 6), and a new password, however it is set, ends the user's sessions."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from tests.support.console_support import (
    ADMIN_PASSWORD,
    add_user,
    admin_api,
    console_server,
    csrf_of,
    sign_in,
)
from tests.support.server import ServerProcess, SharedServers


@pytest.fixture(scope="module")
def server(shared_servers: SharedServers) -> ServerProcess:
    """The console's server, shared with the other console modules (each makes its own
    users)."""
    return shared_servers.get("console", console_server)


def _signed_in(server: ServerProcess, login: str, password: str) -> httpx.Client:
    http = httpx.Client(base_url=server.base_url, timeout=120)
    assert sign_in(http, login, password).status_code == 303
    assert http.get("/console/dashboard").status_code == 200
    return http


def _signed_out(http: httpx.Client) -> bool:
    page = http.get("/console/dashboard")
    return page.status_code == 303 and page.headers["location"].startswith("/console/login")


def test_name_and_id_share_one_allowance(server: ServerProcess) -> None:
    user_id = add_user(server, "erin", "erin-password-1")
    with httpx.Client(base_url=server.base_url) as http:
        assert [sign_in(http, "erin", f"wrong-{n}").status_code for n in range(5)] == [401] * 5
        by_id = sign_in(http, user_id, "erin-password-1")
        assert by_id.status_code == 429 and int(by_id.headers["retry-after"]) >= 1


def test_unknown_logins_are_throttled_like_real_ones(server: ServerProcess) -> None:
    with httpx.Client(base_url=server.base_url) as http:
        statuses = [sign_in(http, "nobody-here", f"guess-{n}").status_code for n in range(6)]
        assert statuses == [401] * 5 + [429]  # what an existing account would answer
        other = sign_in(http, "usr_nobody_here", "guess-x")
        assert other.status_code == 401  # another login that names nobody: its own count


def test_cli_set_password_signs_the_user_out(server: ServerProcess) -> None:
    user_id = add_user(server, "frank", "frank-password-1")
    add_user(server, "grace", "grace-password-1")
    frank = _signed_in(server, "frank", "frank-password-1")
    grace = _signed_in(server, "grace", "grace-password-1")
    try:
        command = [sys.executable, "-m", "thinkgate", "users", "set-password", user_id]
        command += ["--password-stdin", "--data-dir", str(server.data_dir)]
        done = subprocess.run(
            command, input="frank-password-2\n", capture_output=True, text=True, timeout=120
        )
        assert done.returncode == 0, done.stderr
        assert _signed_out(frank)
        assert grace.get("/console/dashboard").status_code == 200  # only frank's sessions
        with httpx.Client(base_url=server.base_url) as http:
            assert sign_in(http, "frank", "frank-password-2").status_code == 303
    finally:
        frank.close()
        grace.close()


def test_admin_page_password_signs_the_user_out(server: ServerProcess) -> None:
    user_id = add_user(server, "heidi", "heidi-password-1")
    heidi = _signed_in(server, "heidi", "heidi-password-1")
    admin = _signed_in(server, "admin", ADMIN_PASSWORD)
    try:
        token = csrf_of(admin.get("/console/admin").text)
        changed = admin.post(
            f"/console/admin/users/{user_id}/password",
            data={"csrf_token": token, "password": "heidi-password-2"},
        )
        assert changed.status_code == 200, changed.text
        assert _signed_out(heidi)
    finally:
        heidi.close()
        admin.close()


def test_a_changed_admin_password_at_start_signs_the_admin_out(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    first = console_server(data_dir)
    try:
        admin = _signed_in(first, "admin", ADMIN_PASSWORD)
        with admin_api(first) as api:  # the admin API key, unaffected by the console password
            assert api.get("/admin/v1/users").status_code == 200
    finally:
        first.stop()
    try:
        same = console_server(data_dir)  # the same password again: still signed in
        try:
            admin = _rebased(admin, same)
            assert admin.get("/console/dashboard").status_code == 200
        finally:
            same.stop()
        changed = ServerProcess(
            data_dir, extra_env={"THINKGATE_ADMIN_PASSWORD": "admin-console-pass-2"}
        )
        try:
            admin = _rebased(admin, changed)
            assert _signed_out(admin)
            with httpx.Client(base_url=changed.base_url) as http:
                assert sign_in(http, "admin", ADMIN_PASSWORD).status_code == 401
                assert sign_in(http, "admin", "admin-console-pass-2").status_code == 303
        finally:
            changed.stop()
    finally:
        admin.close()


def _rebased(http: httpx.Client, server: ServerProcess) -> httpx.Client:
    """The session cookie, sent to the restarted server (a new port)."""
    moved = httpx.Client(base_url=server.base_url, timeout=120)
    moved.cookies.set("tg_console", str(http.cookies.get("tg_console")))
    http.close()
    return moved
