"""Console sign-up in each mode (open with e-mail verification, invite code, admin
approval), password reset by mail and changing one's own password, against a loopback SMTP
server (aiosmtpd); the idle session timeout. Refused forms write nothing. In Chromium:
registering in each mode, in English and in Chinese, and opening the mailed link."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.support.console_accounts_support import SmtpServer, accounts_server, smtp_table
from tests.support.console_browser_support import chromium, new_page, shoot
from tests.support.console_browser_support import sign_in as browser_sign_in
from tests.support.console_support import ADMIN_PASSWORD, admin_api, csrf_of, sign_in
from tests.support.server import ServerProcess


@pytest.fixture(scope="module")
def smtp() -> Iterator[SmtpServer]:
    server = SmtpServer()
    yield server
    server.stop()


def _start(tmp: pytest.TempPathFactory, name: str, console: str) -> ServerProcess:
    return accounts_server(tmp.mktemp(name) / "data", console)


@pytest.fixture(scope="module")
def verifying(
    tmp_path_factory: pytest.TempPathFactory, smtp: SmtpServer
) -> Iterator[ServerProcess]:
    config = '[console]\nsignup = "open"\nverify_email = true\n' + smtp_table(smtp)
    process = _start(tmp_path_factory, "signup-open", config)
    yield process
    process.stop()


@pytest.fixture(scope="module")
def inviting(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    process = _start(tmp_path_factory, "signup-invite", '[console]\nsignup = "invite"\n')
    yield process
    process.stop()


@pytest.fixture(scope="module")
def approving(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    config = '[console]\nsignup = "approval"\nidle_minutes = 0.2\n'  # 12 s
    process = _start(tmp_path_factory, "signup-approval", config)
    yield process
    process.stop()


def _client(server: ServerProcess) -> httpx.Client:
    return httpx.Client(base_url=server.base_url, timeout=120, follow_redirects=False)


def _post(http: httpx.Client, page: str, action: str, data: dict[str, str]) -> httpx.Response:
    token = csrf_of(http.get(page).text)
    return http.post(action, data={"csrf_token": token, **data})


def _register(http: httpx.Client, **fields: str) -> httpx.Response:
    data = {"password": "a-good-password", "password2": "a-good-password", **fields}
    return _post(http, "/console/register", "/console/register", data)


def _names(server: ServerProcess) -> list[str]:
    with admin_api(server) as api:
        return [u["name"] for u in api.get("/admin/v1/users").json()["data"]]


def test_bad_registrations_write_nothing(verifying: ServerProcess) -> None:
    with _client(verifying) as http:
        cases = [
            {"name": "n" * 201, "email": "long@example.test"},
            {"name": "okname", "email": "not-an-address"},
            {"name": "okname", "email": ("x" * 320) + "@example.test"},
            {"name": "okname", "email": ""},  # verification needs an address
            {"name": "usr_fake", "email": "u@example.test"},
            {"name": "okname", "email": "o@example.test", "password2": "another-password"},
            {
                "name": "okname",
                "email": "o@example.test",
                "password": "short",
                "password2": "short",
            },
        ]
        for fields in cases:
            refused = _register(http, **fields)
            assert refused.status_code == 400 and 'class="error"' in refused.text, fields
        no_csrf = http.post("/console/register", data={"name": "okname", "email": "o@e.test"})
        assert no_csrf.status_code == 403 and "expired" in no_csrf.text
    names = _names(verifying)
    assert (
        "okname" not in names and "usr_fake" not in names and not any(len(n) > 200 for n in names)
    )


def test_open_signup_verifies_the_address_by_mail(
    verifying: ServerProcess, smtp: SmtpServer
) -> None:
    with _client(verifying) as http:
        done = _register(http, name="vera", email="Vera@Example.test")
        assert done.status_code == 200 and "vera@example.test" in done.text
        early = sign_in(http, "vera", "a-good-password")
        assert early.status_code == 403 and "Confirm your e-mail" in early.text
        link = smtp.mailbox.link_for("vera@example.test")
        assert link.startswith(verifying.base_url + "/console/verify/")
        path = link.removeprefix(verifying.base_url)
        assert http.get(path).status_code == 200
        assert http.get(path).status_code == 400  # once only
        assert sign_in(http, "vera@example.test", "a-good-password").status_code == 303
        assert http.get("/console/account").text.count("vera@example.test") == 1
        taken = _register(http, name="vera2", email="vera@example.test")
        assert taken.status_code == 400 and "exists" in taken.text


def test_password_reset_by_mail(verifying: ServerProcess, smtp: SmtpServer) -> None:
    with _client(verifying) as http:
        assert _register(http, name="rita", email="rita@example.test").status_code == 200
        http.get(smtp.mailbox.link_for("rita@example.test").removeprefix(verifying.base_url))
        before = len(smtp.mailbox.messages)
        unknown = _post(http, "/console/reset", "/console/reset", {"email": "nobody@example.test"})
        known = _post(http, "/console/reset", "/console/reset", {"email": "rita@example.test"})
        assert unknown.status_code == known.status_code == 200  # the same answer
        time.sleep(0.5)
        assert len(smtp.mailbox.messages) == before + 1
        link = smtp.mailbox.link_for("rita@example.test")
        assert "/console/reset/" in link
        path = link.removeprefix(verifying.base_url)
        differ = _post(
            http, path, path, {"password": "new-password-1", "password2": "new-password-2"}
        )
        assert differ.status_code == 400
        assert (
            _post(
                http, path, path, {"password": "new-password-1", "password2": "new-password-1"}
            ).status_code
            == 200
        )
        assert http.get(path).status_code == 400  # used
    with _client(verifying) as http:
        assert sign_in(http, "rita", "a-good-password").status_code == 401
        assert sign_in(http, "rita", "new-password-1").status_code == 303


def test_change_own_password_signs_out_other_sessions(
    verifying: ServerProcess, smtp: SmtpServer
) -> None:
    with _client(verifying) as here, _client(verifying) as elsewhere:
        assert _register(here, name="carl", email="carl@example.test").status_code == 200
        here.get(smtp.mailbox.link_for("carl@example.test").removeprefix(verifying.base_url))
        assert sign_in(here, "carl", "a-good-password").status_code == 303
        assert sign_in(elsewhere, "carl", "a-good-password").status_code == 303
        wrong = _post(
            here,
            "/console/account",
            "/console/account/password",
            {"current": "nope-nope-1", "password": "carl-new-pass", "password2": "carl-new-pass"},
        )
        assert wrong.status_code == 400 and "current password is wrong" in wrong.text
        no_csrf = here.post("/console/account/password", data={"current": "a-good-password"})
        assert no_csrf.status_code == 403
        changed = _post(
            here,
            "/console/account",
            "/console/account/password",
            {
                "current": "a-good-password",
                "password": "carl-new-pass",
                "password2": "carl-new-pass",
            },
        )
        assert changed.status_code == 303
        assert here.get("/console/account?changed=1").status_code == 200  # still signed in
        assert elsewhere.get("/console/dashboard").status_code == 303  # signed out


def test_invite_codes_work_once(inviting: ServerProcess) -> None:
    with _client(inviting) as admin:
        assert sign_in(admin, "admin", ADMIN_PASSWORD).status_code == 303
        made = _post(
            admin, "/console/admin", "/console/admin/invites", {"note": "for ivy", "days": "3"}
        )
        assert made.status_code == 201
        code = made.text.split('id="invite-code">')[1].split("<")[0]
        assert code.startswith("inv-")
        long_note = _post(
            admin, "/console/admin", "/console/admin/invites", {"note": "n" * 201, "days": "3"}
        )
        assert long_note.status_code == 400
    with _client(inviting) as http:
        assert "Invite code" in http.get("/console/register").text
        assert _register(http, name="ivy", invite="inv-wrong").status_code == 400
        assert _register(http, name="ivy", invite="x" * 201).status_code == 400
        assert "ivy" not in _names(inviting)
        joined = _register(http, name="ivy", invite=code)
        assert joined.status_code == 303 and http.get("/console/dashboard").status_code == 200
    with _client(inviting) as http:
        assert _register(http, name="ivy2", invite=code).status_code == 400  # used


def test_one_invite_code_registers_one_user_under_concurrency(inviting: ServerProcess) -> None:
    with _client(inviting) as admin:
        sign_in(admin, "admin", ADMIN_PASSWORD)
        made = _post(admin, "/console/admin", "/console/admin/invites", {"days": "1"})
        code = made.text.split('id="invite-code">')[1].split("<")[0]
    statuses: list[int] = []

    def attempt(n: int) -> None:
        with _client(inviting) as http:
            statuses.append(_register(http, name=f"racer{n}", invite=code).status_code)

    threads = [threading.Thread(target=attempt, args=(n,)) for n in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(statuses) == [303] + [400] * 5
    assert len([n for n in _names(inviting) if n.startswith("racer")]) == 1


def test_approval_then_idle_timeout(approving: ServerProcess) -> None:
    with _client(approving) as http:
        waiting = _register(http, name="paula")
        assert waiting.status_code == 200 and "approval" in waiting.text
        assert _register(http, name="otto").status_code == 200
        refused = sign_in(http, "paula", "a-good-password")
        assert refused.status_code == 403 and "approval" in refused.text
    with _client(approving) as admin:
        assert sign_in(admin, "admin", ADMIN_PASSWORD).status_code == 303
        users = {
            u["name"]: u["id"] for u in admin_api(approving).get("/admin/v1/users").json()["data"]
        }
        ok = _post(
            admin,
            "/console/admin",
            f"/console/admin/users/{users['paula']}/approve",
            {"decision": "approve"},
        )
        assert ok.status_code == 200 and "may sign in now" in ok.text
        no = _post(
            admin,
            "/console/admin",
            f"/console/admin/users/{users['otto']}/approve",
            {"decision": "reject"},
        )
        assert no.status_code == 200
    assert "otto" not in _names(approving)
    with _client(approving) as http:
        assert sign_in(http, "paula", "a-good-password").status_code == 303
        assert http.get("/console/dashboard").status_code == 200
        time.sleep(14)  # idle past 12 s (the absolute lifetime is 12 h)
        gone = http.get("/console/dashboard")
        assert gone.status_code == 303 and "/console/login" in gone.headers["location"]


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with chromium() as launched:
        yield launched


def _fill_register(page: Any, base_url: str, name: str, **fields: str) -> None:
    page.goto(f"{base_url}/console/login")
    page.click("#register-link")
    page.fill("input[name=name]", name)
    for field, value in fields.items():
        page.fill(f"input[name={field}]", value)
    page.fill("input[name=password]", "a-good-password")
    page.fill("input[name=password2]", "a-good-password")
    page.click("form[action='/console/register'] button[type=submit]")


def test_register_and_verify_in_a_browser_english(
    browser: Any, verifying: ServerProcess, smtp: SmtpServer
) -> None:
    page = new_page(browser, "en-US")
    _fill_register(page, verifying.base_url, "wendy", email="wendy@example.test")
    assert page.inner_text("h1") == "Check your mail"
    page.goto(smtp.mailbox.link_for("wendy@example.test"))
    assert page.inner_text("h1") == "E-mail address confirmed"
    page.click("text=Sign in")
    browser_sign_in(page, verifying.base_url, "wendy@example.test", "a-good-password")
    assert page.inner_text("h1") == "Dashboard"
    page.context.close()


def test_register_with_an_invite_in_a_browser_chinese(
    browser: Any, inviting: ServerProcess
) -> None:
    admin = new_page(browser, "zh-CN")
    browser_sign_in(admin, inviting.base_url, "admin", ADMIN_PASSWORD)
    admin.goto(f"{inviting.base_url}/console/admin")
    admin.fill("input[name=note]", "给小王")
    admin.click("text=生成邀请码")
    code = admin.inner_text("#invite-code").strip()
    admin.context.close()
    page = new_page(browser, "zh-CN")
    page.goto(f"{inviting.base_url}/console/login")
    page.click("#register-link")
    assert page.inner_text("h1") == "注册账户"
    page.fill("input[name=name]", "小王")
    page.fill("input[name=password]", "a-good-password")
    page.fill("input[name=password2]", "a-good-password-x")
    page.fill("input[name=invite]", code)
    page.click("form[action='/console/register'] button[type=submit]")
    assert page.inner_text("p.error") == "两次输入的密码不一致。"
    page.fill("input[name=password]", "a-good-password")
    page.fill("input[name=password2]", "a-good-password")
    shoot(page, "zh-register")
    page.click("form[action='/console/register'] button[type=submit]")
    page.wait_for_url("**/console/dashboard")
    assert page.inner_text("h1") == "仪表盘" and page.inner_text(".who .user-name") == "小王"
    page.context.close()


def test_register_for_approval_in_a_browser_chinese(browser: Any, approving: ServerProcess) -> None:
    page = new_page(browser, "zh-CN")
    _fill_register(page, approving.base_url, "quinn")
    assert "等待管理员审核" in page.inner_text("[data-testid=message]")
    admin = new_page(browser, "zh-CN")
    browser_sign_in(admin, approving.base_url, "admin", ADMIN_PASSWORD)
    admin.goto(f"{approving.base_url}/console/admin")
    row = admin.locator("tr", has_text="quinn")
    assert row.locator("td.user-status").inner_text().startswith("待审核")
    row.locator("button[value=approve]").click()
    assert "quinn 现在可以登录了。" in admin.inner_text("p.notice")
    admin.context.close()
    browser_sign_in(page, approving.base_url, "quinn", "a-good-password")
    assert page.inner_text("h1") == "仪表盘"
    page.context.close()
