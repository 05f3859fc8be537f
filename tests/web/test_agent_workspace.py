"""The agent's journeys in a real Chromium against the running service: the open workspace
pops the caller when a call is connected to the agent (driven by the bus messages the call
service and the ticket drafting publish, on the running app's own bus), the draft appears
when the call ends and is refined from the transcript; the agent hears a field's evidence,
edits and confirms the draft (a double click acts once, a stale page gets the Chinese 409);
another agent gets the API's 404 for it."""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Awaitable, Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

from playwright.sync_api import Page, expect

from hotline.api.app import Container
from hotline.core.bus import Message
from hotline.telephony.model import CallRecord, Outcome
from hotline.telephony.service import summary
from tests.factories import answered_call
from tests.tickets.test_service import GAS
from tests.web.conftest import open_signed_in
from tests.web.world import World


def on_server(world: World, work: Callable[[Container], Awaitable[Any]]) -> Any:
    """Run `work(container)` on the running service's own event loop (its bus and stores)."""
    server = world._server
    assert server is not None and server.servers
    loop = server.servers[0].get_loop()
    container: Container = server.config.app.state.container
    return asyncio.run_coroutine_threadsafe(work(container), loop).result(timeout=30)


def connected(call_id: str, number: str, agent: str = "PJSIP/1001") -> CallRecord:
    """The call as the tracker has it when the agent picks up: answered, not ended."""
    done = answered_call(call_id, number=number, agent=agent, at=datetime.now(UTC))
    return replace(
        done,
        ended_at=None,
        talk_seconds=None,
        hangup_by=None,
        hangup_cause=None,
        hangup_cause_text=None,
        outcome=Outcome.IN_PROGRESS,
    )


def publish_like_the_call_service(world: World, kind: str, record: CallRecord) -> None:
    """What CallService._commit does: store the record, then publish `call/<kind>`."""

    async def work(c: Container) -> None:
        await c.calls.save([record])
        await c.bus.publish(Message(f"call/{kind}", summary(record)))

    on_server(world, work)


def ended(record: CallRecord) -> CallRecord:
    answered = record.answered_at or datetime.now(UTC)
    return replace(
        record,
        ended_at=answered + timedelta(seconds=60),
        talk_seconds=60.0,
        outcome=Outcome.ANSWERED,
    )


def test_the_open_workspace_pops_the_caller_then_the_draft(page: Page, world: World) -> None:
    open_signed_in(page, "wang", "/workspace")
    expect(page.get_by_role("status").filter(has_text="已连接，等待来电")).to_be_visible()

    # li's call from another number must not pop on wang's page
    publish_like_the_call_service(world, "answered", connected("7.0", "13600136000", "PJSIP/1002"))
    # the switch connects a caller who rang before (call 1.1 of the seeded world) to wang
    call = connected("7.1", "13800138000")
    publish_like_the_call_service(world, "answered", call)
    started = time.monotonic()
    pop = page.get_by_role("region", name="来电弹屏")
    expect(pop.get_by_role("heading", name="来电 13800138000")).to_be_visible(timeout=1000)
    popped_s = time.monotonic() - started
    expect(pop.get_by_text("张先生")).to_be_visible()
    expect(pop.get_by_role("heading", name="历史来电（1 次）")).to_be_visible()
    expect(pop.get_by_text("13600136000")).to_have_count(0)
    assert popped_s < 1.0, f"the caller popped after {popped_s:.2f} s"

    # the call ends: the draft is made (the call-ended stage), then refined from the words
    publish_like_the_call_service(world, "ended", ended(call))

    async def draft(c: Container) -> int:
        rec = await c.tickets.on_call_ended(ended(call))
        assert rec is not None
        return rec.id

    tid = on_server(world, draft)
    expect(pop.get_by_role("link", name=f"打开工单 #{tid}")).to_be_visible()
    on_server(world, lambda c: c.tickets.on_call_transcript("7.1", GAS))
    expect(pop.get_by_text("报警/紧急")).to_be_visible()
    pop.get_by_role("link", name=f"打开工单 #{tid}").click()
    expect(page.get_by_role("heading", name=f"工单 #{tid}")).to_be_visible()


def test_the_workspace_reconnects_by_itself_when_its_stream_is_cut(
    page: Page, world: World
) -> None:
    open_signed_in(page, "wang", "/workspace")
    status = page.get_by_role("status").filter(has_text=re.compile("连接"))
    expect(status).to_have_text("已连接，等待来电")

    def cut_all() -> None:  # as the feed cuts a stream that falls behind
        from hotline.api.live_feed import _CUT

        server = world._server
        assert server is not None
        live = server.config.app.state.live

        async def work(_: Container) -> None:
            for client in list(live.feed._clients):
                live.feed.close(client)
                client.queue.put_nowait(_CUT)

        on_server(world, work)

    cut_all()
    expect(status).to_have_text("连接中断，正在重新连接…")
    expect(status).to_have_text("已连接，等待来电", timeout=10_000)
    publish_like_the_call_service(world, "answered", connected("7.2", "13500135000"))
    expect(
        page.get_by_role("region", name="来电弹屏").get_by_role("heading", name="来电 13500135000")
    ).to_be_visible(timeout=1000)


def _drafted_with_recording(world: World) -> int:
    """A draft of call 1.1 (archived recording), refined from its transcript."""

    async def work(c: Container) -> int:
        record = answered_call("1.1", number="13800138000", agent="PJSIP/1001")
        rec = await c.tickets.on_call_ended(replace(record, entered_at=datetime.now(UTC)))
        assert rec is not None
        await c.tickets.on_call_transcript("1.1", GAS)
        return rec.id

    tid: int = on_server(world, work)
    return tid


def test_the_agent_hears_the_evidence_edits_and_confirms_the_draft(
    page: Page, world: World
) -> None:
    tid = _drafted_with_recording(world)
    open_signed_in(page, "wang", f"/tickets/{tid}")
    expect(page.get_by_role("heading", name="草稿 · 报警/紧急 · 紧急")).to_be_visible()
    stale = page.context.new_page()  # the same ticket, left open in another tab
    stale.goto(f"/tickets/{tid}")

    # each extracted field with its evidence: click to hear that moment
    address = page.get_by_label("地址", exact=True)
    expect(address).to_have_value(re.compile("幸福路"))
    # the recording is 6 s long: the evidence near its end may finish playing before a poll
    # sees it, so the page notes where playback started
    page.evaluate(
        "() => document.getElementById('player').addEventListener('playing',"
        " e => { window.playedFrom = e.target.currentTime; })"
    )
    page.get_by_role("button", name=re.compile(r"^听录音：地址")).click()
    page.wait_for_function("() => window.playedFrom !== undefined && window.playedFrom >= 5")

    # form errors next to the field, then a real edit
    summary_box = page.get_by_role("textbox", name="摘要", exact=True)
    summary_box.fill("")
    page.get_by_role("button", name="保存修改").click()
    expect(page.get_by_text("请填写工单摘要：客户反映的问题")).to_be_visible()
    expect(page.get_by_role("textbox", name="摘要", exact=True)).to_have_attribute(
        "aria-invalid", "true"
    )
    page.get_by_role("textbox", name="摘要", exact=True).fill(
        "幸福路12号燃气泄漏，已告知客户离开房间"
    )
    page.get_by_role("textbox", name="承办单位", exact=True).fill("燃气抢修中心")
    page.get_by_role("button", name="保存修改").click()
    expect(page.get_by_role("status").filter(has_text="已保存修改")).to_be_visible()

    # 受理 with a double click: one confirmation in the history
    page.get_by_role("button", name="确认受理").dblclick()
    expect(page.get_by_role("status").filter(has_text="已确认受理")).to_be_visible()
    history = page.get_by_role("table", name="办理记录")
    expect(history.get_by_role("cell", name="确认受理", exact=True)).to_have_count(1)
    expect(page.get_by_role("button", name="确认受理")).to_have_count(0)
    expect(page.get_by_role("button", name="派发")).to_have_count(1)  # 002: the agent dispatches

    # the tab left open still offers 受理: the service refuses it, in Chinese
    stale.get_by_role("button", name="确认受理").click()
    expect(stale.get_by_role("alert").filter(has_text="不能「确认受理」")).to_be_visible()

    # my tickets: the confirmed ticket, filtered by state
    page.goto("/tickets?state=accepted")
    expect(page.get_by_role("link", name=f"#{tid}")).to_be_visible()


def test_another_agent_cannot_open_the_ticket(page: Page, world: World) -> None:
    tid = _drafted_with_recording(world)
    open_signed_in(page, "li", "/tickets")
    response = page.goto(f"/tickets/{tid}")
    assert response is not None and response.status == 404
    expect(page.get_by_role("heading", name="未找到（404）")).to_be_visible()
    api = page.request.get(f"/api/tickets/{tid}")
    assert api.status == 404  # the API, with the same session, says the same
    response = page.goto(f"/workspace/pop/{'1.1'}")
    assert response is not None and response.status == 404
