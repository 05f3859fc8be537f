"""The agent's desk in a real Chromium: a caller from a street under an outage notice pops
with the notice's wording at once, their file shows masked until the agent records the
identity check, and then the account (address, numbers) appears; the agent looks up the
answer to the caller's question on the pop; the notices page lists the notice in force."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from playwright.sync_api import Page, expect

from hotline.api.app import Container
from hotline.core.roles import Role
from hotline.customers.model import CustomerIn
from hotline.knowledge.model import Action, ArticleIn
from hotline.knowledge.notices import Area, NoticeIn, NoticeKind
from tests.web.conftest import open_signed_in
from tests.web.test_agent_workspace import connected, on_server, publish_like_the_call_service
from tests.web.world import World

WORDING = "因文三路燃气管道抢修暂停供气，预计今天18时前恢复，恢复前请关闭燃气阀门。"


def seed_desk(world: World) -> None:
    server = world._server
    assert server is not None
    desk = server.config.app.state.desk

    async def work(_: Container) -> None:
        now = datetime.now(UTC)
        await desk.customers.create(
            CustomerIn.make("100001", "张三", "西湖区文三路1号", ["13500135000"], "西湖区"),
            actor="chen",
            at=now,
        )
        await desk.notices.publish(
            NoticeIn(
                NoticeKind.GAS,
                "文三路停气",
                WORDING,
                Area.make([], ["文三路"], []),
                now - timedelta(minutes=5),
                now + timedelta(hours=6),
            ),
            actor="chen",
            now=now,
        )
        kb = desk.knowledge
        v = await kb.draft(
            ArticleIn(
                "缴费",
                "IC卡燃气表余额不足",
                "余额用完后燃气表自动关阀，请充值后插卡恢复用气。",
                ("欠费", "充值", "插卡"),
                now - timedelta(days=1),
                None,
            ),
            author="zhao",
            now=now,
        )
        for action, who, role in [
            (Action.SUBMIT, "zhao", Role.INSPECTOR),
            (Action.APPROVE, "chen", Role.SUPERVISOR),
            (Action.PUBLISH, "chen", Role.SUPERVISOR),
        ]:
            await kb.act(v.article_id, 1, action, actor=who, role=role, now=now)

    on_server(world, work)


def test_the_agent_sees_the_notice_and_the_file_after_the_identity_check(
    page: Page, world: World
) -> None:
    seed_desk(world)
    open_signed_in(page, "wang", "/workspace")
    expect(page.get_by_role("status").filter(has_text="已连接，等待来电")).to_be_visible()
    publish_like_the_call_service(world, "answered", connected("8.1", "13500135000"))

    pop = page.get_by_role("region", name="来电弹屏")
    notice = pop.get_by_role("alert", name="停气停水通知")
    expect(notice).to_contain_text("【停气】文三路停气")
    expect(notice).to_contain_text(WORDING)
    desk = pop.get_by_role("region", name="客户档案")
    expect(desk.get_by_text("户号 100001 · 张*")).to_be_visible()
    expect(desk.get_by_text("西湖区文三路1号")).to_have_count(0)  # not before the check

    check = desk.get_by_role("form", name="身份核实")
    check.get_by_role("checkbox", name="姓名").check()
    check.get_by_role("button", name="核实通过").click()
    expect(desk.get_by_text("已记录：身份未能核实，不能透露账户信息")).to_be_visible()
    expect(desk.get_by_text("西湖区文三路1号")).to_have_count(0)  # one detail is not enough

    check = desk.get_by_role("form", name="身份核实")
    check.get_by_role("checkbox", name="姓名").check()
    check.get_by_role("checkbox", name="地址").check()
    check.get_by_role("button", name="核实通过").click()
    expect(desk.get_by_role("status").filter(has_text="身份核实通过")).to_be_visible()
    account = desk.get_by_role("definition").filter(has_text="西湖区文三路1号")
    expect(account).to_be_visible()
    expect(desk.get_by_text("13500135000")).to_be_visible()

    # the customer asks about their card: the agent looks the answer up on the pop
    search = desk.get_by_role("search", name="通话中查知识库")
    search.get_by_label("客户的问题").fill("卡里没钱了 要冲值")
    search.get_by_role("button", name="查口径").click()
    hits = desk.get_by_role("list", name="知识库搜索结果")
    expect(hits).to_contain_text("IC卡燃气表余额不足")
    expect(hits).to_contain_text("请充值后插卡恢复用气")

    page.get_by_role("navigation", name="主菜单").get_by_role("link", name="停气停水通知").click()
    expect(page.get_by_role("heading", name="生效中（1）")).to_be_visible()
    expect(page.get_by_text(WORDING)).to_be_visible()
    expect(page.get_by_role("heading", name="发布通知")).to_have_count(0)  # agents do not publish


def test_a_supervisor_publishes_a_notice_and_one_covering_nobody_is_refused(
    page: Page, world: World
) -> None:
    server = world._server
    assert server is not None
    desk = server.config.app.state.desk
    on_server(
        world,
        lambda _: desk.customers.create(
            CustomerIn.make("100077", "李四", "拱墅区莫干山路7号", ["13500135077"]),
            actor="chen",
            at=datetime.now(UTC),
        ),
    )
    open_signed_in(page, "chen", "/notices")
    form = page.get_by_role("main")
    form.get_by_label("类型").select_option(label="停水")
    form.get_by_label("标题").fill("余杭区停水")
    form.get_by_label("答复口径").fill("余杭区管网检修停水，预计明早6时恢复。")
    form.get_by_label("预计恢复时间").fill(
        (datetime.now(UTC) + timedelta(days=1)).strftime("%Y-%m-%dT%H:%M")
    )
    form.get_by_label("影响区县（逗号或换行分隔）").fill("余杭区")
    form.get_by_role("button", name="发布通知").click()
    expect(page.get_by_role("alert").filter(has_text="影响范围内没有任何客户档案")).to_be_visible()

    form.get_by_label("标题").fill("莫干山路停气")
    form.get_by_label("答复口径").fill("莫干山路管道抢修，预计明早6时恢复。")
    form.get_by_label("预计恢复时间").fill(
        (datetime.now(UTC) + timedelta(days=1)).strftime("%Y-%m-%dT%H:%M")
    )
    form.get_by_label("影响区县（逗号或换行分隔）").fill("")
    form.get_by_label("影响街道/小区").fill("莫干山路")
    form.get_by_role("button", name="发布通知").click()
    expect(page.get_by_role("status").filter(has_text="通知已发布，影响 1 户")).to_be_visible()
    history = page.get_by_role("table", name="历史通知")
    expect(history.get_by_role("row").filter(has_text="莫干山路停气")).to_contain_text("生效中")
