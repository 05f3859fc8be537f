"""The ticket reports as the database computes them: the gas company's week gives the same
figures as the pure reference, and the 考核 table by unit and agent (on-time rate per step,
一次解决率, 回访处理率, 满意率, 有效投诉率, complaints against each) over a quarter."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from hotline.core import db
from hotline.core.periods import Period
from hotline.tickets.model import Category, Deadlines, Satisfaction, Source, State, Ticket
from hotline.tickets.store import TicketStore
from hotline.tickets.tables import TicketRow
from tests.tickets.test_reports import NOW, closed, gas_company_week, local, ticket


async def put(
    engine: AsyncEngine, tickets: list[Ticket], **extra: dict[str, object]
) -> TicketStore:
    sessions = db.session_factory(engine)
    async with sessions() as s, s.begin():
        for t in tickets:
            d = t.deadlines
            values = dict(
                id=t.id,
                call_id=t.call_id,
                caller_number=t.caller_number,
                agent=t.agent,
                state=t.state.value,
                category=t.category.value if t.category else None,
                urgent=t.urgent,
                complaint_level=int(t.complaint_level) if t.complaint_level else None,
                unit=t.unit,
                summary=t.summary,
                topic=t.topic,
                fields="[]",
                evidence="{}",
                edited=False,
                exposure=False,
                dispatch_by=d.dispatch_by,
                contact_by=d.contact_by,
                done_by=d.done_by,
                reply_by=d.reply_by,
                created_at=t.created_at,
                updated_at=t.created_at,
                dispatched_at=t.dispatched_at,
                replied_at=t.replied_at,
                closed_at=t.closed_at,
                overdue=t.overdue,
                overdue_steps="",
                satisfaction=t.satisfaction.value if t.satisfaction else None,
                reopened=t.reopened,
                close_reason=t.close_reason,
                version=1,
                source=t.source.value,
                on_spot=t.on_spot,
            )
            values.update(extra.get(str(t.id), {}))
            s.add(TicketRow(**values))
    return TicketStore(sessions)


async def test_the_database_gives_the_weeks_figures_of_the_reference(engine: AsyncEngine) -> None:
    from hotline.tickets.reports import summarize

    week = gas_company_week()
    week.append(replace(closed(ticket(20, local(27, 11), Category.CONSULT)), on_spot=True))
    week.append(ticket(21, local(27, 12), Category.REPAIR, source=Source.WECHAT))
    store = await put(engine, week)
    period = Period.parse("week", "2026-11-23")
    assert await store.period_report(period, NOW) == summarize(week, period, NOW)
    report = await store.period_report(period, NOW)
    assert report.on_spot == 1 and report.first_contact_rate == pytest.approx(1 / 18)
    assert {r.source: r.created for r in report.by_source} == {
        Source.PHONE: 17,
        Source.WECHAT: 1,
    }


async def test_the_assessment_table_by_unit_and_agent_over_a_quarter(engine: AsyncEngine) -> None:
    at = local(5, 10, month=10)  # October: the fourth quarter

    def due(t: Ticket) -> Ticket:
        return replace(
            t,
            deadlines=Deadlines(
                dispatch_by=t.created_at + timedelta(minutes=5),
                contact_by=t.created_at + timedelta(hours=2),
                done_by=t.created_at + timedelta(days=3),
            ),
        )

    tickets = [
        # 维修一所: two repairs, one contacted late; one followed up and satisfied
        replace(
            closed(due(ticket(1, at, Category.REPAIR, unit="维修一所")), Satisfaction.SATISFIED),
            replied_at=at + timedelta(days=1),
        ),
        replace(
            due(ticket(2, at, Category.REPAIR, unit="维修一所", state=State.REPLIED)),
            replied_at=at + timedelta(days=1),
            overdue=True,
        ),
        # a valid complaint against 维修一所 and agent 8002, handled by 客户服务部
        ticket(3, at, Category.COMPLAINT, unit="客户服务部", agent="8002"),
        ticket(4, at, Category.COMPLAINT, unit="客户服务部", agent="8002"),
        # 8001's consultation answered on the spot
        replace(closed(ticket(5, at, Category.CONSULT)), on_spot=True, replied_at=at),
    ]
    extra = {
        "2": {"overdue_steps": "contact"},
        "3": {
            "complaint_validity": "valid",
            "complained_unit": "维修一所",
            "complained_agent": "8002",
        },
        "4": {"complaint_validity": "invalid"},
    }
    store = await put(engine, tickets, **extra)
    quarter = Period.parse("quarter", "2026-Q4")
    units = {r.name: r for r in await store.assessment(quarter, "unit")}
    repair = units["维修一所"]
    assert repair.tickets == 2 and repair.by_category == {"repair": 2}
    assert (repair.dispatch_on_time, repair.contact_on_time, repair.done_on_time) == (1, 0.5, 1)
    assert repair.followup_rate == 0.5 and repair.satisfaction_rate == 1
    assert repair.complaints_against == 1 and repair.valid_complaint_rate is None
    assert units["客户服务部"].valid_complaint_rate == 0.5
    assert units[None].first_contact == 1  # the consultation: no unit, resolved at once
    agents = {r.name: r for r in await store.assessment(quarter, "agent")}
    assert agents["8002"].complaints_against == 1 and agents["8002"].tickets == 2
    assert agents["8001"].first_contact == pytest.approx(1 / 3)
    assert await store.assessment(Period.parse("year", "2025"), "unit") == []
