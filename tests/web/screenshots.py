"""Draw the README's screenshots of every page: `python -m tests.web.screenshots [DIR]`
(default docs/screenshots). Same data and browser as the browser tests."""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

from playwright.sync_api import Page, sync_playwright

from hotline.telephony.events import MemberChange
from tests.telephony.fake_switch import FakeSwitch
from tests.web.supervisor_seed import (
    caller_joins,
    feed,
    member,
    publish,
    seed_supervision,
    use_fake_switch,
)
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
    ids: dict[str, int] = world.run(seed_supervision)  # type: ignore[assignment]
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
            _supervisor(page, world, ids, out)  # branch supervisor
            browser.close()
    finally:
        world.stop()


def _supervisor(page: Page, world: World, ids: dict[str, int], out: Path) -> None:
    """The wallboard with agents and waiting callers, an urgent ticket announced, callbacks,
    the tickets needing attention and the reports."""
    page.goto("/wallboard")
    page.get_by_text("实时连接正常").wait_for()
    feed(
        world,
        member("PJSIP/1001", "工号1001"),
        member("PJSIP/1002", "工号1002"),
        member("PJSIP/1003", "工号1003"),
        member(
            "PJSIP/1003", "工号1003", change=MemberChange.PAUSE, paused=True, paused_reason="小休"
        ),
        caller_joins("8.1", "13812345678"),
    )
    page.wait_for_timeout(2500)
    feed(world, caller_joins("8.2", "13998765432"))
    page.wait_for_timeout(1200)
    # branch webactions: a pause done and a log-out refused by the switch, next to their rows
    members = {"PJSIP/1001": True, "PJSIP/1002": False, "PJSIP/1003": True}
    use_fake_switch(world, FakeSwitch(members={"hotline": members}))
    page.get_by_role("button", name="示忙 工号1001").click()
    page.get_by_text("已示忙（小休）").wait_for()
    pause = member(
        "PJSIP/1001", "工号1001", change=MemberChange.PAUSE, paused=True, paused_reason="小休"
    )
    feed(world, pause)  # the switch's own event follows
    page.get_by_role("button", name="恢复 工号1001").wait_for()
    page.get_by_role("button", name="签出 工号1002 hotline").click()
    page.get_by_text("静态成员").wait_for()
    page.screenshot(path=out / "wallboard.png")
    page.goto("/supervision/actions")
    page.screenshot(path=out / "supervision-actions.png")
    page.goto("/callbacks")
    page.get_by_role("button", name="取消").first.wait_for()
    publish(
        world,
        "alert/urgent_ticket",
        {
            "ticket_id": ids["urgent"],
            "caller": "13700137000",
            "topic": "燃气泄漏",
            "unit": "抢修中心",
        },
    )
    page.get_by_text(f"紧急工单 {ids['urgent']}").wait_for()
    page.screenshot(path=out / "callbacks.png")
    for name, path in {
        "attention.png": "/attention",
        "report-service-level.png": "/reports/service-level",
        "report-tickets.png": "/reports/tickets",
        "report-agents.png": "/reports/agents",
    }.items():
        page.goto(path)
        page.screenshot(path=out / name, full_page=True)


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else Path("docs/screenshots"))
