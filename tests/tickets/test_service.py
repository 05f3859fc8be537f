"""The ticket service: a call ends -> a draft with the caller's history; the transcript
arrives -> the draft is refined; a gas leak -> an urgent alert; a deadline passes -> an
overdue alert; a 回访 through a (fake) switch."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from hotline.core import db
from hotline.core.bus import Bus, Message
from hotline.core.errors import InvalidInput, Unavailable
from hotline.core.settings import TicketSettings
from hotline.telephony.ami import OriginateResult
from hotline.telephony.model import Outcome
from hotline.telephony.store import CallStore
from hotline.tickets import classify, sla
from hotline.tickets.calendar import WorkCalendar
from hotline.tickets.followup import FollowupPolicy
from hotline.tickets.lifecycle import Action, Role
from hotline.tickets.model import Category, FieldKind, State
from hotline.tickets.service import TicketService
from hotline.tickets.store import TicketStore
from tests.asr.test_store import transcript
from tests.factories import abandoned_call, answered_call

T0 = datetime(2024, 11, 25, 2, 0, tzinfo=UTC)  # Monday 10:00 in Shanghai
SH = ZoneInfo("Asia/Shanghai")
PACK = classify.load_pack()


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


@dataclass
class Switch:
    """A fake switch: answers or not, and remembers what it was asked to dial."""

    answer: bool = True
    connected: bool = True
    dialled: list[dict[str, object]] = field(default_factory=list)

    async def originate(self, **kw: object) -> OriginateResult:
        self.dialled.append(kw)
        return OriginateResult(
            self.answer,
            4 if self.answer else 3,
            "answered" if self.answer else "no answer",
            "1790.77",
            "Local/x",
            {},  # type: ignore[arg-type]
        )


@dataclass
class World:
    service: TicketService
    calls: CallStore
    clock: Clock
    messages: list[Message]

    def topics(self) -> list[str]:
        return [m.topic for m in self.messages]


@dataclass(frozen=True)
class Recording:
    id: int
    call_id: str


@dataclass
class Archive:
    """A fake recording archive; empty until the archive hook (or job) writes a row."""

    rows: list[Recording] = field(default_factory=list)

    async def by_call(self, call_id: str) -> Recording | None:
        return next((r for r in self.rows if r.call_id == call_id), None)

    async def get(self, recording_id: int) -> Recording | None:
        return next((r for r in self.rows if r.id == recording_id), None)


def make(
    engine: AsyncEngine, switch: Switch | None = None, archive: Archive | None = None
) -> World:
    sessions = db.session_factory(engine)
    bus, messages = Bus(), []

    async def keep(m: Message) -> None:
        messages.append(m)

    bus.subscribe("", keep)
    clock = Clock(T0)
    service = TicketService(
        TicketStore(sessions),
        bus,
        sla_policy=sla.SlaPolicy.from_settings(TicketSettings(), WorkCalendar(), SH),
        followup_policy=FollowupPolicy(),
        pack=lambda: PACK,
        originator=switch,
        recordings=archive,
        clock=clock,
    )
    return World(service, CallStore(sessions), clock, messages)


@pytest.fixture
def world(engine: AsyncEngine) -> World:
    return make(engine)


GAS = transcript(
    customer=[("喂 你好", 2.0), ("我 家 燃气 泄漏 了 地址 是 幸福路 12 号", 5.2)],
    agent=[("您好 请问 有 什么 可以 帮 您", 1.0), ("请 您 马上 离开 房间", 12.0)],
)
COMPLAINT = transcript(
    customer=[("我 要 投诉 你们 的 抄表员 态度 很 差", 5.0)],
    agent=[("您好", 1.0)],
)


async def test_a_call_ends_and_a_draft_waits_with_the_callers_history(world: World) -> None:
    earlier = answered_call("1.0", at=T0 - timedelta(days=2))
    await world.calls.save([earlier, answered_call("1.1", at=T0)])
    first = await world.service.on_call_ended(earlier)
    assert first is not None
    await world.service.act(
        first.id, Action.CLOSE_OUT_OF_SCOPE, actor="wang", role=Role.AGENT, reason="咨询话费"
    )

    rec = await world.service.on_call_ended(answered_call("1.1", at=T0))
    assert rec is not None
    t = rec.ticket
    assert (t.state, t.caller_number, t.agent, t.call_id) == (
        State.DRAFT,
        "13800138000",
        "PJSIP/1001",
        "1.1",
    )
    drafted = [m for m in world.messages if m.topic == "ticket/drafted"][-1]
    assert drafted.payload["ticket_id"] == t.id and drafted.payload["earlier_calls"] == 1
    # the same call again (hook re-run) drafts nothing new
    again = await world.service.on_call_ended(answered_call("1.1", at=T0))
    assert again is not None and again.id == t.id
    assert world.topics().count("ticket/drafted") == 2
    # a caller who hung up in the queue talked to no one: no draft
    assert await world.service.on_call_ended(abandoned_call("9.9")) is None


async def test_the_transcript_refines_the_draft_and_a_gas_leak_alerts_at_once(
    world: World,
) -> None:
    rec = await world.service.on_call_ended(answered_call("1.1", at=T0))
    assert rec is not None
    refined = await world.service.on_call_transcript("1.1", GAS)
    assert refined is not None
    t = refined.ticket
    assert t.category is Category.EMERGENCY and t.urgent and t.topic == "燃气泄漏"
    assert t.unit == "抢修中心" and "燃气泄漏" in t.summary
    assert refined.evidence[0].text == "燃气泄漏" and refined.evidence[0].start is not None
    assert any(f.kind is FieldKind.ADDRESS for f in t.fields)
    assert t.deadlines.dispatch_by == t.created_at + timedelta(minutes=5)
    alert = next(m for m in world.messages if m.topic == "alert/urgent_ticket")
    assert alert.payload["ticket_id"] == t.id and alert.payload["caller"] == "13800138000"
    assert alert.payload["evidence"][0]["text"] == "燃气泄漏"  # type: ignore[index]
    # a second reading changes nothing more and does not alert twice
    await world.service.on_call_transcript("1.1", GAS)
    assert world.topics().count("alert/urgent_ticket") == 1


async def test_a_mono_recording_is_read_whole_and_trusted_less(world: World) -> None:
    from hotline.asr.transcript import Channel, ChannelTranscript, Transcript

    await world.service.on_call_ended(answered_call("1.1", at=T0))
    customer = GAS.channel("customer")
    assert customer is not None
    mono = Transcript((ChannelTranscript(Channel.MIXED, customer.utterances),), "m", "0.3.45", 60.0)
    refined = await world.service.on_call_transcript("1.1", mono)
    assert refined is not None and refined.confidence is not None
    assert refined.ticket.category is Category.EMERGENCY and refined.confidence < 1.0


async def test_a_confirmed_draft_is_not_rewritten_by_a_late_transcript(world: World) -> None:
    rec = await world.service.on_call_ended(answered_call("1.1", at=T0))
    assert rec is not None
    await world.service.edit(rec.id, {"category": "consult"}, actor="wang", role=Role.AGENT)
    assert await world.service.on_call_transcript("1.1", GAS) is None
    assert (await world.service.store.require(rec.id)).ticket.category is Category.CONSULT


async def test_the_fifth_complainant_on_one_issue_makes_a_level_two_complaint(
    world: World,
) -> None:
    levels = []
    for i in range(5):
        call = answered_call(f"c{i}", number=f"1380000000{i}", at=T0 + timedelta(minutes=i))
        await world.service.on_call_ended(call)
        refined = await world.service.on_call_transcript(f"c{i}", COMPLAINT)
        assert refined is not None and refined.ticket.category is Category.COMPLAINT
        levels.append(int(refined.ticket.complaint_level or 0))
    assert levels == [3, 3, 3, 3, 2]


async def test_a_deadline_passes_and_the_ticket_goes_overdue_once(world: World) -> None:
    rec = await world.service.on_call_ended(answered_call("1.1", at=T0))
    assert rec is not None
    await world.service.on_call_transcript("1.1", GAS)
    await world.service.act(rec.id, Action.CONFIRM, actor="wang", role=Role.AGENT)
    assert await world.service.check_overdue() == []
    world.clock.now = T0 + timedelta(minutes=10)  # dispatch due 5 minutes after the call
    late = await world.service.check_overdue()
    assert [r.id for r in late] == [rec.id] and late[0].ticket.overdue
    alert = next(m for m in world.messages if m.topic == "alert/ticket_overdue")
    assert alert.payload["steps"] == ["dispatch"] and alert.payload["ticket_id"] == rec.id
    assert await world.service.check_overdue() == []  # not alerted twice
    assert world.topics().count("alert/ticket_overdue") == 1


async def handled_and_replied(w: World, number: str = "13800138000") -> int:
    rec = await w.service.on_call_ended(answered_call("1.1", at=T0, number=number))
    assert rec is not None
    await w.service.on_call_transcript("1.1", GAS)
    for action, data, reason in [
        (Action.CONFIRM, {}, None),
        (Action.DISPATCH, {"unit": "抢修中心"}, None),
        (Action.START, {}, None),
        (Action.REPLY, {}, "已关阀维修"),
    ]:
        await w.service.act(
            rec.id, action, actor="boss", role=Role.SUPERVISOR, data=data, reason=reason
        )
    return rec.id


async def test_followups_are_dialled_through_the_switch_when_due(engine: AsyncEngine) -> None:
    switch = Switch(answer=False)
    w = make(engine, switch)
    tid = await handled_and_replied(w)
    assert await w.service.dial_due() == 0  # not 2 hours after the reply yet
    for hours in (2, 4, 6):
        w.clock.now = T0 + timedelta(hours=hours)
        assert await w.service.dial_due() == 1
    assert len(switch.dialled) == 3
    assert switch.dialled[0]["context"] == "hotline-followup"
    assert switch.dialled[0]["channel"] == "Local/13800138000@hotline-outbound"
    t = (await w.service.store.require(tid)).ticket
    assert t.state is State.CLOSED and t.close_reason == "回访无法联系" and t.satisfaction is None
    attempts = await w.service.store.followups(tid)
    assert [a.result for a in attempts] == ["unreachable"] * 3
    assert attempts[0].ami_response is not None and attempts[0].action_id


async def test_an_answered_followup_waits_for_the_agents_record(engine: AsyncEngine) -> None:
    w = make(engine, Switch(answer=True))
    tid = await handled_and_replied(w)
    w.clock.now = T0 + timedelta(hours=2)
    rec = await w.service.dial_followup(tid, actor="wang", role=Role.AGENT)
    assert rec.ticket.state is State.FOLLOW_UP
    rec = await w.service.record_followup(
        tid, result="reached", satisfaction="unsatisfied", actor="wang", role=Role.AGENT
    )
    assert rec.ticket.state is State.DISPATCHED and rec.ticket.reopened == 1
    [a] = await w.service.store.followups(tid)
    assert a.result == "reached" and a.ami_response and a.ami_response["success"] is True


async def test_a_number_the_caller_set_is_never_put_into_the_channel(
    engine: AsyncEngine,
) -> None:
    switch = Switch()
    w = make(engine, switch)
    tid = await handled_and_replied(w, number="138&PJSIP/9000")
    w.clock.now = T0 + timedelta(hours=2)
    with pytest.raises(InvalidInput, match="不是有效的电话号码") as err:
        await w.service.dial_followup(tid, actor="wang", role=Role.AGENT)
    assert err.value.error_id == "unusable_number"
    assert await w.service.dial_due() == 0
    assert switch.dialled == [] and await w.service.store.followups(tid) == []
    assert (await w.service.store.require(tid)).ticket.state is State.REPLIED


async def test_without_a_switch_dialling_says_to_call_by_hand(world: World) -> None:
    tid = await handled_and_replied(world)
    with pytest.raises(Unavailable, match="by hand"):
        await world.service.dial_followup(tid, actor="wang", role=Role.AGENT)
    assert Outcome.ANSWERED  # the call was answered; only the 回访 waits for a person


async def test_a_gas_leak_heard_after_the_agent_edited_the_draft_still_alerts(
    world: World,
) -> None:
    rec = await world.service.on_call_ended(answered_call("1.1", at=T0))
    assert rec is not None
    await world.service.edit(rec.id, {"summary": "客户来电"}, actor="wang", role=Role.AGENT)
    assert await world.service.on_call_transcript("1.1", GAS) is None  # the agent's words stay
    t = (await world.service.store.require(rec.id)).ticket
    assert t.urgent and t.summary == "客户来电"
    alert = next(m for m in world.messages if m.topic == "alert/urgent_ticket")
    assert alert.payload["evidence"][0]["text"] == "燃气泄漏"  # type: ignore[index]
    await world.service.on_call_transcript("1.1", GAS)
    assert world.topics().count("alert/urgent_ticket") == 1


async def test_an_agent_choosing_emergency_by_hand_flags_it_urgent_and_alerts(
    world: World,
) -> None:
    rec = await world.service.on_call_ended(answered_call("1.1", at=T0))
    assert rec is not None
    edited = await world.service.edit(
        rec.id, {"category": "emergency"}, actor="wang", role=Role.AGENT
    )
    assert edited.ticket.urgent
    assert world.topics().count("alert/urgent_ticket") == 1


async def test_a_repair_near_new_year_runs_on_the_hours_and_says_next_years_calendar_is_missing(
    world: World,
) -> None:
    # 2026-12-29 10:00: "done within 3 working days" falls in 2027, which the calendar lacks
    at = datetime(2026, 12, 29, 2, 0, tzinfo=UTC)
    world.clock.now = at
    rec = await world.service.on_call_ended(answered_call("1.1", at=at))
    assert rec is not None
    refined = await world.service.on_call_transcript("1.1", GAS)
    assert refined is not None
    t = refined.ticket
    assert t.category is Category.EMERGENCY and t.urgent  # the emergency is not held up
    assert t.deadlines.dispatch_by == t.created_at + timedelta(minutes=5)
    assert t.deadlines.contact_by == t.created_at + timedelta(hours=2)
    assert t.deadlines.done_by is None
    assert "alert/urgent_ticket" in world.topics()
    gap = next(m for m in world.messages if m.topic == "alert/calendar_unknown")
    assert gap.payload["ticket_id"] == t.id and "缺少2027年节假日安排" in str(gap.payload)
    history = await world.service.store.history(t.id)
    assert any(
        e.action == "calendar_unknown" and "tickets.calendar_files" in (e.reason or "")
        for e in history
    )


async def test_an_extension_asked_in_time_can_be_approved_after_the_deadline(
    world: World,
) -> None:
    rec = await world.service.on_call_ended(answered_call("1.1", at=T0))
    assert rec is not None
    await world.service.on_call_transcript("1.1", GAS)
    for action, data in [(Action.CONFIRM, {}), (Action.DISPATCH, {"unit": "抢修中心"})]:
        await world.service.act(rec.id, action, actor="boss", role=Role.SUPERVISOR, data=data)
    contact_by = (await world.service.store.require(rec.id)).ticket.deadlines.contact_by
    assert contact_by is not None
    world.clock.now = contact_by - timedelta(minutes=30)
    await world.service.act(
        rec.id,
        Action.REQUEST_EXTENSION,
        actor="zhao",
        role=Role.SUPERVISOR,
        reason="管道深埋，需要挖掘",
        data={"step": "contact", "new_due": contact_by + timedelta(hours=4)},
    )
    world.clock.now = contact_by + timedelta(minutes=20)  # the supervisor was in a meeting
    approved = await world.service.act(
        rec.id, Action.APPROVE_EXTENSION, actor="boss", role=Role.SUPERVISOR
    )
    assert approved.ticket.deadlines.contact_by == contact_by + timedelta(hours=4)
    assert approved.extension is None


async def test_a_ticket_reopened_on_dissatisfaction_gets_a_second_handlings_time(
    world: World,
) -> None:
    ticket_id = await handled_and_replied(world)
    first = (await world.service.store.require(ticket_id)).ticket.deadlines
    world.clock.now = T0 + timedelta(days=10)  # 回访 long after the first deadline
    await world.service.act(ticket_id, Action.FOLLOW_UP, actor="li", role=Role.AGENT)
    reopened = await world.service.act(
        ticket_id,
        Action.REOPEN,
        actor="li",
        role=Role.AGENT,
        reason="师傅没修好",
        data={"satisfaction": "unsatisfied"},
    )
    d = reopened.ticket.deadlines
    assert d.contact_by == world.clock.now + timedelta(hours=2)
    assert d.done_by is not None and first.done_by is not None and d.done_by > first.done_by
    assert d.dispatch_by == first.dispatch_by and d.reply_by is None
    assert await world.service.check_overdue() == []  # not overdue the moment it reopens


async def test_a_call_for_two_units_splits_into_tickets_each_with_its_own_category(
    world: World,
) -> None:
    two = transcript(
        customer=[
            ("喂 你好", 2.0),
            ("我 家 停气 了 一直 不来气", 4.0),
            ("另外 我 的 燃气费 账单 好像 算 错 了", 9.0),
        ],
        agent=[("您好", 1.0)],
    )
    rec = await world.service.on_call_ended(answered_call("1.1", at=T0))
    assert rec is not None
    refined = await world.service.on_call_transcript("1.1", two)
    assert refined is not None and refined.ticket.unit is not None
    units = [refined.ticket.unit, *({"抢修中心", "营业厅"} - {refined.ticket.unit})]
    split = await world.service.split(rec.id, units, actor="wang", role=Role.AGENT)
    by_unit = {r.ticket.unit: r.ticket for r in split}
    repair, billing = by_unit["抢修中心"], by_unit["营业厅"]
    assert (repair.category, repair.topic) == (Category.REPAIR, "停气")
    assert (billing.category, billing.topic) == (Category.CONSULT, "燃气费")
    assert repair.deadlines.contact_by is not None  # a repair: contact within 2 hours
    assert billing.deadlines.contact_by is None and billing.deadlines.done_by is None
    assert {r.ticket.parent_id for r in split if r.id != rec.id} == {rec.id}


async def test_a_complaint_made_by_hand_is_levelled_like_one_heard_in_the_transcript(
    world: World,
) -> None:
    topic = None
    for i in range(4):
        call = answered_call(f"c{i}", number=f"1380000000{i}", at=T0 + timedelta(minutes=i))
        await world.service.on_call_ended(call)
        refined = await world.service.on_call_transcript(f"c{i}", COMPLAINT)
        assert refined is not None and refined.ticket.topic is not None
        topic = refined.ticket.topic
    # the fifth complainant's call has no transcript yet: the agent files it as a complaint
    fifth = await world.service.on_call_ended(answered_call("c5", number="13900000005", at=T0))
    assert fifth is not None
    edited = await world.service.edit(
        fifth.id, {"category": "complaint", "topic": topic}, actor="wang", role=Role.AGENT
    )
    assert edited.ticket.complaint_level == 2  # 一般: 5 complainants on one issue
    assert edited.ticket.deadlines.done_by == edited.ticket.created_at + timedelta(hours=24)
    # a supervisor's own choice of level is kept as given
    sixth = await world.service.on_call_ended(answered_call("c6", number="13900000006", at=T0))
    assert sixth is not None
    chosen = await world.service.edit(
        sixth.id,
        {"category": "complaint", "topic": topic, "complaint_level": 1},
        actor="li",
        role=Role.SUPERVISOR,
    )
    assert chosen.ticket.complaint_level == 1


async def test_a_draft_made_before_its_recording_learns_it_from_the_transcript(
    engine: AsyncEngine,
) -> None:
    """The ticket hook may run before the archive hook: the draft has no recording yet,
    and the transcript stage links it, refined or already in the agent's hands."""
    archive = Archive()
    w = make(engine, archive=archive)
    calls = [answered_call("7.1", at=T0), answered_call("7.2", at=T0)]
    await w.calls.save(calls)
    first, second = [await w.service.on_call_ended(c) for c in calls]
    assert first is not None and second is not None
    assert first.ticket.recording_id is None and second.ticket.recording_id is None
    archive.rows += [Recording(41, "7.1"), Recording(42, "7.2")]

    refined = await w.service.on_transcript(41, GAS)
    assert refined is not None and refined.ticket.recording_id == 41

    await w.service.edit(second.id, {"category": "consult"}, actor="wang", role=Role.AGENT)
    await w.service.act(second.id, Action.CONFIRM, actor="wang", role=Role.AGENT)
    assert await w.service.on_transcript(42, COMPLAINT) is None  # the agent has it in hand
    linked = await w.service.store.require(second.id)
    assert linked.ticket.recording_id == 42 and linked.ticket.category is Category.CONSULT

    # the same transcript read by call id (the CLI) links a third draft as well
    third_call = answered_call("7.3", at=T0)
    await w.calls.save([third_call])
    third = await w.service.on_call_ended(third_call)
    assert third is not None and third.ticket.recording_id is None
    archive.rows.append(Recording(43, "7.3"))
    by_call = await w.service.on_call_transcript("7.3", GAS)
    assert by_call is not None and by_call.ticket.recording_id == 43


async def test_a_draft_made_after_its_recording_has_it_at_once(engine: AsyncEngine) -> None:
    w = make(engine, archive=Archive([Recording(9, "8.1")]))
    call = answered_call("8.1", at=T0)
    await w.calls.save([call])
    rec = await w.service.on_call_ended(call)
    assert rec is not None and rec.ticket.recording_id == 9
    drafted = [m for m in w.messages if m.topic == "ticket/drafted"][-1]
    assert drafted.payload["recording_id"] == 9
