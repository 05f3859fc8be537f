"""Tickets over HTTP: the whole lifecycle with roles, as the people at the hotline live it.

The agent confirms the draft of their call, a supervisor dispatches and acts for the units
(start, 回退, reply, 延期), the agent calls the customer back (回访): 不满意 reopens the
ticket, the second handling ends 满意 -> 办结. Illegal moves are 409 with the reason, moves
above one's role 403, and the history lists every step."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from hotline.api import app as app_module
from hotline.core.roles import Role
from hotline.core.settings import Settings
from hotline.tickets.policy import PolicyError
from tests.factories import answered_call
from tests.tickets.test_service import GAS, Clock

T0 = datetime(2024, 11, 25, 2, 0, tzinfo=UTC)  # Monday 10:00 in Shanghai


@dataclass
class Api:
    client: httpx.AsyncClient
    container: app_module.Container
    tokens: dict[str, str]
    clock: Clock

    def _h(self, who: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[who]}"}

    async def get(self, who: str, url: str, **params: Any) -> httpx.Response:
        # httpx replaces a URL's own query string with `params`, even an empty one
        return await self.client.get(url, params=params or None, headers=self._h(who))

    async def post(self, who: str, url: str, body: dict[str, Any] | None = None) -> httpx.Response:
        return await self.client.post(url, json=body or {}, headers=self._h(who))

    async def act(self, who: str, tid: int, action: str, **body: Any) -> httpx.Response:
        return await self.post(who, f"/api/tickets/{tid}/actions/{action}", body)

    async def act_as(self, who: str, tid: int, action: str, if_match: str) -> httpx.Response:
        url = f"/api/tickets/{tid}/actions/{action}"
        return await self.client.post(url, json={}, headers={"If-Match": if_match, **self._h(who)})


@pytest.fixture
async def api(db_url: str, tmp_path: Path) -> AsyncIterator[Api]:
    container = app_module.build(Settings(data_dir=tmp_path, database_url=db_url))
    app = app_module.create_app(container=container)
    await app_module.start(container)
    clock = Clock(T0)
    container.tickets.clock = clock
    now = datetime.now(UTC)
    tokens = {}
    for name, role, agent in [
        ("wang", Role.AGENT, "PJSIP/1001"),
        ("li", Role.AGENT, "PJSIP/1002"),
        ("zhou", Role.AGENT, "1003"),  # named by the queue member name, not the interface
        ("boss", Role.SUPERVISOR, None),
    ]:
        await container.users.add(name, role, agent, now)
        tokens[name] = await container.users.issue_token(name, now)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://hotline") as client:
        yield Api(client, container, tokens, clock)
    await app_module.stop(container)


async def drafted(api: Api, call_id: str = "1.1") -> int:
    call = answered_call(call_id, at=T0)
    await api.container.calls.save([call])
    rec = await api.container.tickets.on_call_ended(call)
    assert rec is not None
    await api.container.tickets.on_call_transcript(call_id, GAS)
    return rec.id


async def test_the_whole_lifecycle_with_roles(api: Api) -> None:
    tid = await drafted(api)
    url = f"/api/tickets/{tid}"

    # the agent who took the call sees the filled-in draft; another agent does not
    r = await api.get("wang", url)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["state"] == "draft" and body["category"] == "emergency" and body["urgent"]
    # an agent sees the caller's number masked (issue 13: security.whole_pii_roles)
    assert body["agent"] == "PJSIP/1001" and body["caller_number"] == "138****8000"
    assert body["evidence"][0]["text"] == "燃气泄漏" and body["fields"]
    assert body["allowed_actions"] == [
        "confirm",
        "close_out_of_scope",
        "resolve_on_spot",
        "set_exposure",
    ]
    assert (await api.get("li", url)).status_code == 404
    assert (await api.get("li", "/api/tickets")).json()["total"] == 0
    assert (await api.get("wang", "/api/tickets")).json()["total"] == 1

    # the agent edits and confirms the draft; a draft is not dispatched before it is confirmed
    r = await api.client.patch(url, json={"summary": "幸福路12号燃气泄漏"}, headers=api._h("wang"))
    assert r.status_code == 200 and r.json()["summary"] == "幸福路12号燃气泄漏", r.text
    r = await api.act("wang", tid, "dispatch", unit="抢修中心")
    assert r.status_code == 409 and "confirm" in r.json()["message"]
    r = await api.act("wang", tid, "confirm")
    assert r.status_code == 200 and r.json()["state"] == "accepted", r.text
    r = await api.act("wang", tid, "confirm")
    assert r.status_code == 409
    assert r.json()["error"] == "ticket_illegal_transition"
    assert "受理" in r.json()["message"] and "dispatch" in r.json()["message"]

    # the supervisor dispatches; the unit (through the supervisor) returns it, with a reason
    assert (await api.act("boss", tid, "dispatch", unit="抢修中心")).json()["state"] == "dispatched"
    assert (await api.act("boss", tid, "start")).json()["state"] == "in_progress"
    r = await api.act("boss", tid, "return")
    assert r.status_code == 422 and "原因" in r.json()["message"]
    r = await api.act("boss", tid, "return", reason="燃气管道归燃气公司")
    assert r.json()["state"] == "accepted" and r.json()["unit"] is None
    await api.act("boss", tid, "dispatch", unit="燃气公司")
    await api.act("boss", tid, "start")

    # 延期: asked for the unit, approved by a supervisor, never by an agent
    done_by = datetime.fromisoformat(r.json()["deadlines"]["done_by"])
    new_due = (done_by + timedelta(days=2)).isoformat()
    ext = {"step": "done", "new_due": new_due, "reason": "等待配件", "unit": "燃气公司"}
    assert (await api.post("wang", f"{url}/extension", ext)).status_code == 403
    r = await api.post("boss", f"{url}/extension", ext)
    assert r.status_code == 200 and r.json()["extension"]["step"] == "done", r.text
    assert (await api.post("wang", f"{url}/extension/approve")).status_code == 403
    r = await api.post("boss", f"{url}/extension/approve")
    assert r.status_code == 200, r.text
    assert datetime.fromisoformat(r.json()["deadlines"]["done_by"]) == done_by + timedelta(days=2)
    assert r.json()["extension"] is None

    # the unit's answer, then the 回访: too early is refused with the time it is allowed
    api.clock.now = T0 + timedelta(hours=1)
    r = await api.act("boss", tid, "reply", reason="已更换阀门")
    assert r.json()["state"] == "replied" and r.json()["reply"] == "已更换阀门"
    # the 回访 result is entered by someone other than the ticket's own agent (issue 13)
    r = await api.post(
        "boss", f"{url}/followups", {"result": "reached", "satisfaction": "satisfied"}
    )
    assert r.status_code == 409 and r.json()["error"] == "followup_not_due"
    assert (await api.post("wang", f"{url}/followups/dial")).status_code == 503

    # 不满意 reopens it for a second handling
    api.clock.now = T0 + timedelta(hours=3)
    r = await api.post(
        "boss", f"{url}/followups", {"result": "reached", "satisfaction": "unsatisfied"}
    )
    assert r.status_code == 200, r.text
    assert r.json()["state"] == "dispatched" and r.json()["reopened"] == 1
    await api.act("boss", tid, "start")
    api.clock.now = T0 + timedelta(hours=4)
    await api.act("boss", tid, "reply", reason="已重新检修并试压")
    api.clock.now = T0 + timedelta(hours=6)
    r = await api.post("wang", f"{url}/followups", {"result": "unreachable", "note": "无人接听"})
    assert r.json()["state"] == "follow_up"
    api.clock.now = T0 + timedelta(hours=8)
    r = await api.post(
        "boss", f"{url}/followups", {"result": "reached", "satisfaction": "satisfied"}
    )
    body = r.json()
    assert body["state"] == "closed" and body["satisfaction"] == "satisfied"
    assert body["allowed_actions"] == []
    r = await api.act("wang", tid, "reopen")
    assert r.status_code == 409 and "办结" in r.json()["message"]

    # every step in the history, with who and why
    steps = [(e["action"], e["actor"]) for e in body["history"]]
    assert [a for a, _ in steps if a not in ("followup_attempt", "refine")] == [
        "draft",
        "alert_urgent",
        "edit",
        "confirm",
        "dispatch",
        "start",
        "return",
        "dispatch",
        "start",
        "request_extension",
        "approve_extension",
        "reply",
        "follow_up",
        "reopen",
        "start",
        "reply",
        "follow_up",
        "close",
    ]
    # shown in Chinese: each step, the service's own included, has its label
    labels = {e["action"]: e["label"] for e in body["history"]}
    assert labels["draft"] == "来电结束，生成工单草稿" and labels["return"] == "回退"
    assert labels["alert_urgent"] == "紧急告警" and labels["followup_attempt"] == "回访拨打"
    assert all(label != action for action, label in labels.items())
    ret = next(e for e in body["history"] if e["action"] == "return")
    assert ret["reason"] == "燃气管道归燃气公司" and ret["actor"] == "boss"
    r = await api.get("wang", f"{url}/followups")
    assert [(a["round"], a["result"]) for a in r.json()["attempts"]] == [
        (0, "reached"),
        (1, "unreachable"),
        (1, "reached"),
    ]


async def test_out_of_scope_split_and_list_filters(api: Api) -> None:
    tid = await drafted(api, "1.1")
    other = await drafted(api, "1.2")
    r = await api.act("wang", other, "close_out_of_scope", reason="咨询电信业务")
    assert r.json()["state"] == "closed" and "不属于受理范围" in r.json()["close_reason"]
    r = await api.post("wang", f"/api/tickets/{tid}/split", {"units": ["燃气公司", "路政所"]})
    assert r.status_code == 200, r.text
    assert [(t["unit"], t["parent_id"]) for t in r.json()] == [("燃气公司", None), ("路政所", tid)]
    r = await api.get("boss", "/api/tickets", state="draft")
    assert r.json()["total"] == 2
    r = await api.get("boss", "/api/tickets", unit="路政所")
    assert [t["parent_id"] for t in r.json()["items"]] == [tid]
    detail = (await api.get("wang", f"/api/tickets/{tid}")).json()
    # the caller's other tickets: the open split copy first, then the closed one
    assert [t["id"] for t in detail["caller_history"]["tickets"]][-1] == other
    assert (await api.get("wang", "/api/tickets/9999")).status_code == 404
    r = await api.act("wang", tid, "fly")
    assert r.status_code == 422 and "confirm" in r.json()["message"]


async def test_a_blank_required_field_or_exposure_on_a_non_complaint_is_refused(api: Api) -> None:
    tid = await drafted(api)
    for body in ({"summary": None}, {"urgent": None}, {"fields": None}):
        r = await api.client.patch(f"/api/tickets/{tid}", json=body, headers=api._h("wang"))
        assert r.status_code == 422, r.text
        assert "不能为空" in r.json()["message"] and "leave the field out" in r.json()["message"]
    r = await api.act("boss", tid, "set_exposure", reason="记者来电")  # a gas leak ticket
    assert r.status_code == 422 and r.json()["error"] == "not_a_complaint"
    assert "投诉" in r.json()["message"]


async def test_a_malformed_request_is_answered_in_chinese_with_the_field_named(api: Api) -> None:
    tid = await drafted(api)
    r = await api.act("boss", tid, "confirm", satisfaction="很好")
    assert r.status_code == 422 and r.json()["error"] == "invalid_input"
    assert r.json()["message"].startswith("请求参数有误") and "satisfaction" in r.json()["message"]
    r = await api.client.get(f"/api/tickets/{tid}")
    assert r.status_code == 401 and r.json()["message"].startswith("未登录")


async def test_an_agent_named_by_member_name_sees_the_tickets_of_their_calls(api: Api) -> None:
    call = replace(answered_call("3.1", at=T0, agent="PJSIP/1003"), agent_member="1003")
    await api.container.calls.save([call])
    rec = await api.container.tickets.on_call_ended(call)
    assert rec is not None and rec.ticket.agent == "PJSIP/1003"
    listed = (await api.get("zhou", "/api/tickets")).json()
    assert [t["id"] for t in listed["items"]] == [rec.id]
    assert (await api.get("zhou", f"/api/tickets/{rec.id}")).status_code == 200
    assert (await api.get("wang", f"/api/tickets/{rec.id}")).status_code == 404
    # a supervisor filtering by the member name finds it too
    by_member = (await api.get("boss", "/api/tickets", agent="1003")).json()
    assert [t["id"] for t in by_member["items"]] == [rec.id]


async def test_a_12345_transfer_entered_through_the_api(api: Api) -> None:
    body = {
        "source": "government",
        "source_ref": "12345-0042",
        "category": "repair",
        "summary": "市民反映幸福路燃气管道漏气",
        "received_at": "2024-11-25T09:30:00",
        "due": "2024-11-27T17:00:00",
    }
    r = await api.post("wang", "/api/tickets", body)
    assert r.status_code == 201, r.text
    t = r.json()
    assert (t["source"], t["source_label"], t["source_ref"]) == (
        "government",
        "政府转办（12345）",
        "12345-0042",
    )
    assert t["state"] == "accepted" and t["deadlines"]["done_by"] == "2024-11-27T17:00:00+08:00"
    assert (await api.get("wang", f"/api/tickets/{t['id']}")).status_code == 200  # theirs
    listed = (await api.get("boss", "/api/tickets?source=government")).json()
    assert [x["id"] for x in listed["items"]] == [t["id"]]
    r = await api.post("wang", "/api/tickets", {**body, "source_ref": None})
    assert r.status_code == 422 and "转办单号" in r.json()["message"]


async def test_a_supervisor_judges_a_complaint(api: Api) -> None:
    body = {"source": "visit", "category": "complaint", "summary": "营业员推诿"}
    tid = (await api.post("wang", "/api/tickets", body)).json()["id"]
    judgement = {"validity": "valid", "reason": "监控属实", "unit": "营业厅", "agent": "李四"}
    assert (await api.post("wang", f"/api/tickets/{tid}/judgement", judgement)).status_code == 403
    r = await api.post("boss", f"/api/tickets/{tid}/judgement", judgement)
    assert r.status_code == 200, r.text
    j = r.json()["judgement"]
    assert (j["validity_label"], j["unit"], j["agent"]) == ("有效投诉", "营业厅", "李四")
    assert r.json()["history"][-1]["label"] == "投诉认定"


async def test_closed_repairs_are_drawn_for_a_check_and_the_result_recorded(api: Api) -> None:
    svc = api.container.tickets
    ids = []
    for i in range(12):
        rec = await svc.create(
            source="visit", category="repair", summary=f"报修{i}", actor="wang", role="agent"
        )
        await svc.store.apply(
            rec.id, "close_out_of_scope", "wang", "agent", "测试", now=api.clock.now
        )
        ids.append(rec.id)
    r = await api.post("boss", "/api/ticket-verification/draw?period=quarter&date=2024-11-25")
    assert r.status_code == 200, r.text
    assert r.json()["period"] == "2024-Q4" and r.json()["share"] == 0.2
    queue = (await api.get("boss", "/api/ticket-verification")).json()
    assert [t["id"] for t in queue] == [2, 7, 9]  # the keyed hash of the ids: 3 of 12
    assert r.json()["drawn"] == 3 and all(t["verify_state"] == "pending" for t in queue)
    assert (await api.get("wang", "/api/ticket-verification")).status_code == 403
    r = await api.post("boss", "/api/tickets/7/verification", {"passed": True})
    assert r.status_code == 200 and r.json()["verify_state"] == "passed"
    r = await api.post("boss", "/api/tickets/8/verification", {"passed": True})
    assert r.status_code == 409  # not drawn


def test_a_bad_policy_file_stops_hotline_at_start(tmp_path: Path) -> None:
    bad = tmp_path / "policy.yaml"
    bad.write_text("policy: x\ncategories:\n  complaint: {done: 3x}\n", encoding="utf-8")
    settings = Settings(data_dir=tmp_path, tickets={"policy": bad})
    with pytest.raises(PolicyError, match=rf"{bad}:3 .*'3x'"):
        app_module.build(settings)


async def test_a_units_user_works_its_own_tickets_and_only_those(api: Api) -> None:
    now = datetime.now(UTC)
    users = api.container.users
    await users.add("qx", Role.UNIT, None, now, units=("抢修中心",))
    api.tokens["qx"] = await users.issue_token("qx", now)
    await users.add("yy", Role.UNIT, None, now, units=("营业厅", "计量所"))
    api.tokens["yy"] = await users.issue_token("yy", now)
    mine = (
        await api.post(
            "wang",
            "/api/tickets",
            {"source": "visit", "category": "repair", "summary": "燃气表漏气"},
        )
    ).json()["id"]
    other = (
        await api.post(
            "wang", "/api/tickets", {"source": "visit", "category": "service", "summary": "报装"}
        )
    ).json()["id"]
    await api.act("wang", mine, "dispatch", unit="抢修中心")
    await api.act("wang", other, "dispatch", unit="营业厅")

    listed = (await api.get("qx", "/api/tickets")).json()
    assert [t["id"] for t in listed["items"]] == [mine]
    assert (await api.get("qx", f"/api/tickets/{other}")).status_code == 404
    assert (await api.act("qx", other, "start")).status_code == 404  # another unit's ticket
    assert (await api.act("qx", mine, "confirm")).status_code == 403  # not a unit's step
    assert (
        await api.post(
            "qx", "/api/tickets", {"source": "visit", "category": "repair", "summary": "x"}
        )
    ).status_code == 403

    # 签收, contact, reply: the unit's own clocks run from its own steps
    api.clock.now = T0 + timedelta(minutes=30)
    assert (await api.act("qx", mine, "start")).json()["state"] == "in_progress"
    api.clock.now = T0 + timedelta(minutes=50)
    r = await api.act("qx", mine, "contact")
    assert r.status_code == 200, r.text
    r = await api.act("qx", mine, "reply", reason="已更换胶管")
    assert r.json()["state"] == "replied" and r.json()["reply"] == "已更换胶管"
    steps = [e for e in r.json()["history"] if e["action"] in ("start", "contact", "reply")]
    assert [(e["actor"], e["role"], e["detail"]["by_unit"]) for e in steps] == [
        ("qx", "unit", "抢修中心")
    ] * 3

    # a supervisor acts for the unit: the history says for whom
    r = await api.act("boss", other, "start")
    assert r.json()["history"][-1]["detail"]["for_unit"] == "营业厅"
    assert [t["id"] for t in (await api.get("yy", "/api/tickets")).json()["items"]] == [other]


async def test_a_unit_attaches_a_photo_to_its_ticket(api: Api) -> None:
    now = datetime.now(UTC)
    await api.container.users.add("qx", Role.UNIT, None, now, units=("抢修中心",))
    api.tokens["qx"] = await api.container.users.issue_token("qx", now)
    body = {"source": "visit", "category": "repair", "summary": "燃气表漏气"}
    tid = (await api.post("wang", "/api/tickets", body)).json()["id"]
    await api.act("wang", tid, "dispatch", unit="抢修中心")
    url = f"/api/tickets/{tid}/attachments"
    png = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64
    r = await api.client.post(
        url, files={"file": ("现场.png", png, "image/png")}, headers=api._h("qx")
    )
    assert r.status_code == 201, r.text
    assert (r.json()["name"], r.json()["content_type"]) == ("现场.png", "image/png")
    r = await api.client.post(
        url, files={"file": ("a.png", b"not an image", "image/png")}, headers=api._h("qx")
    )
    assert r.status_code == 422 and "JPG、PNG" in r.json()["message"]
    listed = (await api.get("qx", url)).json()
    assert [a["name"] for a in listed] == ["现场.png"]


async def test_a_supervisor_pages_the_ticket_list_by_cursor(api: Api) -> None:
    made = []
    for n in range(5):
        body = {"source": "visit", "category": "repair", "summary": f"燃气表漏气第{n}件"}
        made.append((await api.post("wang", "/api/tickets", body)).json()["id"])
    first = (await api.get("boss", "/api/tickets?source=visit&limit=2")).json()
    assert first["total"] == 5 and first["next_cursor"]
    seen = [t["id"] for t in first["items"]]
    cursor = first["next_cursor"]
    while cursor:
        page = (await api.get("boss", f"/api/tickets?source=visit&limit=2&cursor={cursor}")).json()
        seen += [t["id"] for t in page["items"]]
        cursor = page["next_cursor"]
    assert seen == sorted(made, reverse=True)  # newest first, each once
    r = await api.get("boss", "/api/tickets?cursor=nonsense")
    assert r.status_code == 422 and "翻页游标无效" in r.json()["message"]
