"""The web console over plain HTTP: sign-in and its cookie, CSRF refusals, throttling,
members kept to their own pages, escaping, sign-out, /docs offline, and the OpenAPI schema
left without console routes. (The browser journey is in test_console_browser.py.)"""

from __future__ import annotations

import hashlib
import json
import re
import secrets
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from click.testing import CliRunner
from openai import OpenAI

from tests.support.console_support import (
    ADMIN_PASSWORD,
    ASK,
    Browserless,
    add_key,
    add_user,
    admin_api,
    console_server,
    sign_in,
)
from tests.support.gateway_support import services, shared_env
from tests.support.server import ServerProcess, SharedServers, make_client
from thinkgate.cli import main
from thinkgate.gateway.passwords import hash_password, needs_rehash, verify_password


@pytest.fixture(scope="module")
def server(shared_servers: SharedServers) -> ServerProcess:
    """The console's server, shared with the other console modules (each makes its own
    users)."""
    return shared_servers.get("console", console_server)


@pytest.fixture(scope="module")
def alice(server: ServerProcess) -> Iterator[Browserless]:
    add_user(server, "alice", "alice-password-1")
    session = Browserless(server, "alice", "alice-password-1")
    yield session
    session.close()


@pytest.fixture(scope="module")
def bob(server: ServerProcess) -> tuple[str, str, str]:
    """Another member: (user id, key id, key secret)."""
    user_id = add_user(server, "bob", "bob-password-12")
    key_id, secret = add_key(server, user_id, "bob's key")
    return user_id, key_id, secret


def test_sign_in_sets_a_strict_httponly_session_cookie(server: ServerProcess) -> None:
    with httpx.Client(base_url=server.base_url) as http:
        reply = sign_in(http, "admin", ADMIN_PASSWORD)
        assert reply.status_code == 303 and reply.headers["location"] == "/console"
        cookie = reply.headers["set-cookie"]
        assert cookie.startswith("tg_console=")
        assert "HttpOnly" in cookie and "SameSite=strict" in cookie and "Path=/console" in cookie
        assert "Secure" not in cookie  # plain http on loopback: a Secure cookie would be lost
        dashboard = http.get("/console/dashboard")
        assert dashboard.status_code == 200 and "Dashboard" in dashboard.text
        assert "script-src 'self'" in dashboard.headers["content-security-policy"]
    # X-Forwarded-Proto counts only from a trusted proxy (none here): test_proxy_headers.py


def test_pages_need_a_session(server: ServerProcess) -> None:
    with httpx.Client(base_url=server.base_url) as http:
        for page in ("dashboard", "keys", "usage", "playground", "docs", "admin"):
            reply = http.get(f"/console/{page}")
            assert reply.status_code == 303, page
            assert reply.headers["location"].startswith("/console/login?next=")
        http.cookies.set("tg_console", "not-a-session")
        assert http.get("/console/dashboard").status_code == 303


def test_wrong_password_is_refused_and_sign_in_is_throttled(server: ServerProcess) -> None:
    add_user(server, "carol", "carol-password-1")
    with httpx.Client(base_url=server.base_url) as http:
        statuses = [sign_in(http, "carol", f"wrong-{n}").status_code for n in range(5)]
        assert statuses == [401] * 5
        throttled = sign_in(http, "carol", "carol-password-1")  # even the right one, now
        assert throttled.status_code == 429
        assert int(throttled.headers["retry-after"]) >= 1
        assert "Too many sign-in attempts" in throttled.text


def test_forms_without_the_csrf_token_are_refused(
    server: ServerProcess, alice: Browserless
) -> None:
    keys_before = alice.page("/console/keys").text
    no_token = alice.http.post("/console/keys", data={"name": "csrf-less"})
    assert no_token.status_code == 403
    wrong = alice.http.post("/console/keys", data={"name": "csrf-less", "csrf_token": "x" * 43})
    assert wrong.status_code == 403
    assert "csrf-less" not in alice.page("/console/keys").text
    assert alice.page("/console/keys").text.count("data-key-id") == keys_before.count("data-key-id")
    # the sign-in form has its own token (double submit): a cross-site post lacks it
    with httpx.Client(base_url=server.base_url) as http:
        cross_site = http.post("/console/login", data={"login": "admin", "password": "x"})
        assert cross_site.status_code == 403
    # the playground's fetch() sends the token in a header
    no_header = alice.http.post("/console/playground/responses", json={**ASK, "input": "hi"})
    assert no_header.status_code == 403
    logout = alice.http.post("/console/logout", data={})
    assert logout.status_code == 403  # nobody can sign you out from another site either


def test_a_member_sees_only_their_own_keys_and_usage(
    server: ServerProcess, alice: Browserless, bob: tuple[str, str, str]
) -> None:
    _, bob_key, bob_secret = bob
    bobs = make_client(server.base_url, bob_secret).responses.create(**ASK)
    assert alice.page(f"/console/keys/{bob_key}").status_code == 404
    assert bob_key not in alice.page("/console/keys").text
    assert bob_key not in alice.page(f"/console/usage?key={bob_key}").text
    assert "No requests match." in alice.page(f"/console/usage?key={bob_key}").text
    assert bobs.id not in alice.page(f"/console/usage?key={bob_key}&scope=all").text
    assert "· all users" not in alice.page("/console/dashboard?scope=all").text
    admin = Browserless(server, "admin", ADMIN_PASSWORD)
    try:  # an admin may widen the usage log to every user
        assert bobs.id not in admin.page("/console/usage").text
        assert bobs.id in admin.page(f"/console/usage?key={bob_key}&scope=all").text
        assert "· all users" in admin.page("/console/dashboard?scope=all").text
    finally:
        admin.close()
    revoke = alice.post_form(f"/console/keys/{bob_key}/revoke", {}, from_page="/console/keys")
    assert revoke.status_code == 404
    assert make_client(server.base_url, bob_secret).models.list().data  # still works
    admin_page = alice.page("/console/admin")
    assert admin_page.status_code == 403 and "for administrators" in admin_page.text
    add = alice.post_form(
        "/console/admin/users",
        {"name": "mallory", "role": "admin", "password": "mallory-pass-1"},
        from_page="/console/keys",
    )
    assert add.status_code == 403
    with admin_api(server) as api:
        names = {user["name"] for user in api.get("/admin/v1/users").json()["data"]}
    assert "mallory" not in names


def test_user_strings_are_escaped(server: ServerProcess, alice: Browserless) -> None:
    evil = "<script>alert(1)</script>\"'&"
    created = alice.post_form("/console/keys", {"name": evil}, from_page="/console/keys")
    assert created.status_code == 201
    assert "<script>alert(1)" not in created.text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;&#34;&#39;&amp;" in created.text
    listing = alice.page("/console/keys").text
    assert "<script>alert(1)" not in listing and "&lt;script&gt;alert(1)" in listing


def test_add_token_validates_and_shows_the_key_once(
    server: ServerProcess, alice: Browserless
) -> None:
    bad = alice.post_form(
        "/console/keys",
        {"name": "limits", "budget_usd": "-1", "rpm": "zero", "expires": "2001-01-01"},
        from_page="/console/keys",
    )
    assert bad.status_code == 400
    assert "Budget must be an amount" in bad.text and "Requests per minute" in bad.text
    assert "The expiry must be a date" in bad.text
    good = alice.post_form(
        "/console/keys",
        {"name": "limited", "budget_usd": "2.5", "rpm": "60", "models": "gpt-5.1"},
        from_page="/console/keys",
    )
    assert good.status_code == 201
    secret = re.search(r'id="new-key-secret">(sk-tg-[^<]+)<', good.text)
    assert secret is not None
    client: OpenAI = make_client(server.base_url, secret.group(1))
    assert client.responses.create(**ASK).status in {"completed", "incomplete"}
    assert secret.group(1) not in alice.page("/console/keys").text  # shown only once
    key_id = re.search(
        r'<tr data-key-id="([^"]+)">\s*<td><a [^>]*>limited<', alice.page("/console/keys").text
    )
    assert key_id is not None
    detail = alice.page(f"/console/keys/{key_id.group(1)}").text
    assert "<dt>Budget</dt><dd>2.5 total" in detail and "60 requests/min" in detail
    assert detail.count("data-request-id=") == 1  # the call above, in its recent requests
    huge = alice.post_form(
        "/console/keys", {"name": "huge", "budget_usd": "1e30"}, from_page="/console/keys"
    )
    assert huge.status_code == 400 and "up to 1000000000" in huge.text


def test_sign_out_ends_the_session(server: ServerProcess) -> None:
    add_user(server, "dave", "dave-password-1")
    dave = Browserless(server, "dave", "dave-password-1")
    try:
        cookie = dave.http.cookies.get("tg_console")
        out = dave.post_form("/console/logout", {}, from_page="/console/dashboard")
        assert out.status_code == 303 and out.headers["location"] == "/console/login"
        with httpx.Client(base_url=server.base_url) as http:  # the old cookie is dead too
            http.cookies.set("tg_console", str(cookie))
            assert http.get("/console/dashboard").status_code == 303
    finally:
        dave.close()


def test_docs_explorer_is_served_offline(server: ServerProcess) -> None:
    with httpx.Client(base_url=server.base_url) as http:
        page = http.get("/docs").text
        assets = re.findall(r'(?:src|href)="([^"]+)"', page)
        assert assets and all(url.startswith("/console/static/vendor/") for url in assets)
        assert "cdn" not in page.lower()
        for url in assets:
            assert http.get(url).status_code == 200, url
        paths = http.get("/openapi.json").json()["paths"]
        assert "/v1/responses" in paths
        assert not [path for path in paths if path.startswith("/console") or path == "/docs"]


def test_api_docs_page_lists_models_with_prices_and_this_base_url(alice: Browserless) -> None:
    page = alice.page("/console/docs").text
    base = str(alice.http.base_url).rstrip("/") + "/v1"
    assert f'<code id="base-url">{base}</code>' in page
    assert "curl " + base + "/responses" in page
    assert "<td>$1</td><td>$0.1</td><td>$8</td>" in page  # gpt-5.1's default prices per 1M
    assert "smollm2-135m-instruct" in page and "16,384 tokens" in page
    assert page.count('data-lang="python"') == page.count('data-lang="curl"') >= 5


def test_usage_log_filters_and_pages(server: ServerProcess, alice: Browserless) -> None:
    key_id, _ = add_key(server, _user_id(server, "alice"), "filtered")
    with admin_api(server) as api:
        secret = api.post(
            "/admin/v1/keys", json={"name": "second", "user_id": _user_id(server, "alice")}
        ).json()["key"]
    done = make_client(server.base_url, secret).responses.create(**ASK)
    everything = alice.page("/console/usage").text
    assert done.id in everything
    assert done.id not in alice.page(f"/console/usage?key={key_id}").text  # another key
    assert done.id not in alice.page("/console/usage?status=failed").text
    assert done.id not in alice.page("/console/usage?model=smollm2-135m-instruct").text
    assert done.id in alice.page(f"/console/usage?status={done.status}&model=gpt-5.1").text
    assert done.id not in alice.page("/console/usage?until=2001-01-01").text
    assert done.id in alice.page("/console/usage?since=2001-01-01&page=1").text
    later = alice.page("/console/usage?page=2").text
    assert done.id not in later and "No requests match." in later
    assert alice.page("/console/usage?page=zero").status_code == 400  # an OpenAI-style 400


def test_admin_adds_a_user_who_then_signs_in(server: ServerProcess) -> None:
    admin = Browserless(server, "admin", ADMIN_PASSWORD)
    try:
        short = admin.post_form(
            "/console/admin/users",
            {"name": "ivan", "role": "member", "password": "short"},
            from_page="/console/admin",
        )
        assert short.status_code == 400 and "The password needs 8" in short.text
        added = admin.post_form(
            "/console/admin/users",
            {"name": "ivan", "role": "member", "password": "ivan-password-1"},
            from_page="/console/admin",
        )
        assert added.status_code == 200 and "Added user usr_" in added.text
    finally:
        admin.close()
    ivan = Browserless(server, "ivan", "ivan-password-1")
    try:
        assert ivan.sign_in_reply.status_code == 303
        assert ivan.page("/console/dashboard").status_code == 200
    finally:
        ivan.close()


def test_cli_sets_a_password_that_signs_in(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    runner = CliRunner()
    created = runner.invoke(main, ["users", "create", "judy", "--data-dir", str(data_dir)])
    user_id = json.loads(created.output)["id"]
    args = ["users", "set-password", user_id, "--password-stdin", "--data-dir", str(data_dir)]
    assert runner.invoke(main, args, input="tiny\n").exit_code != 0
    set_it = runner.invoke(main, args, input="judy-password-1\n")
    assert set_it.exit_code == 0, set_it.output
    unknown = runner.invoke(main, [*args[:2], "usr_nobody", *args[3:]], input="long-enough-1\n")
    assert unknown.exit_code != 0 and "No user found" in unknown.output
    process = ServerProcess(data_dir)
    try:
        with httpx.Client(base_url=process.base_url) as http:
            assert sign_in(http, "judy", "wrong-password").status_code == 401
            assert sign_in(http, user_id, "judy-password-1").status_code == 303
    finally:
        process.stop()


def test_passwords_are_argon2_and_old_scrypt_hashes_still_verify() -> None:
    fresh = hash_password("correct horse")
    assert fresh.startswith("$argon2id$") and verify_password(fresh, "correct horse")
    assert not verify_password(fresh, "wrong horse") and not needs_rehash(fresh)
    salt = bytes(16)
    digest = hashlib.scrypt(b"old secret", salt=salt, n=2**14, r=8, p=1)
    legacy = f"scrypt$16384$8$1${salt.hex()}${digest.hex()}"  # the gateway's first format
    assert verify_password(legacy, "old secret") and not verify_password(legacy, "other")
    assert needs_rehash(legacy)  # replaced by argon2 at the next sign-in
    assert not verify_password(None, "anything")


def _user_id(server: ServerProcess, name: str) -> str:
    with admin_api(server) as api:
        users = api.get("/admin/v1/users").json()["data"]
    return str(next(user["id"] for user in users if user["name"] == name))


def test_two_replicas_share_sessions_and_throttling(tmp_path: Path) -> None:
    """On PostgreSQL + Redis: a session started on one replica is valid on the other, and
    sign-in attempts count across both (skips where those services cannot run)."""
    env = {**shared_env(services()), "THINKGATE_ADMIN_PASSWORD": ADMIN_PASSWORD}
    first = ServerProcess(tmp_path / "a", extra_env=env)
    try:
        second = ServerProcess(tmp_path / "b", extra_env=env)
        try:
            kim = f"kim-{secrets.token_hex(4)}"  # Redis outlives this test run
            add_user(first, kim, "kim-password-12")
            with httpx.Client(base_url=first.base_url) as on_first:
                assert sign_in(on_first, kim, "kim-password-12").status_code == 303
                cookie = str(on_first.cookies.get("tg_console"))
            with httpx.Client(base_url=second.base_url) as on_second:
                on_second.cookies.set("tg_console", cookie)
                page = on_second.get("/console/keys")
                assert page.status_code == 200 and f">{kim}<" in page.text
            # every attempt counts (5 a minute): the one above, and four wrong ones on both
            for replica in [second, first, second, first]:
                with httpx.Client(base_url=replica.base_url) as http:
                    assert sign_in(http, kim, "wrong-password").status_code == 401
            with httpx.Client(base_url=second.base_url) as http:
                assert sign_in(http, kim, "kim-password-12").status_code == 429
        finally:
            second.stop()
    finally:
        first.stop()
