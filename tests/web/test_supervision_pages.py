"""Actions on the switch from the browser: a supervisor pauses, resumes, logs out and
listens to agents from the wallboard (with a confirmation before their phone rings, and
the switch's refusal next to the agent), then reads the actions log; an agent pauses
themselves on their workspace with a reason from the list and sees their own state.
The switch is tests.telephony.fake_switch.FakeSwitch; the live state is fed AMI events."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from hotline.api.users import UserStore
from hotline.telephony import events as ev
from tests.telephony.fake_switch import FakeSwitch
from tests.web.conftest import open_signed_in
from tests.web.supervisor_seed import QUEUE, feed, member, use_fake_switch
from tests.web.world import World

SWITCH = FakeSwitch()


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    """The usual world; chen has a phone; the app talks to a fake switch where 1001 is a
    dynamic member of the queue and 1002 a static one (it cannot be logged out)."""
    w = World(tmp_path_factory.mktemp("supervision"))
    w.seed()

    async def phone(sessions: Any) -> None:
        await UserStore(sessions).set_phone("chen", "PJSIP/9001")

    w.run(phone)
    w.start()
    SWITCH.members = {QUEUE: {"PJSIP/1001": True, "PJSIP/1002": False}}
    use_fake_switch(w, SWITCH)
    listing = [
        member(i, f"工号{i[-4:]}", change=ev.MemberChange.STATUS) for i in SWITCH.members[QUEUE]
    ]
    resync(w, listing)
    yield w
    w.stop()


def resync(world: World, listing: list[ev.MemberStatus]) -> None:
    """The AMI link comes up with this QueueStatus listing, as when the app connects: the
    live state then knows who is on a call (the service refuses to spy on an idle agent)."""

    async def work(app: Any) -> None:
        live = app.state.live
        live.service.resync(listing, datetime.now(UTC))
        await live.service.commit()

    world.on_server(work)


def talking(interface: str, name: str) -> ev.MemberStatus:
    return member(
        interface, name, change=ev.MemberChange.STATUS, device=ev.DeviceState.INUSE, in_call=True
    )


def paused(interface: str, name: str, reason: str | None) -> ev.MemberStatus:
    return member(
        interface,
        name,
        change=ev.MemberChange.PAUSE,
        paused=reason is not None,
        paused_reason=reason,
    )


def test_a_supervisor_acts_on_agents_from_the_wallboard(page: Page, world: World) -> None:
    open_signed_in(page, "chen", "/wallboard")
    agents = page.get_by_role("table", name="坐席")
    row = agents.get_by_role("row", name="坐席 工号1001")
    expect(row).to_contain_text("空闲")

    # 示忙 with a reason from the list: the switch is asked, and says so next to the row
    page.get_by_label("示忙原因 工号1001").select_option("培训")
    page.get_by_role("button", name="示忙 工号1001").click()
    expect(row.get_by_role("status")).to_have_text("已示忙（培训）")
    assert SWITCH.paused["PJSIP/1001"] == "培训"
    # the switch's own event then changes the state; the row offers 恢复
    feed(world, paused("PJSIP/1001", "工号1001", "培训"))
    expect(row).to_contain_text("示忙（培训）")
    expect(row.get_by_role("status")).to_have_text("已示忙（培训）")  # kept across redraws
    page.get_by_role("button", name="恢复 工号1001").click()
    expect(row.get_by_role("status")).to_have_text("已恢复接听")
    assert SWITCH.paused["PJSIP/1001"] is None
    feed(world, paused("PJSIP/1001", "工号1001", None))
    expect(page.get_by_role("button", name="示忙 工号1001")).to_be_visible()

    # 签出 a static member: the switch refuses, and its reason is shown in Chinese
    other = agents.get_by_role("row", name="坐席 工号1002")
    page.get_by_role("button", name=f"签出 工号1002 {QUEUE}").click()
    expect(other.get_by_role("status")).to_contain_text("静态成员")
    expect(other.get_by_role("status")).to_have_class(re.compile("error"))
    assert QUEUE in SWITCH.members and "PJSIP/1002" in SWITCH.members[QUEUE]

    # 监听 an agent with no call: refused before any phone rings
    page.get_by_role("button", name="监听 工号1001").click()
    dialog = page.get_by_role("dialog")
    expect(dialog).to_contain_text("PJSIP/9001")
    dialog.get_by_role("button", name="呼叫我的话机").click()
    expect(row.get_by_role("status")).to_contain_text("当前没有通话")
    assert SWITCH.originated == []

    # 耳语 on a call: cancelled first (nothing rings), then confirmed (the phone rings)
    feed(world, talking("PJSIP/1002", "工号1002"))
    expect(other).to_contain_text("通话")
    page.get_by_role("button", name="耳语 工号1002").click()
    page.get_by_role("dialog").get_by_role("button", name="取消").click()
    expect(page.get_by_role("dialog")).to_be_hidden()
    assert SWITCH.originated == []
    page.get_by_role("button", name="耳语 工号1002").click()
    expect(page.get_by_role("dialog")).to_contain_text("客户听不到")
    page.get_by_role("dialog").get_by_role("button", name="呼叫我的话机").click()
    expect(other.get_by_role("status")).to_have_text("耳语已建立：请在您的话机上收听")
    assert SWITCH.originated[-1]["channel"] == "PJSIP/9001"

    # the log lists every action, refused ones too
    page.get_by_role("link", name="操作记录", exact=True).click()
    expect(page.get_by_role("heading", name="坐席操作记录")).to_be_visible()
    log = page.get_by_role("table", name="操作记录")
    expect(log.get_by_role("row")).to_have_count(6)  # the header and five actions
    newest = log.get_by_role("row").nth(1)
    expect(newest).to_contain_text("耳语")
    expect(newest).to_contain_text("已执行")
    expect(log).to_contain_text("被拒绝")
    expect(log).to_contain_text("培训")
    page.get_by_label("坐席（分机）").fill("PJSIP/1002")
    page.get_by_role("button", name="查询").click()
    expect(log.get_by_role("row")).to_have_count(3)  # 签出 refused, 耳语


def test_an_agent_cannot_act_on_others_nor_read_the_log(page: Page, world: World) -> None:
    open_signed_in(page, "wang", "/supervision/actions")
    expect(page.get_by_role("heading", name="无权操作")).to_be_visible()
    expect(page.get_by_role("navigation", name="主菜单")).not_to_contain_text("坐席操作记录")


def test_an_agent_pauses_themselves_on_the_workspace(page: Page, world: World) -> None:
    open_signed_in(page, "wang", "/workspace")
    mine = page.get_by_role("region", name="我的状态")
    expect(mine).to_contain_text("当前状态：空闲")  # from the live stream's snapshot
    expect(mine.get_by_role("button", name="恢复")).to_be_hidden()
    options = mine.get_by_label("示忙原因").locator("option").all_inner_texts()
    assert options == ["小休", "用餐", "培训", "话后整理"]  # HOTLINE_LIVE__PAUSE_REASONS

    mine.get_by_label("示忙原因").select_option("用餐")
    mine.get_by_role("button", name="示忙").click()
    note = mine.get_by_role("status")
    expect(note).to_have_text("已示忙（用餐）：来电暂不会分配给您")
    assert SWITCH.paused["PJSIP/1001"] == "用餐"
    feed(world, paused("PJSIP/1001", "工号1001", "用餐"))  # the switch's event
    expect(mine).to_contain_text("当前状态：示忙（用餐）")
    expect(mine.get_by_role("button", name="示忙")).to_be_hidden()

    SWITCH.up = False  # the link is down: said so, and nothing changes
    try:
        mine.get_by_role("button", name="恢复").click()
        expect(note).to_contain_text("与交换机的连接中断")
        expect(note).to_have_class(re.compile("error"))
    finally:
        SWITCH.up = True
    mine.get_by_role("button", name="恢复").click()
    expect(note).to_have_text("已恢复接听")
    assert SWITCH.paused["PJSIP/1001"] is None
    feed(world, paused("PJSIP/1001", "工号1001", None))
    expect(mine).to_contain_text("当前状态：空闲")

    # recorded as the agent's own actions
    log = page.request.get("/api/supervision/actions?actor=wang")
    assert log.status == 403  # an agent does not read the log ...
    entries = world.app.state.supervision.store  # ... a supervisor does
    found = world.on_server(lambda app: entries.find(actor="wang"))
    assert [(e.action, e.reason, e.outcome) for e in found] == [  # type: ignore[attr-defined]
        ("unpause", None, "done"),
        ("unpause", None, "unavailable"),
        ("pause", "用餐", "done"),
    ]
