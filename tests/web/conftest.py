"""Browser fixtures: one running Hotline with real data, one Chromium, a fresh page (own
cookies) per test at 1366x768 in Chinese."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect, sync_playwright

from tests.web.world import CHROMIUM, CHROMIUM_ARGS, PASSWORD, World


# module scope: Playwright's sync API keeps an event loop running in the main thread while
# it is open, which the async tests after the browser module must not meet
@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    w = World(tmp_path_factory.mktemp("web"))
    w.seed()
    w.start()
    yield w
    w.stop()


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: run `make test-deps` (Debian's chromium)")
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield b
        b.close()


@pytest.fixture
def page(browser: Browser, world: World) -> Iterator[Page]:
    context = browser.new_context(
        base_url=world.base_url, viewport={"width": 1366, "height": 768}, locale="zh-CN"
    )
    context.set_default_timeout(10_000)
    p = context.new_page()
    yield p
    context.close()


def sign_in(page: Page, name: str, password: str = PASSWORD) -> None:
    """Fill the sign-in form the page shows now and submit it."""
    page.get_by_label("用户名").fill(name)
    page.get_by_label("密码").fill(password)
    page.get_by_role("button", name="登录").click()


def open_signed_in(page: Page, name: str, path: str = "/") -> None:
    page.goto(path)
    sign_in(page, name)
    expect(page.get_by_role("button", name="退出登录")).to_be_visible()
