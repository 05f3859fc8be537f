"""Tickets in the database: one draft per call, refinement of untouched drafts only, every
step with its history, splitting, a caller's history and the counts for escalation."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from hotline.core import db
from hotline.core.errors import Conflict
from hotline.telephony.store import CallStore
from hotline.tickets.lifecycle import Action, IllegalTransition, Role
from hotline.tickets.model import (
    Category,
    ComplaintLevel,
    Deadlines,
    Evidence,
    Field,
    FieldKind,
    State,
)
from hotline.tickets.records import TicketFilter, TicketRecord
from hotline.tickets.store import TicketStore
from tests.factories import answered_call

T0 = datetime(2024, 11, 23, 2, 0, tzinfo=UTC)
ADDR = Field(FieldKind.ADDRESS, "幸福路12号", Evidence("幸福路12号", 7.0, 8.2))


@pytest.fixture
def store(engine: AsyncEngine) -> TicketStore:
    return TicketStore(db.session_factory(engine))


async def draft(
    store: TicketStore, call_id: str, number: str = "13800138000", at: datetime = T0
) -> TicketRecord:
    rec, _ = await store.draft_for_call(
        call_id=call_id,
        caller_number=number,
        agent="PJSIP/1001",
        recording_id=None,
        created_at=at,
        now=at,
    )
    return rec


async def test_a_call_drafts_one_ticket_ever(store: TicketStore) -> None:
    first, created = await store.draft_for_call(
        call_id="1.1",
        caller_number="13800138000",
        agent="PJSIP/1001",
        recording_id=7,
        created_at=T0,
        now=T0,
    )
    again, created_again = await store.draft_for_call(
        call_id="1.1",
        caller_number="13800138000",
        agent="PJSIP/1001",
        recording_id=7,
        created_at=T0,
        now=T0,
    )
    assert created and not created_again and again.id == first.id
    t = first.ticket
    assert (t.state, t.agent, t.caller_number, t.recording_id) == (
        State.DRAFT,
        "PJSIP/1001",
        "13800138000",
        7,
    )
    assert (await store.by_recording(7)) == again
    assert [e.action for e in await store.history(t.id)] == ["draft"]


async def test_refine_fills_an_untouched_draft_only(store: TicketStore) -> None:
    rec = await draft(store, "1.1")
    due = Deadlines(dispatch_by=T0 + timedelta(minutes=5))
    refined = await store.refine(
        rec.id,
        now=T0,
        category=Category.REPAIR,
        fields=(ADDR,),
        summary="我家停水了",
        summary_evidence=Evidence("我家停水了", 4.0, 5.0),
        evidence=(Evidence("停水", 4.3, 4.9),),
        confidence=0.9,
        topic="停水",
        unit="抢修中心",
        urgent=False,
        deadlines=due,
    )
    assert refined is not None
    t = refined.ticket
    assert (t.category, t.topic, t.unit, t.fields, t.deadlines) == (
        Category.REPAIR,
        "停水",
        "抢修中心",
        (ADDR,),
        due,
    )
    assert refined.evidence == (Evidence("停水", 4.3, 4.9),) and refined.confidence == 0.9
    edited = await store.edit(
        rec.id,
        {"summary": "停水两天", "category": "repair"},
        actor="wang",
        role=Role.AGENT,
        now=T0,
    )
    assert edited.edited and edited.ticket.summary == "停水两天"
    # the agent's words win over a later transcript
    assert await store.refine(rec.id, now=T0, category=Category.CONSULT) is None
    assert (await store.require(rec.id)).ticket.category is Category.REPAIR


async def test_every_step_is_kept_with_who_when_and_why(store: TicketStore) -> None:
    rec = await draft(store, "1.1")
    steps = [
        (Action.CONFIRM, "wang", Role.AGENT, None, {}),
        (Action.DISPATCH, "boss", Role.SUPERVISOR, None, {"unit": "抢修中心"}),
        (Action.RETURN, "boss", Role.SUPERVISOR, "不属于本单位", {}),
        (Action.DISPATCH, "boss", Role.SUPERVISOR, None, {"unit": "供水公司"}),
        (Action.START, "boss", Role.SUPERVISOR, None, {}),
        (Action.REPLY, "boss", Role.SUPERVISOR, "已恢复供水", {}),
    ]
    for i, (action, actor, role, reason, data) in enumerate(steps):
        rec = await store.apply(
            rec.id, action, actor, role, reason, data, now=T0 + timedelta(minutes=i)
        )
    t = rec.ticket
    assert t.state is State.REPLIED and t.unit == "供水公司" and rec.reply == "已恢复供水"
    history = await store.history(t.id)
    assert [(e.action, e.actor, e.from_state, e.to_state) for e in history[1:]] == [
        ("confirm", "wang", State.DRAFT, State.ACCEPTED),
        ("dispatch", "boss", State.ACCEPTED, State.DISPATCHED),
        ("return", "boss", State.DISPATCHED, State.ACCEPTED),
        ("dispatch", "boss", State.ACCEPTED, State.DISPATCHED),
        ("start", "boss", State.DISPATCHED, State.IN_PROGRESS),
        ("reply", "boss", State.IN_PROGRESS, State.REPLIED),
    ]
    assert history[3].reason == "不属于本单位" and history[2].detail == {"unit": "抢修中心"}
    assert history[3].at == T0 + timedelta(minutes=2)
    with pytest.raises(IllegalTransition):
        await store.apply(
            t.id, Action.DISPATCH, "boss", Role.SUPERVISOR, data={"unit": "x"}, now=T0
        )
    assert len(await store.history(t.id)) == len(history)  # a refused move leaves no trace


async def test_exposure_makes_a_major_complaint(store: TicketStore) -> None:
    rec = await draft(store, "1.1")
    rec = await store.apply(
        rec.id, Action.SET_EXPOSURE, "boss", Role.SUPERVISOR, "记者来电", now=T0
    )
    assert rec.exposure and rec.ticket.complaint_level is ComplaintLevel.MAJOR


async def test_split_one_call_into_one_ticket_per_unit(store: TicketStore) -> None:
    rec = await draft(store, "1.1")
    await store.refine(
        rec.id, now=T0, category=Category.REPAIR, summary="停水，路灯坏了", fields=(ADDR,)
    )
    parts = await store.split(rec.id, ["供水公司", "路灯所"], actor="wang", role=Role.AGENT, now=T0)
    assert [(p.ticket.unit, p.ticket.parent_id) for p in parts] == [
        ("供水公司", None),
        ("路灯所", rec.id),
    ]
    child = parts[1].ticket
    assert child.call_id == "1.1" and child.fields == (ADDR,) and child.state is State.DRAFT
    assert (await store.by_call("1.1")).id == rec.id  # type: ignore[union-attr]
    with pytest.raises(Conflict):
        await store.split(child.id, ["a", "b"], actor="wang", role=Role.AGENT, now=T0)


async def test_caller_history_lists_earlier_calls_and_open_tickets_first(
    store: TicketStore, engine: AsyncEngine
) -> None:
    calls = CallStore(db.session_factory(engine))
    await calls.save(
        [
            answered_call("0.9", at=T0 - timedelta(days=3)),
            answered_call("1.0", at=T0 - timedelta(days=1)),
            answered_call("1.1", at=T0),
            answered_call("2.0", number="13900000000", at=T0),
        ]
    )
    old = await draft(store, "0.9", at=T0 - timedelta(days=3))
    closed = await draft(store, "1.0", at=T0 - timedelta(days=1))
    await store.apply(closed.id, Action.CLOSE_OUT_OF_SCOPE, "wang", Role.AGENT, "咨询话费", now=T0)
    now = await draft(store, "1.1")
    h = await store.caller_history("13800138000", exclude_ticket=now.id, exclude_call="1.1")
    assert [c.call_id for c in h.calls] == ["1.0", "0.9"]
    assert [t.id for t in h.tickets] == [old.id, closed.id]  # open first, though older


async def test_filters_and_counts_for_escalation(store: TicketStore) -> None:
    for i, number in enumerate(["1", "2", "3", "3"]):
        rec = await draft(store, f"c{i}", number=number, at=T0 + timedelta(hours=i))
        await store.refine(rec.id, now=T0, category=Category.COMPLAINT, topic="抄表")
    assert await store.complainants_same_issue("抄表", T0 - timedelta(days=30)) == 3
    assert await store.complainants_same_issue("抄表", T0, besides="4") == 4
    assert await store.complainants_same_issue("抄表", T0, besides="3") == 3
    assert await store.repeats_same_event("3", "抄表") == 2
    items, total = await store.find(TicketFilter(caller="3", category=Category.COMPLAINT))
    assert total == 2 and {r.ticket.caller_number for r in items} == {"3"}
    _, total = await store.find(TicketFilter(since=T0 + timedelta(minutes=90)))
    assert total == 2
    _, total = await store.find(TicketFilter(only_agent="PJSIP/1002"))
    assert total == 0


async def test_overdue_is_marked_once_per_step(store: TicketStore) -> None:
    rec = await draft(store, "1.1")
    assert await store.mark_overdue(rec.id, ["dispatch"], T0)
    assert not await store.mark_overdue(rec.id, ["dispatch"], T0)
    assert await store.mark_overdue(rec.id, ["dispatch", "done"], T0)
    marked = await store.require(rec.id)
    assert marked.ticket.overdue and marked.overdue_steps == ("dispatch", "done")
    _, total = await store.find(TicketFilter(overdue=True))
    assert total == 1


async def test_followup_attempts_take_one_slot_each(store: TicketStore) -> None:
    rec = await draft(store, "1.1")
    a = await store.begin_followup(rec.id, round=0, planned_at=T0, started_at=T0, by="wang")
    assert a is not None and a.attempt_no == 1
    await store.finish_followup(
        a.id, now=T0, result="unreachable", ami_response={"success": False, "reason_code": 3}
    )
    b = await store.begin_followup(rec.id, round=0, planned_at=None, started_at=T0, by="wang")
    assert b is not None and b.attempt_no == 2
    got = await store.followups(rec.id)
    assert [(f.attempt_no, f.result) for f in got] == [(1, "unreachable"), (2, None)]
    assert got[0].ami_response == {"success": False, "reason_code": 3}
