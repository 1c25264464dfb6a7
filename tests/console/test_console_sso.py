"""Console single sign-on against a loopback OpenID Connect provider (discovery, JWKS,
PKCE, RS256 ID tokens) and a GitHub look-alike: new users per the sign-up mode, linking by
verified e-mail, the group claim making an admin; a forged state or nonce, a token for
another client, a provider error and a callback from another browser each refused with a
clear page and nothing written. In Chromium: signing in with OIDC (Chinese) and GitHub."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.support.console_accounts_support import (
    CLIENT_ID,
    Provider,
    accounts_server,
    sso_tables,
)
from tests.support.console_browser_support import chromium, new_page
from tests.support.console_support import admin_api
from tests.support.server import ServerProcess


@pytest.fixture(scope="module")
def provider() -> Iterator[Provider]:
    stand_in = Provider()
    yield stand_in
    stand_in.stop()


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, provider: Provider) -> Iterator[ServerProcess]:
    config = '[console]\nsignup = "open"\n' + sso_tables(provider)
    process = accounts_server(tmp_path_factory.mktemp("sso") / "data", config)
    yield process
    process.stop()


def _browser(server: ServerProcess) -> httpx.Client:
    return httpx.Client(base_url=server.base_url, timeout=120, follow_redirects=False)


def _round_trip(http: httpx.Client, name: str = "corp", next_page: str = "") -> httpx.Response:
    """Start, let the provider answer, and return the console's callback reply."""
    start = http.get(f"/console/sso/{name}/start", params={"next": next_page} if next_page else {})
    assert start.status_code == 303, start.text
    at_provider = httpx.get(start.headers["location"], follow_redirects=False, timeout=30)
    assert at_provider.status_code == 302
    return http.get(at_provider.headers["location"])


def _user_names(server: ServerProcess) -> list[str]:
    with admin_api(server) as api:
        return [u["name"] for u in api.get("/admin/v1/users").json()["data"]]


def test_oidc_sign_in_creates_a_member_with_pkce_and_nonce(
    server: ServerProcess, provider: Provider
) -> None:
    provider.user = {
        "sub": "alice-1",
        "email": "Alice@Example.test",
        "email_verified": True,
        "name": "Alice Liddell",
        "groups": ["staff"],
    }
    with _browser(server) as http:
        done = _round_trip(http, next_page="/console/keys")
        assert done.status_code == 303 and done.headers["location"] == "/console/keys"
        assert http.get("/console/dashboard").status_code == 200
        account = http.get("/console/account").text
        assert "Alice Liddell" in account and "alice@example.test" in account
        assert ">member<" in account
    asked = provider.authorize_params[-1]
    assert asked["code_challenge_method"] == "S256" and len(asked["code_challenge"]) >= 43
    assert asked["nonce"] and asked["client_id"] == CLIENT_ID and "openid" in asked["scope"]
    with _browser(server) as again:  # the same identity: the same user, not a new one
        assert _round_trip(again).status_code == 303
    assert _user_names(server).count("Alice Liddell") == 1


def test_group_claim_makes_an_admin(server: ServerProcess, provider: Provider) -> None:
    provider.user = {
        "sub": "root-7",
        "email": "ops@example.test",
        "email_verified": True,
        "name": "Ops",
        "groups": ["thinkgate-admins", "staff"],
    }
    with _browser(server) as http:
        assert _round_trip(http).status_code == 303
        assert http.get("/console/admin").status_code == 200
    provider.user = {**provider.user, "groups": ["staff"]}  # removed from the group
    with _browser(server) as http:
        assert _round_trip(http).status_code == 303
        assert http.get("/console/admin").status_code == 403


def test_linked_by_verified_email_only(server: ServerProcess, provider: Provider) -> None:
    with admin_api(server) as api:
        created = api.post(
            "/admin/v1/users", json={"name": "bob", "role": "member", "password": "bob-password-1"}
        )
    bob = created.json()["id"]
    # bob has no proven address here, and the provider does not vouch for this one
    provider.user = {
        "sub": "bob-9",
        "email": "bob@example.test",
        "email_verified": False,
        "name": "bob",
    }
    with _browser(server) as http:
        assert _round_trip(http).status_code == 303
        page = http.get("/console/account").text
        assert bob not in page and "bob-" in page  # a new user (name kept unique)


@pytest.mark.parametrize(
    ("tamper", "words"),
    [
        ({"aud": "someone-else"}, "not valid for this console"),
        ({"nonce": "forged-nonce"}, "not valid for this console"),
        ({"iss": "http://127.0.0.1:1"}, "not valid for this console"),
        ({"exp": 1000}, "not valid for this console"),
    ],
)
def test_bad_id_tokens_are_refused(
    server: ServerProcess, provider: Provider, tamper: dict[str, object], words: str
) -> None:
    provider.user = {
        "sub": f"mallory-{tamper}",
        "email": "m@example.test",
        "email_verified": True,
        "name": "Mallory",
    }
    provider.tamper = tamper
    try:
        with _browser(server) as http:
            refused = _round_trip(http)
            assert refused.status_code == 400 and words in refused.text
            assert http.get("/console/dashboard").status_code == 303  # not signed in
    finally:
        provider.tamper = {}
    assert "Mallory" not in _user_names(server)


def test_forged_or_replayed_state_is_refused(server: ServerProcess, provider: Provider) -> None:
    provider.user = {
        "sub": "eve-1",
        "email": "eve@example.test",
        "email_verified": True,
        "name": "Eve",
    }
    with _browser(server) as http:
        start = http.get("/console/sso/corp/start")
        answer = httpx.get(start.headers["location"], follow_redirects=False, timeout=30)
        callback = answer.headers["location"]
        forged = http.get(callback.replace("state=", "state=x"))
        assert forged.status_code == 400 and "(state)" in forged.text
        with _browser(server) as other_browser:  # no state cookie: not started there
            assert other_browser.get(callback).status_code == 400
        assert http.get(callback).status_code == 303  # the real one still works, once
        assert http.get(callback).status_code == 400  # replayed
    with _browser(server) as http:
        error = http.get("/console/sso/corp/callback?error=access_denied&state=x")
        assert error.status_code == 400 and "access_denied" in error.text
        assert http.get("/console/sso/nope/start").status_code == 404
    assert _user_names(server).count("Eve") == 1


def test_github_sign_in_uses_the_verified_primary_email(
    server: ServerProcess, provider: Provider
) -> None:
    provider.user = {
        "id": 4242,
        "login": "octo" + "x" * 300,
        "emails": [
            {"email": "octo@old.test", "primary": False, "verified": True},
            {"email": "octo@example.test", "primary": True, "verified": True},
        ],
    }
    with _browser(server) as http:
        assert _round_trip(http, "github").status_code == 303
        page = http.get("/console/account").text
        assert "octo@example.test" in page
    names = [n for n in _user_names(server) if n.startswith("octo")]
    assert len(names) == 1 and len(names[0]) == 200  # an over-long name is cut, not refused


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with chromium() as launched:
        yield launched


@pytest.mark.parametrize(
    ("language", "button", "heading"),
    [("zh-CN", "使用 Corp SSO 登录", "仪表盘"), ("en-US", "Sign in with GitHub", "Dashboard")],
)
def test_sso_in_a_browser(
    browser: Any,
    server: ServerProcess,
    provider: Provider,
    language: str,
    button: str,
    heading: str,
) -> None:
    provider.user = {
        "sub": f"web-{language}",
        "email": f"web-{language}@example.test",
        "email_verified": True,
        "name": f"Web {language}",
        "id": 777 if language == "en-US" else 0,
        "login": "webby",
        "emails": [{"email": "webby@example.test", "primary": True, "verified": True}],
    }
    page = new_page(browser, language)
    page.goto(f"{server.base_url}/console/keys")  # sent to sign in, then back here
    page.click(f"text={button}")
    page.wait_for_url("**/console/keys")
    page.goto(f"{server.base_url}/console/dashboard")
    assert page.inner_text("h1") == heading
    page.context.close()
