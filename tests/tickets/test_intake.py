"""Tickets from every channel and 回访 as the customer asked: a 12345 transfer with its own
deadline, a WeChat message under Wuhan's 100 % manual 回访, a letter whose customer declined
the 回访, a booked 回访 time, a new request raised during a 回访, and the transport group's
不满意 escalated to its named department."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from hotline.core.errors import InvalidInput
from hotline.tickets.lifecycle import Action, Role
from hotline.tickets.model import Category, Source, State
from hotline.tickets.records import TicketFilter
from tests.tickets.test_policy_service import T0, world
from tests.tickets.test_service import Switch  # Friday 15:00 in Shanghai


async def handle(w: object, tid: int, unit: str = "营业厅") -> None:
    svc = w.service  # type: ignore[attr-defined]
    for action, data, reason in (
        (Action.DISPATCH, {"unit": unit}, None),
        (Action.START, {}, None),
        (Action.REPLY, {}, "已处理"),
    ):
        await svc.act(tid, action, actor="boss", role=Role.SUPERVISOR, data=data, reason=reason)


async def test_a_12345_transfer_keeps_its_number_and_its_own_deadline(engine: AsyncEngine) -> None:
    w = world(engine)
    received = T0 - timedelta(hours=1)
    due = T0 + timedelta(days=2)
    rec = await w.service.create(
        source="government",
        source_ref="12345-20261120-0042",
        category="service",
        summary="市民反映小区燃气报装进度慢",
        caller_number="13900000000",
        received_at=received,
        due=due,
        actor="wang",
        role=Role.AGENT,
    )
    t = rec.ticket
    assert (t.source, t.source_ref, t.state) == (
        Source.GOVERNMENT,
        "12345-20261120-0042",
        State.ACCEPTED,
    )
    assert t.created_at == received and t.deadlines.done_by == due
    assert t.deadlines.dispatch_by == received + timedelta(minutes=20)
    assert t.agent == "wang"
    history = await w.service.store.history(t.id)
    assert (
        history[0].action == "create" and history[0].detail["source_ref"] == "12345-20261120-0042"
    )
    assert "ticket/created" in [m.topic for m in w.messages]
    with pytest.raises(InvalidInput, match="转办单号") as err:
        await w.service.create(
            source="government", category="service", summary="x", actor="wang", role=Role.AGENT
        )
    assert err.value.error_id == "missing_source_ref"


@pytest.mark.parametrize("source", ["wechat", "web", "letter", "visit"])
async def test_messages_letters_and_visits_become_tickets_with_their_source(
    engine: AsyncEngine, source: str
) -> None:
    w = world(engine)
    rec = await w.service.create(
        source=source, category="repair", summary="燃气表不走字", actor="wang", role=Role.AGENT
    )
    assert rec.ticket.source is Source(source) and rec.ticket.deadlines.done_by is not None
    found, total = await w.service.store.find(TicketFilter(source=Source(source)))
    assert total == 1 and found[0].id == rec.id


async def test_wuhan_wechat_tickets_get_a_manual_followup_never_a_dialled_one(
    engine: AsyncEngine,
) -> None:
    switch = Switch()
    w = world(engine, "wuhan-gas", switch)
    rec = await w.service.create(
        source="wechat",
        category="consult",
        summary="咨询阶梯气价",
        caller_number="13900000002",
        actor="wang",
        role=Role.AGENT,
    )
    await handle(w, rec.id)
    t = (await w.service.store.require(rec.id)).ticket
    assert t.state is State.REPLIED  # a consultation, but online: 100 % 回访
    w.clock.now = T0 + timedelta(hours=3)
    assert await w.service.dial_due() == 0 and switch.dialled == []  # made by a person
    repair = await w.service.create(
        source="visit",
        category="repair",
        summary="燃气表漏气",
        caller_number="13900000001",
        actor="wang",
        role=Role.AGENT,
    )
    w.clock.now = T0
    await handle(w, repair.id, "抢修中心")
    w.clock.now = T0 + timedelta(hours=3)
    assert await w.service.dial_due() == 1 and len(switch.dialled) == 1  # the visit's: dialled
    w.clock.now = T0
    # the phone consultation gets none: closed right after the reply
    phone = await w.service.create(
        source="visit", category="consult", summary="咨询营业时间", actor="wang", role=Role.AGENT
    )
    await handle(w, phone.id)
    closed = (await w.service.store.require(phone.id)).ticket
    assert closed.state is State.CLOSED and closed.close_reason == "按规定该类工单无需回访"


async def test_a_customer_who_declines_the_followup_gets_none(engine: AsyncEngine) -> None:
    w = world(engine)
    rec = await w.service.create(
        source="letter",
        category="repair",
        summary="来信反映热水器打不着火",
        followup_declined=True,
        actor="wang",
        role=Role.AGENT,
    )
    await handle(w, rec.id, "抢修中心")
    t = (await w.service.store.require(rec.id)).ticket
    assert t.state is State.CLOSED and t.close_reason == "客户不需要回访"
    assert await w.service.followups.next_followup_at(await w.service.store.require(rec.id)) is None


async def test_a_booked_followup_time_is_honoured_outside_quiet_hours(engine: AsyncEngine) -> None:
    w = world(engine)
    night = datetime(2026, 11, 23, 14, 0, tzinfo=UTC)  # Monday 22:00 in Shanghai
    with pytest.raises(InvalidInput, match="21:00–08:00") as err:
        await w.service.create(
            source="web",
            category="repair",
            summary="x",
            followup_booked_at=night,
            actor="wang",
            role=Role.AGENT,
        )
    assert err.value.error_id == "followup_quiet_hours"
    booked = datetime(2026, 11, 24, 2, 0, tzinfo=UTC)  # Tuesday 10:00
    rec = await w.service.create(
        source="web",
        category="repair",
        summary="燃气灶打不着",
        followup_booked_at=booked,
        actor="wang",
        role=Role.AGENT,
    )
    await handle(w, rec.id, "抢修中心")
    record = await w.service.store.require(rec.id)
    assert record.ticket.state is State.REPLIED
    assert await w.service.followups.next_followup_at(record) == booked
    with pytest.raises(Exception, match="最早"):
        await w.service.record_followup(
            rec.id, result="reached", satisfaction="satisfied", actor="wang", role=Role.AGENT
        )
    w.clock.now = booked
    done = await w.service.record_followup(
        rec.id, result="reached", satisfaction="satisfied", actor="wang", role=Role.AGENT
    )
    assert done.ticket.state is State.CLOSED


async def test_a_request_raised_during_a_followup_is_a_ticket_of_its_own(
    engine: AsyncEngine,
) -> None:
    w = world(engine)
    first = await w.service.create(
        source="visit", category="repair", summary="燃气表故障", actor="wang", role=Role.AGENT
    )
    with pytest.raises(InvalidInput, match="原工单"):
        await w.service.create(
            source="followup", category="service", summary="x", actor="wang", role=Role.AGENT
        )
    new = await w.service.create(
        source="followup",
        category="service",
        summary="回访时客户要求移表",
        raised_from=first.id,
        actor="wang",
        role=Role.AGENT,
    )
    assert new.ticket.source is Source.FOLLOWUP and new.id != first.id
    notes = [e for e in await w.service.store.history(first.id) if e.action == "raised_new"]
    assert notes[0].detail == {"ticket_id": new.id}


async def test_transport_group_unsatisfied_goes_to_the_named_department(
    engine: AsyncEngine,
) -> None:
    w = world(engine, "transport-group")
    rec = await w.service.create(
        source="wechat", category="complaint", summary="司机态度差", actor="wang", role=Role.AGENT
    )
    await handle(w, rec.id, "客运一公司")
    w.clock.now = T0 + timedelta(hours=3)
    again = await w.service.record_followup(
        rec.id, result="reached", satisfaction="unsatisfied", actor="wang", role=Role.AGENT
    )
    assert again.ticket.state is State.DISPATCHED and again.ticket.unit == "服务质量监督部"
    last = (await w.service.store.history(rec.id))[-1]
    assert last.action == "reopen" and last.detail["escalated_to"] == "服务质量监督部"
    assert again.ticket.category is Category.COMPLAINT


async def test_a_complaint_is_judged_valid_against_a_unit_and_an_agent(
    engine: AsyncEngine,
) -> None:
    w = world(engine, "wuhan-gas")
    rec = await w.service.create(
        source="phone", category="complaint", summary="抄表员态度差", actor="wang", role=Role.AGENT
    )
    with pytest.raises(Exception, match="supervisor"):
        await w.service.judge(
            rec.id, "valid", reason="x", unit="抄表班", actor="wang", role=Role.AGENT
        )
    with pytest.raises(InvalidInput, match="被投诉"):
        await w.service.judge(
            rec.id, "valid", reason="录音属实", actor="boss", role=Role.SUPERVISOR
        )
    judged = await w.service.judge(
        rec.id,
        "valid",
        reason="录音属实，抄表员使用服务忌语",
        unit="抄表班",
        agent="张三",
        actor="boss",
        role=Role.SUPERVISOR,
    )
    j = judged.judgement
    assert j is not None and (j.unit, j.agent) == ("抄表班", "张三")
    # 004: the handling opinion within 5 working days (Friday 15:00 -> the next Friday)
    assert j.opinion_by == datetime(2026, 11, 27, 7, 0, tzinfo=UTC)
    assert judged.ticket.deadlines.opinion_by == j.opinion_by
    # no answer by then: the watch raises the opinion step as overdue
    w.clock.now = j.opinion_by + timedelta(minutes=1)
    await w.service.check_overdue()
    late = [m.payload["steps"] for m in w.alerts() if m.payload["ticket_id"] == rec.id]
    assert len(late) == 1 and "opinion" in late[0]
    again = await w.service.judge(
        rec.id, "invalid", reason="复核：客户误解", actor="boss", role=Role.SUPERVISOR
    )
    assert again.judgement is not None and again.judgement.opinion_by is None
    assert [e.action for e in await w.service.store.history(rec.id)].count("judge") == 2
    other = await w.service.create(
        source="phone", category="repair", summary="x", actor="wang", role=Role.AGENT
    )
    with pytest.raises(InvalidInput, match="只有投诉"):
        await w.service.judge(other.id, "special", reason="x", actor="boss", role=Role.SUPERVISOR)


async def test_five_people_complaining_together_raise_the_level(engine: AsyncEngine) -> None:
    w = world(engine)  # gas company: 5 or more together -> level 2 (一般), 24 h
    one = await w.service.create(
        source="visit", category="complaint", summary="停气未通知", actor="wang", role=Role.AGENT
    )
    many = await w.service.create(
        source="visit",
        category="complaint",
        summary="五户居民一同来访投诉停气未通知",
        people=5,
        actor="wang",
        role=Role.AGENT,
    )
    assert (one.ticket.complaint_level, many.ticket.complaint_level) == (3, 2)
    assert many.ticket.deadlines.done_by == many.ticket.created_at + timedelta(hours=24)


async def test_a_caller_who_says_no_followup_on_the_phone_gets_none(engine: AsyncEngine) -> None:
    w = world(engine)
    tid = await w.draft("9.1")  # a gas leak, on the phone
    night = datetime(2026, 11, 23, 14, 0, tzinfo=UTC)  # Monday 22:00 in Shanghai
    with pytest.raises(InvalidInput, match="21:00–08:00"):
        await w.service.edit(tid, {"followup_booked_at": night}, actor="wang", role=Role.AGENT)
    rec = await w.service.edit(tid, {"followup_declined": True}, actor="wang", role=Role.AGENT)
    assert rec.followup_declined
    await w.service.act(tid, Action.CONFIRM, actor="wang", role=Role.AGENT)
    await handle(w, tid, "抢修中心")
    t = (await w.service.store.require(tid)).ticket
    assert t.state is State.CLOSED and t.close_reason == "客户不需要回访"
