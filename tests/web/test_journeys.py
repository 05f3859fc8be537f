"""The browser journeys of the workspace, in a real Chromium against the running service:
sign in and out, idle expiry, CSRF, an agent kept to their own calls, and records staff
finding a call by a spoken word, playing it and seeing the play in the audit log."""

from __future__ import annotations

import re

from playwright.sync_api import Page, expect

from tests.web.conftest import open_signed_in, sign_in
from tests.web.world import World


def test_sign_in_lands_on_the_roles_home_and_sign_out_ends_the_session(page: Page) -> None:
    page.goto("/")
    expect(page).to_have_url(re.compile(r"/login\?next=%2F$"))
    sign_in(page, "wang", "wrong-password")
    expect(page.get_by_text("用户名或密码不正确")).to_be_visible()
    expect(page.get_by_label("密码")).to_have_attribute("aria-invalid", "true")

    sign_in(page, "wang")
    expect(page.get_by_role("heading", name="我的最近通话")).to_be_visible()
    menu = page.get_by_role("navigation", name="主菜单")
    expect(menu.get_by_role("link", name="通话记录")).to_be_visible()
    expect(menu.get_by_role("link", name="审计日志")).to_have_count(0)  # agents have none
    expect(page.get_by_text("13800138000")).to_be_visible()
    expect(page.get_by_text("13900139000")).to_have_count(0)  # li's call

    page.get_by_role("button", name="退出登录").click()
    expect(page).to_have_url(re.compile(r"/login$"))
    page.go_back()
    expect(page.get_by_role("button", name="登录")).to_be_visible()
    expect(page.get_by_text("13800138000")).to_have_count(0)
    assert page.context.cookies() == [] or all(
        c["name"] != "hotline_session" for c in page.context.cookies()
    )


def test_supervisor_and_admin_menus_follow_the_role(page: Page) -> None:
    open_signed_in(page, "chen")
    expect(page.get_by_role("heading", name="今日服务水平")).to_be_visible()
    expect(page.get_by_role("link", name="审计日志")).to_have_count(0)
    page.goto("/audit")
    expect(page.get_by_role("heading", name="无权操作（403）")).to_be_visible()


def test_an_expired_session_signs_in_again_and_returns_to_the_page(
    page: Page, world: World
) -> None:
    open_signed_in(page, "zhao", "/calls?outcome=answered")
    expect(page.get_by_role("heading", name="通话记录")).to_be_visible()
    world.expire_sessions("zhao")
    page.goto("/recordings?number=139")
    expect(page.get_by_text("登录已超时，请重新登录")).to_be_visible()
    sign_in(page, "zhao")
    expect(page).to_have_url(re.compile(r"/recordings\?number=139$"))
    expect(page.get_by_role("heading", name="录音检索")).to_be_visible()
    expect(page.get_by_role("status").filter(has_text="共 1 条录音")).to_be_visible()


def test_a_post_without_the_csrf_token_is_refused_in_chinese(page: Page, world: World) -> None:
    open_signed_in(page, "liu", f"/recordings/{world.recordings['1.2']}")
    page.evaluate(
        """id => {
            const form = document.createElement("form");
            form.method = "post";
            form.action = `/recordings/${id}/important`;
            const field = document.createElement("input");
            field.name = "important"; field.value = "true";
            form.append(field);
            document.body.append(form);
            form.submit();
        }""",
        world.recordings["1.2"],
    )
    expect(page.get_by_role("alert").filter(has_text="安全校验未通过")).to_be_visible()
    page.goto(f"/recordings/{world.recordings['1.2']}")
    expect(page.get_by_text("普通录音")).to_be_visible()  # nothing changed


def test_an_agent_cannot_reach_another_agents_call(page: Page, world: World) -> None:
    open_signed_in(page, "wang")
    response = page.goto("/calls/1.2")
    assert response is not None and response.status == 404
    expect(page.get_by_role("heading", name="未找到（404）")).to_be_visible()
    response = page.goto(f"/recordings/{world.recordings['1.2']}")
    assert response is not None and response.status == 404
    api = page.request.get("/api/calls/1.2")
    assert api.status == 404  # the API, with the same session, says the same
    response = page.goto("/calls/1.1")
    assert response is not None and response.status == 200
    expect(page.get_by_role("heading", name="通话详情")).to_be_visible()


def test_records_staff_find_a_call_by_a_spoken_word_play_it_and_see_the_play_audited(
    page: Page, world: World
) -> None:
    open_signed_in(page, "liu")
    page.get_by_role("navigation", name="主菜单").get_by_role("link", name="录音检索").click()
    page.get_by_role("searchbox", name="通话内容（说过的话）").fill("燃气泄漏")
    page.get_by_role("button", name="检索").click()
    results = page.get_by_role("table", name="检索结果")
    expect(results.get_by_text("我家燃气泄漏了")).to_be_visible()
    rid = world.recordings["1.1"]
    results.get_by_role("link", name=f"录音详情 {rid}").click()
    expect(page.get_by_role("heading", name=f"录音详情（编号 {rid}）")).to_be_visible()
    expect(page.get_by_role("link", name="下载录音")).to_be_visible()

    player = page.get_by_label(f"播放录音 {rid}")
    player.evaluate(
        "a => { window.__played = new Promise(ok => a.addEventListener('playing', () => ok(true)));"
        " return a.play(); }"
    )
    assert page.evaluate("() => window.__played") is True
    page.wait_for_function(
        "id => document.getElementById(id).currentTime > 0.2", arg="player", timeout=10_000
    )

    page.get_by_role("link", name="审计日志").click()
    page.get_by_label("操作人").fill("liu")
    page.get_by_label("操作", exact=True).select_option("play")
    page.get_by_role("button", name="查询").click()
    rows = page.get_by_role("table", name="审计记录").get_by_role("row")
    expect(rows.filter(has_text=f"录音 {rid}").filter(has_text="播放").first).to_be_visible()


def test_a_recording_not_archived_says_so_instead_of_a_player(page: Page, world: World) -> None:
    open_signed_in(page, "zhao", f"/recordings/{world.recordings['1.3']}")
    expect(page.get_by_text("录音归档失败，不能播放：交换机录音文件不存在")).to_be_visible()
    expect(page.locator("audio")).to_have_count(0)


def test_records_staff_put_a_recording_on_legal_hold(page: Page, world: World) -> None:
    open_signed_in(page, "liu", f"/recordings/{world.recordings['1.2']}")
    page.get_by_role("button", name="设置法律保全").click()
    expect(page.get_by_text("设置法律保全需要填写原因")).to_be_visible()
    page.get_by_label("保全原因（如案件编号）").fill("（2026）京01民初123号")
    page.get_by_role("button", name="设置法律保全").click()
    expect(page.get_by_role("status").filter(has_text="已设置法律保全")).to_be_visible()
    expect(page.get_by_role("button", name="解除法律保全")).to_be_visible()
