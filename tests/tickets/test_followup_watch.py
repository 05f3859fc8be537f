"""The 回访 part of the deadline watch reads only the tickets whose 回访 is due: every write
that changes when the next attempt may be made (the reply, a booked time, quiet hours, an
attempt begun and ended, a close) keeps the indexed `followup_due` right, and a tick reads
`WHERE followup_due <= now`, never every replied ticket."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from alembic import command
from sqlalchemy import insert, select, text
from sqlalchemy.ext.asyncio import AsyncEngine

from hotline.core import db
from hotline.core.bus import Bus
from hotline.core.settings import TicketSettings
from hotline.tickets import sla
from hotline.tickets.calendar import WorkCalendar
from hotline.tickets.followup import FollowupPolicy
from hotline.tickets.lifecycle import Action, Role
from hotline.tickets.model import State
from hotline.tickets.records import TicketRecord
from hotline.tickets.service import TicketService
from hotline.tickets.store import TicketStore
from hotline.tickets.tables import TicketRow
from tests.factories import answered_call
from tests.tickets.test_service import GAS, PACK, SH, T0, Clock, Switch


class WatchedStore(TicketStore):
    """The real store, remembering which tickets each 回访 tick read."""

    reads: list[list[int]]

    async def followups_due(
        self, now: datetime, *, limit: int = 500
    ) -> list[tuple[TicketRecord, datetime]]:
        rows = await super().followups_due(now, limit=limit)
        self.reads.append([r.id for r, _ in rows])
        return rows


def service(engine: AsyncEngine, switch: Switch) -> tuple[TicketService, WatchedStore, Clock]:
    store = WatchedStore(db.session_factory(engine))
    store.reads = []
    clock = Clock(T0)
    svc = TicketService(
        store,
        Bus(),
        sla_policy=sla.SlaPolicy.from_settings(TicketSettings(), WorkCalendar(), SH),
        followup_policy=FollowupPolicy(),
        pack=lambda: PACK,
        originator=switch,
        clock=clock,
    )
    return svc, store, clock


async def replied(svc: TicketService, call_id: str, **wishes: object) -> int:
    rec = await svc.on_call_ended(answered_call(call_id, at=T0, number="13800138000"))
    assert rec is not None
    await svc.on_call_transcript(call_id, GAS)
    if wishes:
        await svc.edit(rec.id, wishes, actor="wang", role=Role.AGENT)
    for action, data, reason in [
        (Action.CONFIRM, {}, None),
        (Action.DISPATCH, {"unit": "抢修中心"}, None),
        (Action.START, {}, None),
        (Action.REPLY, {}, "已关阀维修"),
    ]:
        await svc.act(rec.id, action, actor="boss", role=Role.SUPERVISOR, data=data, reason=reason)
    return rec.id


async def due_of(store: TicketStore, tid: int) -> datetime | None:
    async with store.sessions() as s:
        return await s.scalar(select(TicketRow.followup_due).where(TicketRow.id == tid))


async def test_each_tick_reads_only_the_tickets_whose_followup_is_due(
    engine: AsyncEngine,
) -> None:
    switch = Switch(answer=False)
    svc, store, clock = service(engine, switch)
    plain = await replied(svc, "5.1")  # Monday 10:00 in Shanghai: due at 12:00
    booked_at = T0 + timedelta(days=1, hours=1)  # Tuesday 11:00, booked by the customer
    booked = await replied(svc, "5.2", followup_booked_at=booked_at)
    declined = await replied(svc, "5.3", followup_declined=True)
    clock.now = T0 + timedelta(hours=10)  # 20:00: 2 h later is in the quiet hours
    late = await replied(svc, "5.4")

    assert await due_of(store, plain) == T0 + timedelta(hours=2)
    assert await due_of(store, booked) == booked_at
    assert (await store.require(declined)).ticket.state is State.CLOSED
    assert await due_of(store, declined) is None  # 不需要回访: closed, never read
    morning = datetime(2024, 11, 26, 0, 0, tzinfo=UTC)  # Tuesday 08:00 in Shanghai
    assert await due_of(store, late) == morning

    clock.now = T0 + timedelta(hours=2)
    assert await svc.dial_due() == 1 and store.reads == [[plain]]
    assert await due_of(store, plain) == T0 + timedelta(hours=4)  # 2 h after the attempt
    clock.now = T0 + timedelta(hours=3)
    assert await svc.dial_due() == 0 and store.reads[-1] == []  # nothing due: nothing read

    clock.now = morning
    assert await svc.dial_due() == 2  # the second attempt and the one out of quiet hours
    assert sorted(store.reads[-1]) == sorted([plain, late])
    clock.now = morning + timedelta(hours=1)
    assert await svc.dial_due() == 0 and store.reads[-1] == []
    clock.now = booked_at  # 10:00 and 11:00 have come: plain's third, late's second, booked
    assert await svc.dial_due() == 3
    assert sorted(store.reads[-1]) == sorted([plain, late, booked])
    plain_now = await store.require(plain)  # three unreachable attempts: closed
    assert plain_now.ticket.state is State.CLOSED and await due_of(store, plain) is None
    assert len(switch.dialled) == 6


async def test_a_followup_by_hand_moves_the_due_time_and_an_unsatisfied_one_clears_it(
    engine: AsyncEngine,
) -> None:
    svc, store, clock = service(engine, Switch(answer=False))
    tid = await replied(svc, "6.1")
    clock.now = T0 + timedelta(hours=2, minutes=30)
    await svc.record_followup(tid, result="unreachable", actor="wang", role=Role.AGENT)
    assert await due_of(store, tid) == clock.now + timedelta(hours=2)
    clock.now += timedelta(hours=2)
    await svc.record_followup(
        tid, result="reached", satisfaction="unsatisfied", actor="wang", role=Role.AGENT
    )
    assert (await store.require(tid)).ticket.state is State.DISPATCHED  # 不满意重办
    assert await due_of(store, tid) is None
    assert await svc.dial_due() == 0 and store.reads[-1] == []


async def test_the_followup_query_uses_the_followup_due_index(engine: AsyncEngine) -> None:
    async with db.session_factory(engine)() as s:
        if engine.dialect.name == "sqlite":
            plan = await s.execute(
                text(
                    "EXPLAIN QUERY PLAN SELECT id FROM tickets WHERE followup_due <= :n "
                    "ORDER BY followup_due LIMIT 500"
                ),
                {"n": T0.isoformat()},
            )
        else:
            await s.execute(text("SET enable_seqscan = off"))
            plan = await s.execute(
                text(
                    "EXPLAIN SELECT id FROM tickets WHERE followup_due <= now() "
                    "ORDER BY followup_due LIMIT 500"
                )
            )
        assert "ix_tickets_followup_due" in " ".join(str(r) for r in plan)


async def test_the_migration_gives_replied_tickets_a_followup_due(db_url: str) -> None:
    engine = db.make_engine(db_url)
    try:
        async with engine.begin() as conn:
            await conn.run_sync(
                lambda c: command.upgrade(db._alembic_config(c), "w16_0016_customer_desk")
            )
        base = dict(
            category="repair",
            summary="报修",
            created_at=T0,
            updated_at=T0,
            overdue_steps="",
            reopened=0,
            version=1,
        )
        async with engine.begin() as conn:
            for state, replied_at, declined in [
                ("replied", T0, False),
                ("follow_up", T0, False),
                ("replied", T0, True),
                ("dispatched", None, False),
            ]:
                await conn.execute(
                    insert(TicketRow).values(
                        state=state, replied_at=replied_at, followup_declined=declined, **base
                    )
                )
            await conn.execute(
                text(
                    "INSERT INTO ticket_followups (ticket_id, round, attempt_no, started_at, by, "
                    "result) VALUES (2, 0, 1, :at, 'wang', 'unreachable')"
                ),
                {"at": T0 + timedelta(hours=3)},
            )
        await db.migrate(engine)
        store = TicketStore(db.session_factory(engine))
        assert [await due_of(store, i) for i in (1, 2, 3, 4)] == [
            T0,
            T0 + timedelta(hours=3),  # the last attempt's start: a lower bound
            None,
            None,
        ]
    finally:
        await engine.dispose()
