"""Playwright on Debian's Chromium for the console's accounts and language tests (the same
way tests/console/test_console_browser.py drives it): a module's browser, pages in a language, and
screenshots kept under docs/screenshots/ only with THINKGATE_UPDATE_SCREENSHOTS=1."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

CHROMIUM = Path("/usr/bin/chromium")
SHOTS = (
    Path(__file__).resolve().parents[2] / "docs" / "screenshots"
    if os.environ.get("THINKGATE_UPDATE_SCREENSHOTS") == "1"
    else Path(tempfile.gettempdir()) / "thinkgate-screenshots"
)
LAUNCH_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--font-render-hinting=none",
]


@contextmanager
def chromium() -> Iterator[Any]:
    """A headless Chromium, or the test skips (saying why)."""
    if not CHROMIUM.exists():
        pytest.skip("chromium is not installed (scripts/test-browser.sh could not install it)")
    sync_api = pytest.importorskip(
        "playwright.sync_api", reason="the playwright package is missing"
    )
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=LAUNCH_ARGS)
        try:
            yield browser
        finally:
            browser.close()


def new_page(browser: Any, language: str) -> Any:
    """A fresh browser profile whose Accept-Language is `language` (`en`, `zh-CN`)."""
    context = browser.new_context(
        viewport={"width": 1280, "height": 860}, locale=language, extra_http_headers={}
    )
    context.set_default_timeout(30_000)
    return context.new_page()


def shoot(page: Any, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


def sign_in(page: Any, base_url: str, login: str, password: str) -> None:
    page.goto(f"{base_url}/console/login")
    page.fill("input[name=login]", login)
    page.fill("input[name=password]", password)
    page.click("form[action='/console/login'] button[type=submit]")
    page.wait_for_url("**/console/dashboard")
