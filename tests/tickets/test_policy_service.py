"""The policy at work in the ticket service: 即时办结, who dispatches, the unit's clock from
派发, the 延期 lead time, and the deadline watch that reads only what is due."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from hotline.core import db
from hotline.core.bus import Bus, Message
from hotline.core.errors import InvalidInput
from hotline.tickets import classify
from hotline.tickets.calendar import WorkCalendar
from hotline.tickets.lifecycle import Action, ActionRefused, Role
from hotline.tickets.model import Category, State
from hotline.tickets.policy import POLICIES, HotlinePolicy, load_policy
from hotline.tickets.service import TicketService
from hotline.tickets.store import TicketStore
from tests.asr.test_store import transcript
from tests.factories import answered_call
from tests.tickets.test_service import COMPLAINT, GAS, Clock

T0 = datetime(2026, 11, 20, 7, 0, tzinfo=UTC)  # Friday 15:00 in Shanghai
PACK = classify.load_pack()


class World:
    def __init__(
        self, engine: AsyncEngine, policy: HotlinePolicy, originator: object = None
    ) -> None:
        self.sessions = db.session_factory(engine)
        self.bus, self.messages = Bus(), list[Message]()

        async def keep(m: Message) -> None:
            self.messages.append(m)

        self.bus.subscribe("", keep)
        self.clock = Clock(T0)
        self.service = TicketService(
            TicketStore(self.sessions),
            self.bus,
            sla_policy=policy.sla,
            followup_policy=policy.followup,
            policy=policy,
            pack=lambda: PACK,
            clock=self.clock,
            originator=originator,  # type: ignore[arg-type]
        )

    def alerts(self) -> list[Message]:
        return [m for m in self.messages if m.topic == "alert/ticket_overdue"]

    async def draft(self, call_id: str, transcript: object = GAS) -> int:
        rec = await self.service.on_call_ended(answered_call(call_id, at=T0))
        assert rec is not None
        await self.service.on_call_transcript(call_id, transcript)  # type: ignore[arg-type]
        return rec.id


def world(engine: AsyncEngine, name: str = "gas-company", originator: object = None) -> World:
    return World(engine, load_policy(POLICIES / f"{name}.yaml", WorkCalendar()), originator)


async def test_a_consultation_closed_on_the_spot_never_goes_overdue(engine: AsyncEngine) -> None:
    w = world(engine)
    tid = await w.draft("2.1")
    await w.service.edit(tid, {"category": "consult"}, actor="wang", role=Role.AGENT)
    rec = await w.service.act(
        tid,
        Action.RESOLVE_ON_SPOT,
        actor="wang",
        role=Role.AGENT,
        reason="已告知营业厅地址和营业时间",
    )
    t = rec.ticket
    assert t.state is State.CLOSED and t.close_reason == "即时办结" and rec.reply
    assert t.deadlines.dispatch_by is None and t.dispatched_at is None
    for days in (0.02, 1, 10, 60):  # the watch runs past every deadline there was
        w.clock.now = T0 + timedelta(days=days)
        assert await w.service.check_overdue() == []
    assert w.alerts() == []
    assert not (await w.service.store.require(tid)).ticket.overdue
    history = [e.action for e in await w.service.store.history(tid)]
    assert history[-1] == "resolve_on_spot" and "overdue" not in history


async def test_a_consultation_draft_has_no_dispatch_clock_until_confirmed(
    engine: AsyncEngine,
) -> None:
    w = world(engine)
    consult = transcript(customer=[("请问 一下 燃气费 怎么 缴费", 3.0)], agent=[("您好", 1.0)])
    tid = await w.draft("2.0", consult)
    rec = await w.service.store.require(tid)
    assert rec.ticket.category is Category.CONSULT and rec.ticket.deadlines.dispatch_by is None
    w.clock.now = T0 + timedelta(hours=3)
    assert await w.service.check_overdue() == [] and w.alerts() == []
    # confirmed for a unit (not answered on the spot): now the 20 minutes run
    rec = await w.service.act(tid, Action.CONFIRM, actor="wang", role=Role.AGENT)
    assert rec.ticket.deadlines.dispatch_by == rec.ticket.created_at + timedelta(minutes=20)


async def test_only_the_policys_categories_are_closed_on_the_spot(engine: AsyncEngine) -> None:
    w = world(engine)
    tid = await w.draft("2.2")  # a gas leak
    with pytest.raises(InvalidInput, match="不能即时办结") as err:
        await w.service.act(
            tid, Action.RESOLVE_ON_SPOT, actor="wang", role=Role.AGENT, reason="已答复"
        )
    assert err.value.error_id == "not_on_spot"
    assert (await w.service.store.require(tid)).ticket.state is State.DRAFT


async def test_the_agent_dispatches_unless_the_policy_says_supervisor(
    engine: AsyncEngine, tmp_path: object
) -> None:
    w = world(engine)
    tid = await w.draft("2.3")
    await w.service.act(tid, Action.CONFIRM, actor="wang", role=Role.AGENT)
    rec = await w.service.act(
        tid, Action.DISPATCH, actor="wang", role=Role.AGENT, data={"unit": "抢修中心"}
    )
    assert rec.ticket.state is State.DISPATCHED  # 002: the first-contact agent dispatches

    base = load_policy(POLICIES / "gas-company.yaml", WorkCalendar())
    strict = World(engine, HotlinePolicy(**{**_fields(base), "dispatch_role": Role.SUPERVISOR}))
    tid2 = await strict.draft("2.4")
    await strict.service.act(tid2, Action.CONFIRM, actor="wang", role=Role.AGENT)
    with pytest.raises(ActionRefused, match="supervisor"):
        await strict.service.act(
            tid2, Action.DISPATCH, actor="wang", role=Role.AGENT, data={"unit": "抢修中心"}
        )


def _fields(p: HotlinePolicy) -> dict[str, object]:
    return {f: getattr(p, f) for f in p.__dataclass_fields__}


async def test_the_units_clock_starts_at_dispatch_under_the_transport_rules(
    engine: AsyncEngine,
) -> None:
    w = world(engine, "transport-group")
    tid = await w.draft("2.5", COMPLAINT)
    rec = await w.service.act(tid, Action.CONFIRM, actor="wang", role=Role.AGENT)
    assert rec.ticket.category is Category.COMPLAINT
    assert rec.ticket.deadlines.done_by is None  # nobody has it yet
    w.clock.now = T0 + timedelta(minutes=10)  # Friday 15:10
    rec = await w.service.act(
        tid, Action.DISPATCH, actor="wang", role=Role.AGENT, data={"unit": "客运公司"}
    )
    d = rec.ticket.deadlines
    # investigated within 2, closed within 3 working days of the dispatch, over the weekend
    assert d.contact_by == datetime(2026, 11, 24, 7, 10, tzinfo=UTC)
    assert d.done_by == datetime(2026, 11, 25, 7, 10, tzinfo=UTC)


async def test_an_extension_is_asked_a_day_ahead_under_wuhan_rules(engine: AsyncEngine) -> None:
    w = world(engine, "wuhan-gas")
    tid = await w.draft("2.6")  # a gas leak: done within 3 working days (Wednesday 15:00)
    for action, data in ((Action.CONFIRM, {}), (Action.DISPATCH, {"unit": "抢修中心"})):
        await w.service.act(tid, action, actor="wang", role=Role.AGENT, data=data)
    done_by = (await w.service.store.require(tid)).ticket.deadlines.done_by
    assert done_by is not None
    w.clock.now = done_by - timedelta(hours=20)  # less than a day ahead
    ask = {"step": "done", "new_due": done_by + timedelta(days=2)}
    with pytest.raises(InvalidInput, match="至少24小时") as err:
        await w.service.act(
            tid,
            Action.REQUEST_EXTENSION,
            actor="boss",
            role=Role.SUPERVISOR,
            reason="等待配件",
            data=ask,
        )
    assert err.value.error_id == "extension_too_late"
    w.clock.now = done_by - timedelta(hours=30)
    rec = await w.service.act(
        tid,
        Action.REQUEST_EXTENSION,
        actor="boss",
        role=Role.SUPERVISOR,
        reason="等待配件",
        data=ask,
    )
    assert rec.extension is not None


async def test_the_watch_reads_only_tickets_whose_next_deadline_has_come(
    engine: AsyncEngine,
) -> None:
    w = world(engine)
    store = w.service.store
    ids = [await w.draft(f"3.{i}") for i in range(3)]  # gas leaks: dispatch within 5 min
    for tid in ids:
        await w.service.act(tid, Action.CONFIRM, actor="wang", role=Role.AGENT)
    await w.service.act(
        ids[0], Action.DISPATCH, actor="wang", role=Role.AGENT, data={"unit": "抢修中心"}
    )
    first = await store.require(ids[0])
    # dispatched: the next deadline is the contact (2 h), the others still the dispatch
    assert await _next_deadline(w, ids[0]) == first.ticket.deadlines.contact_by
    assert (
        await _next_deadline(w, ids[1])
        == (await store.require(ids[1])).ticket.deadlines.dispatch_by
    )

    w.clock.now = T0 + timedelta(minutes=10)
    late = await w.service.check_overdue()
    assert sorted(r.id for r in late) == ids[1:]
    assert [m.payload["steps"] for m in w.alerts()] == [["dispatch"], ["dispatch"]]
    for tid in ids[1:]:
        marks = [e for e in await store.history(tid) if e.action == "overdue"]
        assert [e.detail for e in marks] == [{"steps": ["dispatch"]}]
    # marked: their next deadline moved on to the contact step; nothing is due now
    assert (
        await _next_deadline(w, ids[1]) == (await store.require(ids[1])).ticket.deadlines.contact_by
    )
    assert await _due_now(w, w.clock.now) == 0
    assert await w.service.check_overdue() == []
    # closed tickets are never due again
    w.clock.now = T0 + timedelta(days=30)
    assert await _due_now(w, w.clock.now) == 3
    await w.service.check_overdue()
    assert await _due_now(w, w.clock.now) == 0


async def _next_deadline(w: World, tid: int) -> datetime | None:
    async with w.sessions() as s:
        value = await s.scalar(text("SELECT next_deadline FROM tickets WHERE id = :i"), {"i": tid})
    if value is None:
        return None
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return value if value.tzinfo else value.replace(tzinfo=UTC)


async def _due_now(w: World, now: datetime) -> int:
    from sqlalchemy import func, select

    from hotline.tickets.tables import TicketRow

    async with w.sessions() as s:
        n = await s.scalar(
            select(func.count()).select_from(TicketRow).where(TicketRow.next_deadline <= now)
        )
    return int(n or 0)


async def test_the_watch_query_uses_the_next_deadline_index(engine: AsyncEngine) -> None:
    w = world(engine)
    async with w.sessions() as s:
        if engine.dialect.name == "sqlite":
            plan = await s.execute(
                text(
                    "EXPLAIN QUERY PLAN SELECT id FROM tickets WHERE next_deadline <= :n "
                    "AND state != 'closed' ORDER BY next_deadline"
                ),
                {"n": T0.isoformat()},
            )
            assert "ix_tickets_next_deadline" in " ".join(str(r) for r in plan)
        else:
            await s.execute(text("SET enable_seqscan = off"))
            plan = await s.execute(
                text(
                    "EXPLAIN SELECT id FROM tickets WHERE next_deadline <= now() "
                    "AND state != 'closed' ORDER BY next_deadline"
                )
            )
            assert "ix_tickets_next_deadline" in " ".join(str(r) for r in plan)
