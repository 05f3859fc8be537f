"""The 质检 review journey in a real Chromium: an inspector opens a scored call, plays it,
clicks an utterance and the audio jumps there, overturns a hit and sees the score change,
decides the rest with the keyboard and finalises; an agent reads their own call and
appeals, and cannot open another agent's."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from playwright.sync_api import Browser, Page, expect

from hotline.asr.transcript import Channel
from tests.recording import audio_fixtures as af
from tests.web.conftest import sign_in
from tests.web.review_seed import said, seed_scored_call, two_channel_transcript
from tests.web.world import World

AT = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=2)


@pytest.fixture(scope="module")
def review_world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    """A Hotline of its own with the usual users and one scored call of wang's."""
    base = tmp_path_factory.mktemp("review")
    kit = af.session_kit(tmp_path_factory.getbasetemp())
    w = World(base)
    w.seed()
    cut = kit.customer_s
    transcript = two_channel_transcript(
        customer=[said("我 家 的 燃气 表 坏 了", 0.3, Channel.CUSTOMER, frozenset({"燃气"}))],
        agent=[said("喂 我 不 知道 你 自己 先 查 清楚", cut + 0.2, Channel.AGENT)],
        duration_s=kit.customer_s + kit.agent_s,
    )

    async def work(sessions: Any) -> None:
        await seed_scored_call(
            sessions,
            w.settings(),
            call_id="9.1",
            agent="PJSIP/1001",
            number="13600136000",
            at=AT,
            customer_leg=kit.leg_in,
            agent_leg=kit.leg_out,
            transcript=transcript,
        )

    w.run(work)
    w.start()
    yield w
    w.stop()


@pytest.fixture
def rpage(browser: Browser, review_world: World) -> Iterator[Page]:
    context = browser.new_context(
        base_url=review_world.base_url, viewport={"width": 1366, "height": 768}, locale="zh-CN"
    )
    context.set_default_timeout(15_000)
    p = context.new_page()
    yield p
    context.close()


def open_as(page: Page, name: str, path: str) -> None:
    page.goto(path)
    sign_in(page, name)
    expect(page.get_by_role("button", name="退出登录")).to_be_visible()


def audio_time(page: Page) -> float:
    return float(page.evaluate("document.getElementById('review-audio').currentTime"))


def score(page: Page) -> str:
    return page.get_by_label("得分").inner_text()


def test_an_inspector_reviews_plays_overturns_and_finalises(rpage: Page) -> None:
    page = rpage
    open_as(page, "zhao", "/quality")
    expect(page.get_by_role("heading", name="质检复核队列")).to_be_visible()
    page.get_by_role("link", name="复核 9.1").click()
    expect(page.get_by_role("heading", name="质检复核 · 通话 9.1")).to_be_visible()
    # the waveform is drawn from the server's peaks, two channels
    page.wait_for_function("performance.getEntriesByName('review:waveform').length > 0")
    assert page.evaluate("window.hotlineReview.ws.getDecodedData().numberOfChannels") == 2
    expect(page.locator("#waveform-status")).to_have_text("")
    # low-confidence words are marked
    expect(page.locator(".line .low").first).to_have_text(re.compile("燃气"))

    page.get_by_role("button", name="播放", exact=True).click()
    page.wait_for_function("document.getElementById('review-audio').currentTime > 0.2")
    expect(page.get_by_role("button", name="暂停", exact=True)).to_be_visible()

    agent_line = page.get_by_role("button", name=re.compile("坐席说 喂我不知道"))
    start = float(agent_line.get_attribute("data-seek") or 0)
    agent_line.click()
    assert abs(audio_time(page) - start) < 0.5
    expect(page.locator(".line.playing")).to_contain_text("我不知道")
    page.get_by_role("button", name="暂停", exact=True).click()

    hits = page.locator("#hits li.hit")
    first = hits.first
    expect(first).to_contain_text("服务忌语")  # most severe first
    before = score(page)
    first.get_by_role("button", name="推翻", exact=True).click()
    expect(page.get_by_label("得分")).not_to_have_text(before)
    expect(first).to_contain_text("已推翻")
    assert float(score(page)) > float(before)

    # the rest with the keyboard: j selects the next hit, c confirms it
    page.locator("body").click(position={"x": 5, "y": 700})
    page.keyboard.press("j")
    page.keyboard.press("j")
    expect(hits.nth(1)).to_have_class(re.compile("selected"))
    page.keyboard.press("c")
    expect(hits.nth(1)).to_contain_text("已确认")
    expect(hits.nth(1)).to_have_class(re.compile("selected"))  # kept across the swap

    page.get_by_role("button", name="定稿", exact=True).click()
    expect(page.get_by_role("button", name="重新打开", exact=True)).to_be_visible()
    expect(page.get_by_text("已定稿").first).to_be_visible()
    expect(page.get_by_role("button", name="推翻", exact=True)).to_have_count(0)
    history = page.locator(".history")
    expect(history).to_contain_text("推翻扣分")
    expect(history).to_contain_text("定稿")


def test_an_agent_reads_their_own_call_appeals_and_cannot_open_others(rpage: Page) -> None:
    page = rpage
    open_as(page, "wang", "/quality")
    expect(page.get_by_role("heading", name="我的质检")).to_be_visible()
    page.get_by_role("link", name="9.1").click()
    expect(page.get_by_role("button", name="确认", exact=True)).to_have_count(0)
    expect(page.get_by_role("button", name="定稿", exact=True)).to_have_count(0)
    hit = (
        page.locator("#hits li.hit")
        .filter(has=page.get_by_role("button", name="申诉", exact=True))
        .first
    )
    hit.get_by_label("申诉理由").fill("客户先挂断，我没有机会说结束语")
    hit.get_by_role("button", name="申诉", exact=True).dblclick()  # twice: one appeal
    expect(page.get_by_text("申诉已提交")).to_be_visible()
    expect(page.locator(".appeal")).to_have_count(1)

    page.goto("/quality/calls/9.1")
    sign_out = page.get_by_role("button", name="退出登录")
    sign_out.click()
    sign_in(page, "li")
    page.goto("/quality/calls/9.1")
    expect(page.get_by_role("heading", name="未找到（404）")).to_be_visible()


def plays(world: World, actor: str) -> int:
    """How many times the audit log says `actor` was sent the audio."""
    from hotline.recording.store import RecordingStore

    async def work(sessions: Any) -> int:
        found = await RecordingStore(sessions).audit_log(actor=actor, action="play", limit=1000)
        return len(found)

    return int(world.run(work))  # type: ignore[call-overload]


def test_opening_the_review_page_sends_no_audio_until_play(
    rpage: Page, review_world: World
) -> None:
    page = rpage
    open_as(page, "zhao", "/quality")
    before = plays(review_world, "zhao")
    page.goto("/quality/calls/9.1")
    page.wait_for_function("performance.getEntriesByName('review:waveform').length > 0")
    expect(page.get_by_role("button", name="播放", exact=True)).to_be_visible()
    page.wait_for_timeout(500)  # time enough for a preload to have started
    assert page.evaluate("document.getElementById('review-audio').getAttribute('src')") is None
    assert (
        page.evaluate(
            "performance.getEntriesByType('resource').filter(e => e.name.includes('/audio')).length"
        )
        == 0
    )
    assert plays(review_world, "zhao") == before  # the waveform alone: nobody listened

    page.get_by_role("button", name="播放", exact=True).click()
    page.wait_for_function("document.getElementById('review-audio').currentTime > 0.2")
    assert plays(review_world, "zhao") > before

    # a fresh page: clicking an utterance fetches the audio from there, and is a play too
    page.reload()
    page.wait_for_function("performance.getEntriesByName('review:waveform').length > 0")
    after_play = plays(review_world, "zhao")
    line = page.get_by_role("button", name=re.compile("坐席说 喂我不知道"))
    start = float(line.get_attribute("data-seek") or 0)
    line.click()
    page.wait_for_function("document.getElementById('review-audio').readyState >= 1")
    assert abs(audio_time(page) - start) < 0.5
    assert plays(review_world, "zhao") > after_play
