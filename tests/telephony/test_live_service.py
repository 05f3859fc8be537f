"""The live service fed by the call consumer: our Asterisk 22 session in, agent stretches
stored (SQLite and PostgreSQL) and every change on the bus, agents' rings before the calls'."""

from __future__ import annotations

import asyncio
from datetime import UTC, date, datetime, timedelta
from itertools import pairwise

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect
from sqlalchemy.ext.asyncio import AsyncEngine

from hotline.core import db
from hotline.core.bus import Bus, Message
from hotline.telephony.ami import LinkDown, LinkUp, Resync
from hotline.telephony.frames import Frame, read_stream
from hotline.telephony.live import Activity, DayCounters, LiveState
from hotline.telephony.live_service import LiveService
from hotline.telephony.live_store import LiveStore
from hotline.telephony.model import RingRule
from hotline.telephony.service import CallService, QueueItem
from hotline.telephony.store import CallStore
from hotline.telephony.tracker import CallTracker
from tests.conftest import DATA
from tests.factories import T0, abandoned_call, answered_call

BASE = datetime(2026, 9, 25, 2, 0, tzinfo=UTC)


async def drain(svc: CallService, items: list[QueueItem]) -> None:
    queue: asyncio.Queue[QueueItem] = asyncio.Queue()
    for item in items:
        queue.put_nowait(item)
    task = asyncio.create_task(svc.run(queue))
    async with asyncio.timeout(30):
        await queue.join()
    task.cancel()


def wire(engine: AsyncEngine, bus: Bus) -> tuple[CallService, LiveService]:
    sessions = db.session_factory(engine)
    live = LiveService(LiveState(RingRule(), "Asia/Shanghai"), LiveStore(sessions), bus)
    calls = CallService(
        CallTracker(RingRule(), frozenset({38})),
        CallStore(sessions),
        bus,
        end_unknown_after=timedelta(hours=4),
        followers=[live],
    )
    return calls, live


async def test_the_migration_makes_the_agent_states_table(engine: AsyncEngine) -> None:
    def check(conn):  # type: ignore[no-untyped-def]
        assert "agent_states" in inspect(conn).get_table_names()
        diff = compare_metadata(MigrationContext.configure(conn), db.Base.metadata)
        assert [d for d in diff if "agent_states" in repr(d)] == []

    async with engine.connect() as conn:
        await conn.run_sync(check)


async def test_a_session_is_stored_and_published(engine: AsyncEngine) -> None:
    bus = Bus()
    seen: list[Message] = []

    async def keep(m: Message) -> None:
        seen.append(m)

    bus.subscribe("", keep)
    calls, live = wire(engine, bus)
    await live.start()
    _, frames = read_stream((DATA / "asterisk22-scenarios.raw").read_bytes())
    items: list[QueueItem] = [LinkUp(BASE)]
    items += [(BASE + timedelta(milliseconds=i), f) for i, f in enumerate(frames)]
    await drain(calls, items)
    await live.commit()
    topics = [m.topic for m in seen]
    for topic in ("agent/state", "queue/changed", "queue/caller_joined", "queue/caller_left"):
        assert topic in topics
    # an agent's ringing is on the bus before the call's agent_ringing
    assert topics.index("agent/state") < topics.index("call/agent_ringing")
    first_ring = next(
        m for m in seen if m.topic == "agent/state" and m.payload["activity"] == "ringing"
    )
    assert first_ring.payload["member"] == "agent-fast"
    assert first_ring.payload["ringing"][0]["caller_number"] == "13800000001"
    rows = await live.store.rows(BASE - timedelta(days=1), BASE + timedelta(days=3650))
    slow = [r for r in rows if r.member == "agent-slow"]
    # the capture has no QueueMemberAdded: agent-slow first shows up ringing
    assert [r.activity for r in slow] == [Activity.RINGING, Activity.TALKING, Activity.AVAILABLE]
    assert [r.ended_at is None for r in slow] == [False, False, True]
    assert all(a.ended_at == b.started_at for a, b in pairwise(slow))
    assert sum(r.missed for r in rows if r.member == "agent-noanswer") == 1
    assert sum(r.answered for r in rows if r.member == "agent-fast") == 4
    await live.stop()


async def test_pause_link_down_and_the_listing_after_it(engine: AsyncEngine) -> None:
    bus = Bus()
    calls, live = wire(engine, bus)
    member = (
        ("Event", "QueueMemberAdded"),
        ("Queue", "kefu"),
        ("MemberName", "工号8001"),
        ("Interface", "PJSIP/8001"),
        ("Status", "1"),
        ("Paused", "0"),
    )
    listed = (
        ("Event", "QueueMember"),
        ("Queue", "kefu"),
        ("Name", "工号8001"),
        ("Location", "PJSIP/8001"),
        ("Status", "1"),
        ("Paused", "1"),
        ("PausedReason", "小休"),
        ("ActionID", "1"),
    )
    items: list[QueueItem] = [
        LinkUp(BASE),
        (BASE, Frame(member)),
        LinkDown(BASE + timedelta(seconds=10), "restart"),
        LinkUp(BASE + timedelta(seconds=20)),
        Resync(BASE + timedelta(seconds=21), (Frame(listed),)),
    ]
    await drain(calls, items)
    [agent] = live.snapshot().agents
    assert (agent.activity, agent.pause_reason) == (Activity.PAUSED, "小休")
    assert live.snapshot().link_up
    rows = await live.store.rows(BASE, BASE + timedelta(hours=1))
    assert [(r.activity, r.pause_reason, r.started_at) for r in rows] == [
        (Activity.AVAILABLE, None, BASE),
        (Activity.PAUSED, "小休", BASE + timedelta(seconds=21)),
    ]
    # a restart closes what was left open
    _, again = wire(engine, bus)
    await again.start()
    rows = await again.store.rows(BASE, BASE + timedelta(hours=1))
    assert all(r.ended_at is not None for r in rows)
    await again.stop()


async def test_a_restart_seeds_todays_queue_counters_from_the_stored_calls(
    engine: AsyncEngine,
) -> None:
    sessions = db.session_factory(engine)
    store = CallStore(sessions)
    await store.save(
        [
            answered_call("1.1", ring_s=4.0),
            answered_call("1.2", ring_s=20.0, at=T0 + timedelta(minutes=1)),
            abandoned_call("1.3", at=T0 + timedelta(minutes=2)),
            answered_call("1.4", ring_s=4.0, at=T0 - timedelta(days=1)),  # yesterday
        ]
    )
    bus = Bus()
    seen: list[Message] = []

    async def keep(m: Message) -> None:
        seen.append(m)

    bus.subscribe("queue/changed", keep)
    live = LiveService(
        LiveState(RingRule(), "Asia/Shanghai"),
        LiveStore(sessions),
        bus,
        clock=lambda: T0 + timedelta(hours=1),
        tick_s=3600,
        calls=store,
    )
    await live.start()
    [queue] = live.snapshot().queues
    day = date(2026, 11, 23)
    expected = DayCounters(day, offered=3, answered=2, answered_within=1, abandoned=1)
    assert (queue.queue, queue.today) == ("hotline", expected)
    assert [m.payload["today"]["offered"] for m in seen] == [3]
    await live.stop()
