"""A day of post-call surveys seen by a supervisor (SQLite and PostgreSQL): each ended call
keeps its caller's verdict against the agent, a 不满意 raises one alert and heads the
supervisor's list, and the day's report gives 参评率 / 满意率 per agent and queue, as
JSON and as a workbook; agents see their own call's verdict but not the reports."""

from __future__ import annotations

import io
from dataclasses import replace
from datetime import timedelta

import openpyxl
import pytest

from hotline.core.bus import Message
from hotline.telephony.model import SurveyResult
from tests.api.test_tickets_api import T0, Api, api
from tests.factories import answered_call

__all__ = ["api"]  # the fixture
S = SurveyResult


def surveyed(call_id: str, result: SurveyResult | None, agent: str, queue: str, minute: int):
    call = answered_call(call_id, agent=agent, queue=queue, at=T0 + timedelta(minutes=minute))
    offered = call.ended_at - timedelta(seconds=8) if call.ended_at else None
    return replace(call, survey_offered_at=offered if result else None, survey_result=result)


async def test_a_day_of_surveys(api: Api) -> None:
    c = api.container
    alerts: list[Message] = []

    async def keep(m: Message) -> None:
        alerts.append(m)

    c.bus.subscribe("alert/", keep)
    calls = [
        surveyed("1.1", S.SATISFIED, "PJSIP/1001", "hotline", 0),
        surveyed("1.2", S.UNSATISFIED, "PJSIP/1001", "hotline", 5),
        surveyed("1.3", S.UNRATED, "PJSIP/1001", "hotline", 10),
        surveyed("1.4", S.BASIC, "PJSIP/1002", "vip", 15),
        surveyed("1.5", None, "PJSIP/1002", "vip", 20),  # no survey offered: not counted
    ]
    await c.calls.save(calls)
    for call in calls:
        await c.surveys.on_call_ended(call)
    await c.surveys.on_call_ended(calls[1])  # the same call handed over twice: one alert

    assert [(a.topic, a.payload["call_id"]) for a in alerts] == [
        ("alert/survey_unsatisfied", "1.2")
    ]
    assert "不满意" in alerts[0].payload["message"]

    r = await api.get("boss", "/api/calls/1.2")
    assert r.status_code == 200, r.text
    assert (r.json()["survey_result"], r.json()["survey_label"]) == ("unsatisfied", "不满意")
    mine = await api.get("wang", "/api/calls/1.3")  # 1001 is wang's phone
    assert mine.json()["survey_label"] == "未评价"
    assert (await api.get("li", "/api/calls/1.5")).json()["survey_result"] is None

    unhappy = await api.get("boss", "/api/surveys", result="unsatisfied")
    assert [(s["call_id"], s["label"], s["agent_member"]) for s in unhappy.json()] == [
        ("1.2", "不满意", "PJSIP/1001")
    ]
    assert len((await api.get("boss", "/api/surveys")).json()) == 4
    assert len((await api.get("boss", "/api/surveys", agent="PJSIP/1002")).json()) == 1

    day = T0.date().isoformat()
    report = (await api.get("boss", "/api/survey-reports", date=day)).json()
    assert report["title"] == "来电满意度日报 2024年11月25日"
    total = report["total"]
    assert (total["offered"], total["rated"], total["unrated"]) == (4, 3, 1)
    assert total["participation_pct"] == 75.0 and total["satisfaction_pct"] == 66.7
    agents = {a["key"]: a for a in report["agents"]}
    assert agents["PJSIP/1001"]["satisfaction_pct"] == 50.0
    assert agents["PJSIP/1001"]["participation_pct"] == 66.7
    assert agents["PJSIP/1002"]["satisfaction_pct"] == 100.0
    assert [q["key"] for q in report["queues"]] == ["hotline", "vip"]
    other = (await api.get("boss", "/api/survey-reports", date="2024-11-26")).json()
    assert other["total"]["offered"] == 0 and other["total"]["participation_pct"] is None

    week = await api.get("boss", "/api/survey-reports", period="week", date=day, format="xlsx")
    assert week.status_code == 200 and "filename*=UTF-8''" in week.headers["content-disposition"]
    book = openpyxl.load_workbook(io.BytesIO(week.content))
    assert book.sheetnames == ["汇总", "坐席", "队列"]
    assert [c.value for c in book["坐席"][1]][-2:] == ["参评率", "满意率"]

    assert (await api.get("wang", "/api/survey-reports")).status_code == 403
    assert (await api.get("wang", "/api/surveys")).status_code == 403
    bad = await api.get("boss", "/api/surveys", result="great")
    assert bad.status_code == 422 and "message" in bad.json()


@pytest.fixture
def unsatisfied_opens_a_ticket(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOTLINE_SURVEY__UNSATISFIED", "ticket")


async def test_a_hotline_whose_policy_opens_a_complaint_for_each_unsatisfied_caller(
    unsatisfied_opens_a_ticket: None, api: Api
) -> None:
    c = api.container
    assert c.settings.survey.unsatisfied == "ticket"
    unhappy = surveyed("2.1", S.UNSATISFIED, "PJSIP/1001", "hotline", 0)
    fine = surveyed("2.2", S.SATISFIED, "PJSIP/1001", "hotline", 5)
    await c.calls.save([unhappy, fine])
    for call in (unhappy, fine, unhappy):  # the same call twice: one complaint
        await c.surveys.on_call_ended(call)
        await c.tickets.on_call_ended(call)  # the call's own draft, as after every call

    found = (await api.get("boss", "/api/tickets", category="complaint")).json()
    assert found["total"] == 1, found
    t = found["items"][0]
    assert t["call_id"] == "2.1" and t["caller_number"] == unhappy.caller_number
    assert t["topic"] == "服务态度" and t["complaint_level"] == 3 and "不满意" in t["summary"]
    assert "PJSIP/1001" in t["summary"] and t["agent"] is None  # named, not its owner
    # the call's own draft is still the one found by the call
    own = await c.tickets.store.by_call("2.1")
    assert own is not None and own.ticket.category is None and own.id != t["id"]
    assert (await api.get("boss", "/api/tickets")).json()["total"] == 3  # two drafts + it
