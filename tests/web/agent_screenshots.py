"""Draw the README's screenshots of the agent workspace: `python -m tests.web.agent_screenshots
[DIR]` (default docs/screenshots). Same data and browser as the browser tests; the call is
popped by publishing the call service's own bus messages on the running app."""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

from playwright.sync_api import expect, sync_playwright

from hotline.api.app import Container
from hotline.quality.model import Hit, Score
from hotline.telephony.events import DeviceState, MemberChange
from tests.factories import answered_call
from tests.tickets.test_service import GAS
from tests.web.supervisor_seed import feed, member
from tests.web.test_agent_workspace import (
    connected,
    ended,
    on_server,
    publish_like_the_call_service,
)
from tests.web.world import CHROMIUM, CHROMIUM_ARGS, PASSWORD, STARTED, World


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
            page.goto("/login?next=/workspace")
            page.get_by_label("用户名").fill("wang")
            page.get_by_label("密码").fill(PASSWORD)
            page.get_by_role("button", name="登录").click()
            expect(page.get_by_role("status").filter(has_text="已连接")).to_be_visible()

            call = connected("8.1", "13800138000")
            publish_like_the_call_service(world, "answered", call)
            publish_like_the_call_service(world, "ended", ended(call))

            async def draft(c: Container) -> int:
                rec = await c.tickets.on_call_ended(ended(call))
                assert rec is not None
                await c.tickets.on_call_transcript("8.1", GAS)
                old = await c.tickets.on_call_ended(answered_call("1.1", at=STARTED))
                assert old is not None
                await c.tickets.on_call_transcript("1.1", GAS)
                hit = Hit("forbidden_phrase", "agent", 4.0, 5.0, "我也没办法", 0.88, 15.0, False)
                await c.quality.save_score(
                    call_id="1.1", recording_id=world.recordings["1.1"], agent="PJSIP/1001",
                    queue="hotline", call_started_at=STARTED, ring_seconds=4.0,
                    within_rule=True, now=STARTED,
                    score=Score("1.1", 85.0, "良好", (hit,), pack="zh-CN@1"),
                )  # fmt: skip
                return old.id

            tid = on_server(world, draft)
            expect(page.get_by_role("link", name="打开工单")).to_be_visible()
            on_call = member(  # the agent's own state, as the switch reports it
                "PJSIP/1001", "工号1001", change=MemberChange.STATUS, device=DeviceState.INUSE
            )
            feed(world, on_call)
            expect(page.get_by_text("当前状态：通话")).to_be_visible()
            page.screenshot(path=out / "agent-workspace.png")
            for name, path in {
                "agent-ticket.png": f"/tickets/{tid}",
                "agent-tickets.png": "/tickets",
                "agent-quality.png": "/my/quality/1.1",
            }.items():
                page.goto(path)
                page.screenshot(path=out / name)
            browser.close()
    finally:
        world.stop()


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else Path("docs/screenshots"))
