"""Wallet, plans and the audit log in a real browser (Playwright driving Debian's Chromium,
headless): a member redeems a code in Chinese and sees the balance; a plan window refuses
a call, then refills when the (injected) clock moves five hours on, as the wallet page
shows; an admin's action appears in the audit log with who and from where."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import openai
import pytest

from tests.console.test_console_browser import _page, _sign_in
from tests.support.billing_support import SMALL, admin, billing_config, codes, member_with_key
from tests.support.console_browser_support import CHROMIUM, LAUNCH_ARGS
from tests.support.console_browser_support import shoot as _shoot
from tests.support.console_support import ADMIN_PASSWORD
from tests.support.server import ServerProcess, make_client

sync_api = pytest.importorskip("playwright.sync_api", reason="the playwright package is missing")


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    if not CHROMIUM.exists():
        pytest.skip("chromium is not installed (scripts/test-browser.sh could not install it)")
    with sync_api.sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=LAUNCH_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture(scope="module")
def clock(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("browser-clock") / "offset"
    path.write_text("0")
    return path


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, clock: Path) -> Iterator[ServerProcess]:
    root = tmp_path_factory.mktemp("wallet-browser")
    env = {"THINKGATE_ADMIN_PASSWORD": ADMIN_PASSWORD, "THINKGATE_TEST_CLOCK_FILE": str(clock)}
    process = ServerProcess(root / "data", config=billing_config(root / "c.toml"), extra_env=env)
    yield process
    process.stop()


def test_redeem_a_code_in_chinese(browser: object, server: ServerProcess) -> None:
    with admin(server.base_url) as api:
        member_with_key(api, "mei")
        code = codes(api, "5")["codes"][0]
    page = _page(browser, server)
    _sign_in(page, server, "mei", "member-pass-1")
    page.goto(f"{server.base_url}/console/wallet?lang=zh-Hans")
    page.fill("input[name=code]", code.lower())  # typed by hand: case does not matter
    page.click("form[action='/console/wallet/redeem'] button[type=submit]")
    assert "兑换成功" in page.inner_text("[role=status]")
    assert page.inner_text("[data-testid=balance]") == "$5"
    _shoot(page, "wallet-zh")
    page.fill("input[name=code]", code)
    page.click("form[action='/console/wallet/redeem'] button[type=submit]")
    assert "已被兑换" in page.inner_text("[role=alert]")
    assert page.inner_text("[data-testid=balance]") == "$5"  # nothing credited twice


def test_plan_window_refuses_then_refills(
    browser: object, server: ServerProcess, clock: Path
) -> None:
    with admin(server.base_url) as api:
        user_id, secret = member_with_key(api, "pat")
        api.post(
            f"/admin/v1/users/{user_id}/wallet/adjustments",
            json={"amount_usd": "1", "reason": "trial"},
        )
        plan = api.post(
            "/admin/v1/plans",
            json={"name": "one per 5h", "windows": [{"period": "5h", "requests": 1}]},
        )
        api.put(f"/admin/v1/users/{user_id}/plan", json={"plan_id": plan.json()["id"]})
    sdk = make_client(server.base_url, secret)
    page = _page(browser, server)
    _sign_in(page, server, "pat", "member-pass-1")
    page.goto(f"{server.base_url}/console/wallet?lang=en")
    assert "full" in page.inner_text("tr[data-period='5h'] .refills")
    sdk.responses.create(**SMALL)
    with pytest.raises(openai.RateLimitError) as refused:
        sdk.responses.create(**SMALL)
    assert refused.value.code == "plan_limit_exceeded"
    page.reload()
    assert page.inner_text("tr[data-period='5h'] .requests") == "1 / 1"
    refills = page.inner_text("tr[data-period='5h'] .refills")
    assert re.search(r"\b20\d\d\b.*\d\d:\d\d", refills) and "full" not in refills
    _shoot(page, "wallet-plan")
    clock.write_text(str(5 * 3600 + 5))
    try:
        page.reload()
        assert page.inner_text("tr[data-period='5h'] .requests") == "0 / 1"
        assert sdk.responses.create(**SMALL).status in ("completed", "incomplete")
    finally:
        clock.write_text("0")


def test_admin_action_in_the_audit_log(browser: object, server: ServerProcess) -> None:
    page = _page(browser, server)
    _sign_in(page, server, "admin", ADMIN_PASSWORD)
    page.goto(f"{server.base_url}/console/admin/billing?lang=en")
    page.fill("input[name=name]", "launch promo")
    page.fill("input[name=value_usd]", "2.50")
    page.fill("input[name=count]", "3")
    page.click("button[name=as][value=page]")
    assert len(page.input_value("textarea.created-codes").split()) == 3
    page.goto(f"{server.base_url}/console/admin/audit?action=codes.")
    row = page.locator("tr[data-action='codes.created']").first
    text = row.inner_text()
    assert "usr_admin" in text and "127.0.0.1" in text and "launch promo" in text
    _shoot(page, "audit-log")
