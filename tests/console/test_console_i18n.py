"""Console languages: Simplified Chinese from Accept-Language, a `?lang=` switch kept in a
cookie and in the user's account, messages and errors translated, dates and money the
reader's way, a language we do not have shown in English with a notice (never a 500); the
catalogue translates every message. A closed console (the default) with single sign-on
lets in only people it knows. In Chromium: the main pages in Chinese, screenshotted."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po

from tests.support.console_accounts_support import Provider, accounts_server, sso_tables
from tests.support.console_browser_support import chromium, new_page, shoot
from tests.support.console_browser_support import sign_in as browser_sign_in
from tests.support.console_support import (
    ADMIN_PASSWORD,
    add_key,
    add_user,
    admin_api,
    csrf_of,
    sign_in,
)
from tests.support.server import ServerProcess, make_client

CONSOLE = Path(__file__).resolve().parents[2] / "src" / "thinkgate" / "console"
ZH = {"Accept-Language": "zh-CN,zh;q=0.9,en;q=0.5"}


@pytest.fixture(scope="module")
def provider() -> Iterator[Provider]:
    stand_in = Provider()
    yield stand_in
    stand_in.stop()


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, provider: Provider) -> Iterator[ServerProcess]:
    process = accounts_server(
        tmp_path_factory.mktemp("i18n") / "data", "[console]\n" + sso_tables(provider)
    )
    yield process
    process.stop()


def _client(server: ServerProcess, headers: dict[str, str] | None = None) -> httpx.Client:
    return httpx.Client(base_url=server.base_url, timeout=120, headers=headers or {})


def test_accept_language_picks_chinese(server: ServerProcess) -> None:
    with _client(server, ZH) as http:
        page = http.get("/console/login").text
        assert '<html lang="zh-Hans">' in page and "登录 thinkgate" in page
        assert "使用 Corp SSO 登录" in page
    with _client(server, {"Accept-Language": "fr-FR, de;q=0.9, zh-TW;q=0.3"}) as http:
        assert "登录 thinkgate" in http.get("/console/login").text  # the best we have
    with _client(server, {"Accept-Language": "fr-FR, en;q=0.1"}) as http:
        assert '<html lang="en">' in http.get("/console/login").text


@pytest.mark.parametrize("asked", ["xx", "../../etc/passwd", "zh-" + "x" * 5000, "%00"])
def test_an_unknown_language_falls_back_with_a_notice(server: ServerProcess, asked: str) -> None:
    with _client(server) as http:
        page = http.get("/console/login", params={"lang": asked})
        assert page.status_code == 200 and '<html lang="en">' in page.text
        assert "is not available; this page is in English" in page.text
    with _client(server, ZH) as http:
        http.cookies.set("tg_lang", asked[:100], path="/console")
        page = http.get("/console/login")
        assert page.status_code == 200 and "不支持语言" in page.text  # in the fallback: Chinese
        assert 'tg_lang=""' in page.headers.get(
            "set-cookie", ""
        ) or "tg_lang=;" in page.headers.get("set-cookie", "")


def test_the_switch_is_kept_per_user(server: ServerProcess) -> None:
    add_user(server, "lin", "lin-password-1")
    with _client(server) as http:
        assert sign_in(http, "lin", "lin-password-1").status_code == 303
        switched = http.get("/console/language?lang=zh-Hans&next=/console/keys")
        assert switched.status_code == 303 and switched.headers["location"] == "/console/keys"
        assert "tg_lang=zh_Hans" in switched.headers["set-cookie"]
        assert "API 令牌" in http.get("/console/keys").text
        evil = http.get("/console/language?lang=en&next=https://evil.example/")
        assert evil.headers["location"] == "/console"  # never an open redirect
        http.get("/console/language?lang=zh-Hans")
    with _client(server, {"Accept-Language": "en"}) as elsewhere:  # another browser
        assert sign_in(elsewhere, "lin", "lin-password-1").status_code == 303
        page = elsewhere.get("/console/dashboard").text
        assert "仪表盘" in page and "使用日志" in page  # the user's own setting


def test_messages_errors_dates_and_money_in_chinese(server: ServerProcess) -> None:
    member = add_user(server, "mei", "mei-password-1")
    add_key(server, member, "mei-key")
    with _client(server, ZH) as http:
        wrong = sign_in(http, "mei", "wrong-password")
        assert wrong.status_code == 401 and "用户名或密码错误。" in wrong.text
        assert sign_in(http, "mei", "mei-password-1").status_code == 303
        admin_only = http.get("/console/admin")
        assert admin_only.status_code == 403 and "此页面仅限管理员访问。" in admin_only.text
        no_csrf = http.post("/console/keys", data={"name": "x"})
        assert no_csrf.status_code == 403 and "安全令牌" in no_csrf.text
        token = csrf_of(http.get("/console/keys").text)
        bad = http.post("/console/keys", data={"csrf_token": token, "name": "", "rpm": "zero"})
        assert (
            bad.status_code == 400
            and "请为令牌命名" in bad.text
            and "每分钟请求数必须是" in bad.text
        )
        keys = http.get("/console/keys").text
        assert re.search(r"\d{4}年\d{1,2}月\d{1,2}日", keys)  # dates the Chinese way
        dashboard = http.get("/console/dashboard").text
        assert "US$" in dashboard and "次请求" in dashboard
        docs = http.get("/console/docs").text
        assert "API 文档" in docs and "创建回复" in docs and "curl" in docs
        assert http.get("/console/register").status_code == 404  # sign-up is closed
        assert "本站未开放注册" in http.get("/console/register").text
        assert http.get("/console/keys/key_nope").text.count("没有这个 API 令牌。") == 1


def test_every_message_has_a_chinese_translation() -> None:
    """Adding a message means translating it (`bash scripts/console-messages.sh`)."""
    with (CONSOLE / "locales" / "zh_Hans" / "LC_MESSAGES" / "messages.po").open("rb") as po:
        catalog = read_po(po)
    method_map = [("**.py", "python"), ("**/templates/**.html", "jinja2")]
    options = {"**/templates/**.html": {"extensions": "jinja2.ext.i18n", "trimmed": "true"}}
    keywords = {"_": None, "gettext": None, "ngettext": (1, 2), "N_": None}
    missing, broken = [], []
    for _file, _line, message, _comments, _context in extract_from_dir(
        str(CONSOLE), method_map, options, keywords=keywords
    ):
        msgid = message[0] if isinstance(message, tuple) else message
        entry = catalog.get(msgid)
        text = entry.string if entry is not None else None
        text = text[0] if isinstance(text, (tuple, list)) else text
        if not text or (entry is not None and entry.fuzzy):
            missing.append(msgid)
        elif sorted(re.findall(r"%\(\w+\)s", msgid)) != sorted(re.findall(r"%\(\w+\)s", text)):
            broken.append(msgid)
    assert not missing, f"untranslated: {missing}"
    assert not broken, f"placeholders differ: {broken}"


def test_sso_on_a_closed_console_admits_only_known_people(
    server: ServerProcess, provider: Provider
) -> None:
    provider.user = {
        "sub": "zed",
        "email": "zed@example.test",
        "email_verified": True,
        "name": "Zed",
    }
    with _client(server, ZH) as http:
        start = http.get("/console/sso/corp/start")
        answer = httpx.get(start.headers["location"], follow_redirects=False, timeout=30)
        refused = http.get(answer.headers["location"])
        assert refused.status_code == 403 and "zed@example.test" in refused.text
        assert "未开放注册" in refused.text
    with admin_api(server) as api:
        assert "Zed" not in [u["name"] for u in api.get("/admin/v1/users").json()["data"]]


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with chromium() as launched:
        yield launched


def test_main_pages_in_chinese_in_a_browser(browser: Any, server: ServerProcess) -> None:
    page = new_page(browser, "zh-CN")
    page.goto(f"{server.base_url}/console/login")
    assert page.inner_text("h1") == "登录 thinkgate"
    shoot(page, "zh-login")
    browser_sign_in(page, server.base_url, "admin", ADMIN_PASSWORD)
    page.goto(f"{server.base_url}/console/keys")
    page.fill("input[name=name]", "演示令牌")
    page.click("text=添加令牌 >> nth=-1")
    secret = page.inner_text("#new-key-secret").strip()
    assert secret.startswith("sk-tg-")
    shoot(page, "zh-tokens")
    make_client(server.base_url, secret).responses.create(
        model="gpt-5.1", input="Say hi.", max_output_tokens=16
    )
    for path, heading, name in [
        ("dashboard", "仪表盘", "zh-dashboard"),
        ("usage", "使用日志", "zh-usage"),
        ("playground", "在线体验", "zh-playground"),
        ("docs", "API 文档", "zh-api-docs"),
        ("admin", "管理", "zh-admin"),
        ("account", "我的账户", "zh-account"),
    ]:
        page.goto(f"{server.base_url}/console/{path}")
        assert page.inner_text("h1").startswith(heading)
        shoot(page, name)
    page.click("footer .languages a[data-lang=en]")  # the switch on every page
    page.wait_for_url("**/console/account")
    assert page.inner_text("h1") == "Your account"
    page.context.close()
