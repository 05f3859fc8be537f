"""A supervisor's pages in a real browser: the wallboard follows the switch (a caller
waiting appears and leaves, red past the threshold), an urgent ticket is announced on an
open page the moment it is raised, a callback is cancelled from its page, the reports
draw their tables and charts with the API's workbook; an agent cannot open them."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import openpyxl
import pytest
from playwright.sync_api import Page, expect

from hotline.telephony.events import MemberChange
from hotline.telephony.model import SurveyResult
from hotline.telephony.store import CallStore
from hotline.telephony.survey_store import SurveyStore
from tests.web.conftest import open_signed_in
from tests.web.supervisor_seed import (
    caller_joins,
    caller_leaves,
    cut_streams,
    feed,
    member,
    publish,
    seed_supervision,
    stream_clients,
)
from tests.web.world import World

IDS: dict[str, int] = {}


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    """The usual world, with callbacks and tickets a supervisor attends to."""
    w = World(tmp_path_factory.mktemp("supervisor"))
    w.seed()
    IDS.update(w.run(seed_supervision))  # type: ignore[arg-type]
    w.start()
    yield w
    w.stop()


def wait_for_stream(world: World, at_least: int = 1) -> None:
    deadline = time.monotonic() + 10
    while stream_clients(world) < at_least:
        assert time.monotonic() < deadline, "the page did not open its live stream"
        time.sleep(0.05)


def test_the_wallboard_shows_a_waiting_caller_appear_and_leave(page: Page, world: World) -> None:
    open_signed_in(page, "chen", "/wallboard")
    expect(page.get_by_role("status").filter(has_text="实时连接正常")).to_be_visible()
    feed(world, member("PJSIP/1001", "工号1001"), member("PJSIP/1002", "工号1002"))
    feed(
        world,
        member(
            "PJSIP/1002",
            "工号1002",
            change=MemberChange.PAUSE,
            paused=True,
            paused_reason="小休",
        ),
    )
    agents = page.get_by_role("table", name="坐席")
    expect(agents.get_by_role("row", name=re.compile("工号1001"))).to_contain_text("空闲")
    expect(agents.get_by_role("row", name=re.compile("工号1002"))).to_contain_text("示忙（小休）")
    waiting = page.get_by_label("hotline 排队等待")
    expect(waiting).to_have_text("0")

    feed(world, caller_joins("7.1", "13812345678"))
    expect(waiting).to_have_text("1")
    callers = page.get_by_role("table", name="排队来电")
    expect(callers).to_contain_text("13812345678")
    expect(page.get_by_label("hotline 最长等待")).to_have_text(re.compile(r"00:0\d"))

    # a tighter threshold: the page comes back with a fresh snapshot, and the wait is red
    page.goto("/wallboard?max_wait=1")
    expect(page.get_by_label("hotline 排队等待")).to_have_text("1")
    expect(page.get_by_label("hotline 最长等待")).to_have_class(re.compile("alarm"))

    feed(world, caller_leaves("7.1"))
    expect(page.get_by_label("hotline 排队等待")).to_have_text("0")
    expect(page.get_by_role("table", name="排队来电")).not_to_contain_text("13812345678")
    expect(page.get_by_role("button", name="全屏")).to_be_visible()

    # the stream ends (as for a restart): the page reconnects by itself and starts again
    # from a snapshot, which has the caller who joined while it was away
    before = stream_clients(world)
    cut_streams(world)
    feed(world, caller_joins("7.2", "13611112222"))
    expect(page.get_by_role("table", name="排队来电")).to_contain_text("13611112222")
    expect(page.get_by_label("hotline 排队等待")).to_have_text("1")
    assert stream_clients(world) == before

    page.get_by_role("button", name="全屏").click()
    expect(page.get_by_role("button", name="退出全屏")).to_be_visible()
    assert page.evaluate("document.fullscreenElement && document.fullscreenElement.id") == (
        "wallboard"
    )
    publish(world, "alert/urgent_ticket", {"ticket_id": IDS["urgent"], "topic": "燃气泄漏"})
    in_full_screen = page.locator("#wallboard").get_by_role("alert")
    expect(in_full_screen).to_contain_text(f"紧急工单 {IDS['urgent']}")  # shown on the big screen
    page.get_by_role("button", name="退出全屏").click()
    expect(page.get_by_role("button", name="全屏")).to_be_visible()


def test_an_urgent_ticket_is_announced_on_an_open_page(page: Page, world: World) -> None:
    before = stream_clients(world)
    open_signed_in(page, "chen", "/callbacks")
    wait_for_stream(world, before + 1)
    ticket = IDS["urgent"]
    publish(
        world,
        "alert/urgent_ticket",
        {"ticket_id": ticket, "caller": "13700137000", "topic": "燃气泄漏", "unit": "抢修中心"},
    )
    banner = page.get_by_role("alert").filter(has_text=f"紧急工单 {ticket}")
    expect(banner).to_be_visible()
    expect(banner).to_contain_text("燃气泄漏")
    page.get_by_role("link", name=f"查看工单 {ticket}").click()
    expect(page).to_have_url(re.compile(f"/attention#ticket-{ticket}$"))
    urgent = page.get_by_role("region", name="紧急工单（未办结）")
    expect(urgent).to_contain_text("闻到很浓的燃气味")
    overdue = page.get_by_role("region", name="超时工单")
    expect(overdue).to_contain_text("投诉营业厅工作人员服务态度差")
    expect(overdue).to_contain_text("派发")


def test_a_supervisor_cancels_a_callback(page: Page, world: World) -> None:
    cb = IDS["callback"]
    open_signed_in(page, "chen", "/callbacks")
    row = page.get_by_role("row", name=f"回呼 {cb}")
    expect(row).to_contain_text("已排期")
    expect(row).to_contain_text("13500135000")
    page.get_by_role("button", name=f"取消回呼 {cb}").click()
    expect(row).to_contain_text("已取消")
    expect(page.get_by_role("button", name=f"重新回呼 {cb}")).to_be_visible()
    expect(page.get_by_role("button", name=f"取消回呼 {cb}")).to_have_count(0)
    api = page.request.get(f"/api/callbacks/{cb}")
    assert api.ok and api.json()["status"] == "cancelled"
    assert api.json()["updated_by"] == "chen"
    # the filter lists it under its new status
    page.goto("/callbacks?status=cancelled")
    expect(page.get_by_role("row", name=f"回呼 {cb}")).to_be_visible()
    # and a cancelled callback can be started again, with its attempts anew
    page.get_by_role("button", name=f"重新回呼 {cb}").click()
    row = page.get_by_role("row", name=f"回呼 {cb}")
    expect(row).to_contain_text("已重新排期")
    assert page.request.get(f"/api/callbacks/{cb}").json()["status"] in ("scheduled", "dialing")


def test_the_callbacks_page_shows_how_far_each_attempt_got(page: Page, world: World) -> None:
    cb = IDS["tried"]
    open_signed_in(page, "chen", "/callbacks")
    row = page.get_by_role("row", name=f"回呼 {cb}")
    expect(row).to_contain_text("已用尽重试次数")
    attempts = row.get_by_role("list", name=f"回呼 {cb} 各次进展").get_by_role("listitem")
    expect(attempts).to_have_count(2)
    expect(attempts.nth(0)).to_contain_text("第1次：客户已接听")
    expect(attempts.nth(1)).to_contain_text("第2次：已进入队列")
    expect(row).to_contain_text("客户在队列中等待时挂断")  # the last result
    # the scheduled one has not been tried yet
    expect(page.get_by_role("row", name=f"回呼 {IDS['callback']}")).to_contain_text("尚未呼叫")
    api = page.request.get(f"/api/callbacks/{cb}").json()
    assert [a["stage"] for a in api["attempts"]] == ["customer_answered", "queued"]


def test_reports_draw_tables_charts_and_offer_the_workbook(page: Page, world: World) -> None:
    open_signed_in(page, "chen", "/reports")
    expect(page).to_have_url(re.compile("/reports/service-level"))
    expect(page.get_by_role("heading", name="报表 · 服务水平日报")).to_be_visible()
    expect(page.get_by_role("img", name="各队列三声内接通率（条形图）")).to_be_visible()
    expect(page.get_by_role("table", name="各队列服务水平")).to_contain_text("hotline")
    for tab, chart in (
        ("工单", "各类别新建工单（条形图）"),
        ("质检", "各坐席平均分（条形图）"),
        ("坐席状态", "各坐席通话时长（条形图）"),
    ):
        page.get_by_role("navigation", name="报表种类").get_by_role("link", name=tab).click()
        expect(page.get_by_role("heading", name=f"报表 · {tab}日报")).to_be_visible()
        figure = page.get_by_role("figure").filter(has_text=chart.split("（")[0])
        expect(figure).to_be_visible()
        link = page.get_by_role("link", name="下载 Excel")
        href = link.get_attribute("href")
        assert href and "format=xlsx" in href
        got = page.request.get(href)
        assert got.ok and "spreadsheetml" in got.headers["content-type"]
    page.get_by_label("周期").select_option("month")
    page.get_by_role("button", name="查看").click()
    expect(page.get_by_role("heading", name="报表 · 坐席状态月报")).to_be_visible()


def test_an_agent_cannot_open_the_supervisor_pages(page: Page, world: World) -> None:
    open_signed_in(page, "wang", "/wallboard")
    expect(page.get_by_role("heading", name="无权操作")).to_be_visible()
    expect(page.get_by_role("navigation", name="主菜单")).not_to_contain_text("实时监控")
    for path in ("/callbacks", "/attention", "/reports/tickets"):
        assert page.goto(path).status == 403  # type: ignore[union-attr]


async def _unhappy_caller(sessions: Any) -> None:
    """The caller of 1.2 pressed 3 (不满意) in the post-call survey just now."""
    calls = CallStore(sessions)
    call = await calls.get("1.2")
    assert call is not None
    now = datetime.now(UTC)
    rated = replace(call, survey_offered_at=now, survey_result=SurveyResult.UNSATISFIED)
    await calls.save([rated])
    await SurveyStore(sessions).on_call_ended(rated)


def test_an_unsatisfied_caller_shows_on_the_call_and_in_the_satisfaction_report(
    page: Page, world: World
) -> None:
    world.run(_unhappy_caller)
    open_signed_in(page, "chen", "/reports/satisfaction")
    expect(page.get_by_role("heading", name="报表 · 满意度日报")).to_be_visible()
    agents = page.get_by_role("table", name="各坐席满意度")
    expect(agents.get_by_role("row").filter(has_text="PJSIP/1002")).to_contain_text("0.0%")
    unhappy = page.get_by_role("table", name="不满意评价")
    expect(unhappy).to_contain_text("13900139000")
    expect(page.get_by_role("heading", name=re.compile("工单回访满意度"))).to_be_visible()
    href = page.get_by_role("link", name="下载 Excel").get_attribute("href")
    assert href and page.request.get(href).ok
    unhappy.get_by_role("link", name="查看通话").click()
    expect(page.get_by_role("heading", name="通话详情")).to_be_visible()
    expect(page.get_by_role("definition").filter(has_text="不满意")).to_be_visible()


def test_a_callers_unsatisfied_verdict_is_announced_on_an_open_page(
    page: Page, world: World
) -> None:
    before = stream_clients(world)
    open_signed_in(page, "chen", "/callbacks")
    wait_for_stream(world, before + 1)
    payload = {"call_id": "1.2", "caller_number": "13900139000", "agent_member": "PJSIP/1002"}
    publish(world, "alert/survey_unsatisfied", payload)
    banner = page.get_by_role("alert").filter(has_text="客户不满意")
    expect(banner).to_contain_text("13900139000")
    expect(banner).to_contain_text("PJSIP/1002")
    banner.get_by_role("link", name="查看通话 1.2").click()
    expect(page).to_have_url(re.compile("/calls/1.2$"))


def test_a_years_ticket_report_is_made_in_the_background_and_downloaded(
    page: Page, world: World, tmp_path: Path
) -> None:
    """年报: the page does not wait for a year of tickets; it shows the job's progress bar,
    polled, and then the link to the workbook, which downloads and opens."""
    open_signed_in(page, "chen", "/reports/tickets")
    page.get_by_label("周期").select_option("year")
    page.get_by_role("button", name="查看").click()
    expect(page.get_by_role("heading", name="报表 · 工单年报")).to_be_visible()
    expect(page.get_by_role("progressbar", name="报表生成进度")).to_be_visible()
    link = page.get_by_role("link", name=re.compile(r"下载 客服热线工单年报 \d{4}年\.xlsx"))
    expect(link).to_be_visible(timeout=30_000)  # the job ran in the service's own worker
    expect(page.get_by_role("status")).to_have_text("已完成")
    expect(page.get_by_role("progressbar", name="报表生成进度")).to_have_attribute(
        "value", re.compile(r"[1-9]")
    )
    with page.expect_download() as got:
        link.click()
    saved = tmp_path / got.value.suggested_filename
    got.value.save_as(saved)
    assert saved.name.startswith("客服热线工单年报") and saved.suffix == ".xlsx"
    book = openpyxl.load_workbook(saved)
    assert book.sheetnames[:3] == ["汇总", "分类", "责任单位"]
    assert str(book["汇总"]["A1"].value).startswith("客服热线工单年报")
