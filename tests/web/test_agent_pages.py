"""The agent workspace's pages over HTTP (no browser): what an agent sees and may do is what
the ticket and quality API let them, the forms say what is wrong next to the field, an
illegal move is the API's Chinese 409, and the workspace stream adds only the ticket ids of
the agent's own calls to the live stream."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest

from hotline.api import app as app_module
from hotline.api.live_feed import View
from hotline.core.bus import Message
from hotline.core.roles import Role
from hotline.core.settings import Settings
from hotline.web.agent_stream import WorkspaceView
from hotline.web.ticket_forms import chinese
from tests.factories import answered_call
from tests.tickets.test_service import GAS, Clock

T0 = datetime(2024, 11, 25, 2, 0, tzinfo=UTC)  # Monday 10:00 in Shanghai


@dataclass
class Site:
    client: httpx.AsyncClient
    container: app_module.Container
    tokens: dict[str, str]

    def h(self, who: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[who]}"}

    async def get(self, who: str, url: str) -> httpx.Response:
        return await self.client.get(url, headers=self.h(who))

    async def post(
        self, who: str, url: str, data: dict[str, object] | None = None
    ) -> httpx.Response:
        headers = {**self.h(who), "HX-Request": "true"}
        return await self.client.post(url, data=data or {}, headers=headers)  # type: ignore[arg-type]


@pytest.fixture
async def site(tmp_path: Path) -> AsyncIterator[Site]:
    url = f"sqlite+aiosqlite:///{tmp_path / 'hotline.db'}"
    container = app_module.build(Settings(data_dir=tmp_path, database_url=url))
    app = app_module.create_app(container=container)
    await app_module.start(container)
    container.tickets.clock = Clock(T0)
    now = datetime.now(UTC)
    tokens = {}
    for name, role, agent in [
        ("wang", Role.AGENT, "PJSIP/1001"),
        ("li", Role.AGENT, "PJSIP/1002"),
        ("boss", Role.SUPERVISOR, None),
    ]:
        await container.users.add(name, role, agent, now)
        tokens[name] = await container.users.issue_token(name, now)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://hotline") as client:
        yield Site(client, container, tokens)
    await app_module.stop(container)


async def drafted(site: Site, call_id: str = "1.1") -> int:
    call = answered_call(call_id, at=T0)
    await site.container.calls.save([call])
    rec = await site.container.tickets.on_call_ended(call)
    assert rec is not None
    await site.container.tickets.on_call_transcript(call_id, GAS)
    return rec.id


def text(r: httpx.Response) -> str:
    return re.sub(r"\s+", " ", r.text)


async def test_the_pop_shows_the_caller_history_and_the_draft(site: Site) -> None:
    earlier = answered_call("1.0", at=T0.replace(day=20), agent="PJSIP/1002")
    await site.container.calls.save([earlier])
    await site.container.tickets.on_call_ended(earlier)  # li's open draft of this number
    call = answered_call("1.1", at=T0)
    await site.container.calls.save([call])

    r = await site.get("wang", "/workspace/pop/1.1")
    assert r.status_code == 200, r.text
    body = text(r)
    assert "来电 13800138000" in body and "张先生" in body
    assert "历史来电（1 次）" in body and "未办结工单（1 张）" in body
    assert "通话结束后自动生成工单草稿" in body

    tid = await drafted(site)
    body = text(await site.get("wang", "/workspace/pop/1.1"))
    assert f"打开工单 #{tid}" in body and "未办结工单（1 张）" in body  # its own draft apart
    assert (await site.get("li", "/workspace/pop/1.1")).status_code == 404


async def test_an_agent_edits_and_confirms_and_a_second_confirm_is_the_apis_409(
    site: Site,
) -> None:
    tid = await drafted(site)
    page = text(await site.get("wang", f"/tickets/{tid}"))
    assert "核对并修改工单" in page and "燃气泄漏" in page
    assert ">确认受理</button>" in page and ">派发</button>" not in page  # confirm first
    assert ">即时办结</button>" in page
    assert "依据：" in page and "录音尚未归档" in page  # no recording yet: nothing to hear

    r = await site.post("wang", f"/tickets/{tid}/edit", {"summary": "", "category": "repair"})
    assert r.status_code == 422
    assert 'id="e-summary-error"' in r.text and "请填写工单摘要" in r.text

    r = await site.post("wang", f"/tickets/{tid}/edit", {"summary": "幸福路12号燃气泄漏"})
    assert r.status_code == 200, r.text
    assert "已保存修改" in r.text and "幸福路12号燃气泄漏" in r.text

    r = await site.post("wang", f"/tickets/{tid}/actions/confirm")
    assert r.status_code == 200 and "已确认受理" in r.text
    r = await site.post("wang", f"/tickets/{tid}/actions/confirm")
    assert r.status_code == 409
    assert r.text.startswith("工单当前状态为「受理」，不能「确认受理」") and "(" not in r.text

    api = await site.client.get(f"/api/tickets/{tid}", headers=site.h("wang"))
    assert api.json()["state"] == "accepted" and api.json()["summary"] == "幸福路12号燃气泄漏"


async def test_another_agents_ticket_is_the_apis_404_and_actions_need_the_role(
    site: Site,
) -> None:
    tid = await drafted(site)
    assert (await site.get("li", f"/tickets/{tid}")).status_code == 404
    r = await site.post("li", f"/tickets/{tid}/actions/confirm")
    assert r.status_code == 404
    await site.post("wang", f"/tickets/{tid}/actions/confirm")
    r = await site.post("wang", f"/tickets/{tid}/actions/start")
    assert r.status_code == 403  # the unit's step: not an agent's
    r = await site.post("wang", f"/tickets/{tid}/actions/dispatch", {"unit": ""})
    assert r.status_code == 422 and 'id="a-dispatch-unit-error"' in r.text
    r = await site.post("wang", f"/tickets/{tid}/actions/dispatch", {"unit": "抢修中心"})
    assert r.status_code == 200 and "已派发" in r.text  # 002: the first-contact agent dispatches
    r = await site.post("boss", f"/tickets/{tid}/actions/start")
    assert r.status_code == 200 and "回复" in r.text


async def test_followup_list_dial_and_a_manual_result(site: Site) -> None:
    tid = await drafted(site)
    svc = site.container.tickets
    await svc.act(tid, "confirm", actor="wang", role=Role.AGENT)
    await svc.act(tid, "dispatch", actor="boss", role=Role.SUPERVISOR, data={"unit": "燃气公司"})
    await svc.act(tid, "start", actor="boss", role=Role.SUPERVISOR)
    await svc.act(tid, "reply", actor="boss", role=Role.SUPERVISOR, reason="已修复")

    page = text(await site.get("wang", f"/tickets/{tid}"))
    assert ">拨打回访</button>" in page and "还没有回访" in page
    r = await site.post("wang", f"/tickets/{tid}/followups/dial")
    assert r.status_code == 422 and "未连接交换机" in r.text  # AMI is off here
    r = await site.post("wang", f"/tickets/{tid}/followups", {"result": "reached"})
    assert r.status_code == 422 and "满意度" in r.text
    reached = {"result": "reached", "satisfaction": "satisfied"}
    # the satisfaction of a ticket is not its own agent's to enter (issue 13)
    r = await site.post("boss", f"/tickets/{tid}/followups", reached)
    assert r.status_code == 422 and "现在不能回访" in r.text  # 2 hours after the reply
    site.container.tickets.clock = Clock(T0 + timedelta(hours=3))
    r = await site.post("boss", f"/tickets/{tid}/followups", reached)
    assert r.status_code == 200 and "已记录回访结果" in r.text, r.text
    assert "已联系上客户" in r.text


async def test_my_tickets_filter_and_are_mine_only(site: Site) -> None:
    tid = await drafted(site)
    await drafted(site, "1.2")
    other = answered_call("1.3", at=T0, agent="PJSIP/1002", number="13900139000")
    await site.container.calls.save([other])
    await site.container.tickets.on_call_ended(other)
    body = text(await site.get("wang", "/tickets"))
    assert "共 2 张工单" in body and "13900139000" not in body
    assert f'href="/tickets/{tid}"' in body
    assert "共 0 张工单" in text(await site.get("wang", "/tickets?state=closed"))
    r = await site.get("wang", "/tickets?state=nonsense")
    assert r.status_code == 200 and 'id="f-state-error"' in r.text


def test_the_workspace_stream_adds_only_ticket_ids_of_the_agents_own_calls() -> None:
    from hotline.api.users import User

    wang = User(1, "wang", Role.AGENT, "PJSIP/1001")
    view = WorkspaceView(wang)
    answered = {"call_id": "1.1", "agent_member": "PJSIP/1001", "caller_number": "138"}
    assert view(Message("call/answered", answered)) == answered
    view(Message("call/ended", answered))
    drafted_ = {"ticket_id": 7, "call_id": "1.1", "caller": "138", "agent": "X", "state": "draft"}
    assert view(Message("ticket/drafted", drafted_)) == {
        "ticket_id": 7,
        "call_id": "1.1",
        "state": "draft",
    }
    other = {**drafted_, "call_id": "9.9", "agent": "PJSIP/1002"}
    assert view(Message("ticket/drafted", other)) is None
    assert View(wang)(Message("ticket/drafted", drafted_)) is None  # the live stream alone
    boss = WorkspaceView(User(2, "boss", Role.SUPERVISOR, None))
    assert boss(Message("call/answered", answered)) is None  # a workspace pops one's own calls
    assert boss(Message("ticket/drafted", drafted_)) is None


def test_chinese_keeps_the_chinese_part_of_a_message() -> None:
    assert chinese("工单已办结 (the ticket is closed; reload it)") == "工单已办结"
    assert chinese("只有中文") == "只有中文"


async def test_my_scores_hits_and_an_appeal_raised_and_withdrawn(site: Site) -> None:
    from hotline.quality.model import Hit, Score
    from tests.asr.test_store import GAS as SPOKEN
    from tests.factories import pending_recording

    hit = Hit("forbidden_phrase", "agent", 8.4, 9.6, "我也没办法", 0.88, 15.0, False)
    for call_id, agent in (("q.1", "PJSIP/1001"), ("q.2", "PJSIP/1002")):
        rec = await pending_recording(
            site.container.recordings, call_id, agent=agent, queue="gas", at=T0
        )
        await site.container.transcripts.save(rec.id, call_id, SPOKEN, T0)
        await site.container.quality.save_score(
            call_id=call_id, recording_id=rec.id, agent=agent, queue="gas",
            call_started_at=T0, ring_seconds=4.0, within_rule=True,
            score=Score(call_id, 85.0, "良好", (hit,), pack="zh-CN@1"), now=T0,
        )  # fmt: skip

    body = text(await site.get("wang", "/my/quality"))
    assert 'href="/my/quality/q.1"' in body and "q.2" not in body
    assert (await site.get("wang", "/my/quality/q.2")).status_code == 404

    page = text(await site.get("wang", "/my/quality/q.1"))
    assert "我也没办法" in page and ">发起申诉</button>" in page
    assert 'href="/quality/calls/q.1"' in page  # the review page, read-only for agents
    hit_id = int(re.search(r"/my/quality/q\.1/hits/(\d+)/appeal", page).group(1))  # type: ignore[union-attr]

    r = await site.post("wang", f"/my/quality/q.1/hits/{hit_id}/appeal", {"reason": ""})
    assert r.status_code == 422 and f'id="reason-{hit_id}-error"' in r.text
    r = await site.post("wang", f"/my/quality/q.1/hits/{hit_id}/appeal", {"reason": "客户先挂断"})
    assert r.status_code == 200 and "申诉已提交" in r.text and ">撤销申诉</button>" in r.text
    appeal_id = int(re.search(r"/appeals/(\d+)/withdraw", r.text).group(1))  # type: ignore[union-attr]
    r = await site.post("li", f"/my/quality/q.1/appeals/{appeal_id}/withdraw")
    assert r.status_code == 409  # only the one who appealed
    r = await site.post("wang", f"/my/quality/q.1/appeals/{appeal_id}/withdraw")
    assert r.status_code == 200 and "申诉已撤销" in r.text and ">发起申诉</button>" in r.text
    assert "已撤销" in text(await site.get("wang", "/my/quality"))


async def test_an_agent_enters_a_12345_transfer_by_hand(site: Site) -> None:
    page = text(await site.get("wang", "/tickets/new"))
    assert "登记工单" in page and "政府转办（12345）" in page and "客户不需要回访" in page
    form = {"source": "government", "category": "repair", "summary": "市民反映燃气表漏气"}
    r = await site.post("wang", "/tickets/new", form)
    assert r.status_code == 422 and "转办单号" in r.text and 'aria-invalid="true"' in r.text
    r = await site.post("wang", "/tickets/new", {**form, "summary": ""})
    assert r.status_code == 422 and "请填写诉求内容" in r.text
    r = await site.post("wang", "/tickets/new", {**form, "source_ref": "12345-0042"})
    assert r.status_code == 303
    page = text(await site.get("wang", r.headers["location"]))
    assert "市民反映燃气表漏气" in page
    t = (await site.client.get("/api/tickets", headers=site.h("wang"))).json()["items"][0]
    assert (t["source"], t["source_ref"]) == ("government", "12345-0042")


async def test_a_units_user_signs_for_its_ticket_in_the_workspace(site: Site) -> None:
    now = datetime.now(UTC)
    users = site.container.users
    await users.add("qx", Role.UNIT, None, now, units=("抢修中心",))
    site.tokens["qx"] = await users.issue_token("qx", now)
    tid = await drafted(site)
    svc = site.container.tickets
    await svc.act(tid, "confirm", actor="wang", role=Role.AGENT)
    await svc.act(tid, "dispatch", actor="wang", role=Role.AGENT, data={"unit": "抢修中心"})
    listing = text(await site.get("qx", "/tickets"))
    assert f"/tickets/{tid}" in listing
    page = text(await site.get("qx", f"/tickets/{tid}"))
    assert ">签收并开始处理</button>" in page and ">确认受理</button>" not in page
    r = await site.post("qx", f"/tickets/{tid}/actions/start")
    assert r.status_code == 200 and "已签收并开始处理" in r.text
    other = await drafted(site, "1.2")
    assert (await site.get("qx", f"/tickets/{other}")).status_code == 404
