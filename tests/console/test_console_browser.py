"""The web console in a real browser (Playwright driving Debian's Chromium, headless): sign
in, add a token, copy the curl example from the API docs page and run it, call the API with
the token through the openai SDK, find both requests with their cost in the usage log,
revoke the token and get 401; the playground streams; `<script>` in names stays inert.

Each page is screenshotted; with THINKGATE_UPDATE_SCREENSHOTS=1 the images replace
docs/screenshots/ (linked from the README).
`make test` installs chromium (scripts/test-browser.sh); without it these tests skip.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
from collections.abc import Iterator
from decimal import Decimal

import openai
import pytest

from tests.support.console_browser_support import chromium, shoot
from tests.support.console_support import ADMIN_PASSWORD, ASK, add_key, add_user, console_server
from tests.support.server import ServerProcess, make_client

EVIL = '<script>window.__pwned=1</script><img src=x onerror="window.__pwned=2">'


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    with chromium() as launched:
        yield launched


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    process = console_server(tmp_path_factory.mktemp("console-browser") / "data")
    yield process
    process.stop()


def _page(browser: object, server: ServerProcess):  # type: ignore[no-untyped-def]
    context = browser.new_context(viewport={"width": 1280, "height": 860})  # type: ignore[attr-defined]
    context.grant_permissions(["clipboard-read", "clipboard-write"], origin=server.base_url)
    context.set_default_timeout(30_000)
    return context.new_page()


def _sign_in(page, server: ServerProcess, login: str, password: str, shot: bool = False) -> None:  # type: ignore[no-untyped-def]
    page.goto(f"{server.base_url}/console/dashboard")
    assert "/console/login" in page.url
    page.fill("input[name=login]", login)
    page.fill("input[name=password]", password)
    if shot:
        shoot(page, "login")
    page.click("button[type=submit]")
    page.wait_for_url("**/console/dashboard")


def _clipboard(page) -> str:  # type: ignore[no-untyped-def]
    return str(page.evaluate("navigator.clipboard.readText()"))


def test_token_journey_docs_curl_sdk_usage_revoke(browser: object, server: ServerProcess) -> None:
    add_user(server, "erin", "erin-password-1")
    page = _page(browser, server)
    _sign_in(page, server, "erin", "erin-password-1", shot=True)

    page.goto(f"{server.base_url}/console/keys")
    page.fill("input[name=name]", "ci-token")
    page.click("text=Add Token >> nth=-1")
    secret = page.inner_text("#new-key-secret").strip()
    assert secret.startswith("sk-tg-")
    page.click("[data-copy-target=new-key-secret]")
    page.wait_for_selector("[data-copy-target=new-key-secret]:has-text('Copied')")
    assert _clipboard(page) == secret
    shoot(page, "tokens")

    page.goto(f"{server.base_url}/console/docs")
    page.click("#responses-curl button.copy")
    curl = _clipboard(page)
    assert curl.startswith(f"curl '{server.base_url}/v1/responses'") or curl.startswith(
        f"curl {server.base_url}/v1/responses"
    )
    assert "$THINKGATE_API_KEY" in curl and secret not in curl
    shoot(page, "api-docs")
    env = {**os.environ, "THINKGATE_API_KEY": secret}
    ran = subprocess.run(
        ["bash", "-c", curl], env=env, capture_output=True, text=True, timeout=120, check=True
    )
    by_curl = json.loads(ran.stdout)
    assert by_curl["status"] in {"completed", "incomplete"} and by_curl["output"]

    by_sdk = make_client(server.base_url, secret).responses.create(**ASK)
    assert by_sdk.status in {"completed", "incomplete"}

    page.goto(f"{server.base_url}/console/usage")
    for request_id in (by_curl["id"], by_sdk.id):
        row = page.locator(f"tr[data-request-id='{request_id}']")
        assert row.count() == 1
        assert Decimal(row.locator("td.cost").inner_text()) > 0
    shoot(page, "usage")
    page.goto(f"{server.base_url}/console/dashboard")
    assert page.inner_text("[data-testid=spend-1]") not in ("$0", "$0.00")  # today's spend
    drawn = "[Chart.getChart('chart-days'), Chart.getChart('chart-models')].every(Boolean)"
    assert page.evaluate(drawn)  # Chart.js, served from /console/static/vendor
    shoot(page, "dashboard")

    page.goto(f"{server.base_url}/console/keys")
    page.once("dialog", lambda dialog: dialog.accept())
    page.locator("tr", has_text="ci-token").locator("button", has_text="Revoke").click()
    page.wait_for_url("**/console/keys")
    assert page.locator("tr", has_text="ci-token").locator(".badge").inner_text() == "revoked"
    with pytest.raises(openai.AuthenticationError) as caught:
        make_client(server.base_url, secret).responses.create(**ASK)
    assert caught.value.status_code == 401
    page.context.close()


def test_playground_streams_with_reasoning_and_cost(browser: object, server: ServerProcess) -> None:
    add_user(server, "frank", "frank-password-1")
    page = _page(browser, server)
    _sign_in(page, server, "frank", "frank-password-1")
    page.goto(f"{server.base_url}/console/playground")
    page.select_option("#pg-model", "gpt-5.1")
    page.select_option("#pg-effort", "low")
    page.fill("#pg-max", "32")
    page.fill("#pg-input", "Name one colour of the sea.")
    page.click("#pg-run")
    finished = re.compile(r"^(completed|incomplete)$")
    page.locator("#pg-state").filter(has_text=finished).wait_for(timeout=90_000)
    assert page.inner_text("#pg-output").strip()
    assert " out" in page.inner_text("#pg-tokens")
    assert Decimal(page.inner_text("#pg-cost")) > 0
    shoot(page, "playground")
    page.goto(f"{server.base_url}/console/usage")  # billed to the user's playground key
    assert page.locator("tr[data-request-id]").count() == 1
    page.context.close()


def test_script_in_names_is_inert_and_members_stay_out(
    browser: object, server: ServerProcess
) -> None:
    add_user(server, "grace", "grace-password-1")
    other = add_user(server, "heidi", "heidi-password-1")
    other_key, _ = add_key(server, other, "heidi's key")
    add_user(server, EVIL, "evil-password-1")

    page = _page(browser, server)
    _sign_in(page, server, "grace", "grace-password-1")
    page.goto(f"{server.base_url}/console/keys")
    page.fill("input[name=name]", EVIL)
    page.click("text=Add Token >> nth=-1")
    page.wait_for_selector("#new-key-secret")
    page.goto(f"{server.base_url}/console/keys")
    assert page.evaluate("window.__pwned") is None
    assert page.locator("a.key-name").first.inner_text() == EVIL  # shown as text
    assert page.goto(f"{server.base_url}/console/keys/{other_key}").status == 404  # type: ignore[union-attr]
    assert page.goto(f"{server.base_url}/console/admin").status == 403  # type: ignore[union-attr]
    shoot(page, "forbidden")
    page.context.close()

    page = _page(browser, server)
    _sign_in(page, server, "admin", ADMIN_PASSWORD)
    page.goto(f"{server.base_url}/console/admin")
    assert page.evaluate("window.__pwned") is None
    assert page.locator("td.user-name", has_text="window.__pwned").inner_text() == EVIL
    heidi = page.locator("tr", has_text="heidi")
    assert heidi.locator("td.active-keys").inner_text() == "1"
    shoot(page, "admin")
    page.goto(f"{server.base_url}/docs")
    page.wait_for_selector(".swagger-ui .opblock", timeout=30_000)  # rendered from local assets
    shoot(page, "openapi-explorer")
    page.context.close()
