"""Draw the README's screenshots of every page: `python -m tests.web.screenshots [DIR]`
(default docs/screenshots). Same data and browser as the browser tests."""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

from playwright.sync_api import Page, sync_playwright

from tests.web.world import CHROMIUM, CHROMIUM_ARGS, PASSWORD, World


def _sign_in(page: Page, name: str) -> None:
    page.goto("/login")
    page.get_by_label("用户名").fill(name)
    page.get_by_label("密码").fill(PASSWORD)
    page.get_by_role("button", name="登录").click()
    page.get_by_role("button", name="退出登录").wait_for()


def main(out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    world = World(Path(tempfile.mkdtemp()))
    world.seed()
    world.start()
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            context = browser.new_context(
                base_url=world.base_url, viewport={"width": 1366, "height": 768}, locale="zh-CN"
            )
            page = context.new_page()
            page.goto("/login")
            page.screenshot(path=out / "login.png")
            _sign_in(page, "liu")
            shots = {
                "home.png": "/",
                "calls.png": "/calls",
                "call.png": "/calls/1.1",
                "recordings.png": "/recordings?q=燃气泄漏",
                "recording.png": f"/recordings/{world.recordings['1.1']}",
                "audit.png": "/audit",
            }
            page.goto(shots["recording.png"])
            page.locator("audio").evaluate("a => a.play()")
            page.wait_for_timeout(500)
            for name, path in shots.items():
                page.goto(path)
                page.screenshot(path=out / name)
            browser.close()
    finally:
        world.stop()


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else Path("docs/screenshots"))
