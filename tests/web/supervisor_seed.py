"""What a supervisor's pages show, put in through the real stores and the app's own live
service: a callback waiting for its first try, an overdue complaint and an urgent gas leak
ticket, and the AMI events of agents and a waiting caller, parsed as the switch sends them.

Used by the browser tests of the supervisor pages and by `tests.web.screenshots`.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from hotline.core.bus import Message
from hotline.core.roles import Role
from hotline.telephony import events as ev
from hotline.telephony.callback_store import CallbackStore
from hotline.telephony.callbacks import AttemptStage
from hotline.tickets.lifecycle import Action
from hotline.tickets.model import Category
from hotline.tickets.store import TicketStore
from tests.web.world import World

QUEUE = "hotline"


async def seed_supervision(sessions: Any) -> dict[str, int]:
    """One scheduled callback (of the abandoned call 1.4), an overdue complaint (1.2) and an
    urgent emergency (1.3); returns their ids."""
    now = datetime.now(UTC).replace(microsecond=0)
    cb = await CallbackStore(sessions).create(
        call_id="1.4",
        number="13500135000",
        reason="abandoned",
        connect_kind="queue",
        connect_target=QUEUE,
        first_attempt_at=now + timedelta(hours=3),  # not tried while the test runs
        now=now,
    )
    assert cb is not None
    tried = await _tried_twice(CallbackStore(sessions), now)
    tickets = TicketStore(sessions)
    late, _ = await tickets.draft_for_call(
        call_id="1.2",
        caller_number="13900139000",
        agent="PJSIP/1002",
        recording_id=None,
        created_at=now - timedelta(hours=1),
        now=now,
    )
    await tickets.refine(
        late.id,
        now=now,
        category=Category.COMPLAINT,
        summary="投诉营业厅工作人员服务态度差",
        topic="服务态度",
        unit="营业厅",
    )
    await tickets.apply(late.id, Action.CONFIRM, "li", Role.AGENT, now=now)
    await tickets.mark_overdue(late.id, ["dispatch"], now)
    urgent, _ = await tickets.draft_for_call(
        call_id="1.3",
        caller_number="13700137000",
        agent="PJSIP/1001",
        recording_id=None,
        created_at=now,
        now=now,
    )
    await tickets.refine(
        urgent.id,
        now=now,
        category=Category.EMERGENCY,
        summary="闻到很浓的燃气味，怀疑燃气泄漏",
        topic="燃气泄漏",
        unit="抢修中心",
        urgent=True,
    )
    await tickets.apply(urgent.id, Action.CONFIRM, "wang", Role.AGENT, now=now)
    await tickets.apply(
        urgent.id, Action.DISPATCH, "chen", Role.SUPERVISOR, data={"unit": "抢修中心"}, now=now
    )
    return {
        "callback": cb.id,
        "tried": tried,
        "overdue": late.ticket.id,
        "urgent": urgent.ticket.id,
    }


async def _tried_twice(store: CallbackStore, now: datetime) -> int:
    """A callback of the dropped call 1.2, tried twice as the dialler records it: the first
    time the customer picked up and hung up at the greeting, the second time they waited
    in the queue and hung up before an agent answered; no tries left."""
    cb = await store.create(
        call_id="1.2",
        number="13900139000",
        reason="dropped",
        connect_kind="queue",
        connect_target=QUEUE,
        first_attempt_at=now - timedelta(hours=1),
        now=now - timedelta(hours=1),
    )
    assert cb is not None
    steps = [
        (AttemptStage.CUSTOMER_ANSWERED, "客户接听后挂断"),
        (AttemptStage.QUEUED, "客户在队列中等待时挂断"),
    ]
    for no, (stage, result) in enumerate(steps, start=1):
        at = now - timedelta(minutes=60 - 20 * no)
        action_id = f"seed-cb-{cb.id}-{no}"
        assert await store.begin_attempt(cb.id, action_id=action_id, now=at)
        await store.advance_attempt(callback_id=cb.id, action_id=action_id, stage=stage)
        await store.finish_attempt(
            action_id, now=at, verdict="retry", reason_code=4, reason_text=result, uniqueid=None
        )
        await store.save_progress(
            cb.id,
            expect="dialing",
            status="exhausted" if no == len(steps) else "scheduled",
            attempts_made=no,
            next_attempt_at=None,
            last_attempt_at=at,
            last_result=result,
            now=at,
        )
    return cb.id


def member(interface: str, name: str, **kw: Any) -> ev.MemberStatus:
    change = kw.pop("change", ev.MemberChange.ADDED)
    device = kw.pop("device", ev.DeviceState.NOT_INUSE)
    return ev.MemberStatus(datetime.now(UTC), change, QUEUE, interface, name, device=device, **kw)


def caller_joins(uid: str, number: str) -> ev.QueueCallerJoin:
    return ev.QueueCallerJoin(
        datetime.now(UTC), f"PJSIP/pstn-{uid}", uid, uid, queue=QUEUE, position=1, caller_num=number
    )


def caller_leaves(uid: str) -> ev.QueueCallerLeave:
    return ev.QueueCallerLeave(datetime.now(UTC), f"PJSIP/pstn-{uid}", uid, uid, queue=QUEUE)


def feed(world: World, *events: ev.AmiEvent) -> None:
    """Hand `events` to the running app's live service as its AMI consumer does."""

    async def work(app: Any) -> None:
        live = app.state.live
        for e in events:
            live.service.feed(e)
        await live.service.commit()

    world.on_server(work)


def publish(world: World, topic: str, payload: dict[str, Any]) -> None:
    """Publish on the running app's bus, as a service of it would."""

    async def work(app: Any) -> None:
        await app.state.container.bus.publish(Message(topic, payload))

    world.on_server(work)


def stream_clients(world: World) -> int:
    """How many live streams the running app has open."""
    return int(world.app.state.live.feed.clients)


def cut_streams(world: World) -> None:
    """End every open live stream as the feed ends one that fell behind (its browser
    reconnects and starts again from a fresh snapshot)."""
    from hotline.api import live_feed

    async def work(app: Any) -> None:
        feed = app.state.live.feed
        for client in list(feed._clients):
            feed.close(client)
            client.queue.put_nowait(live_feed._CUT)

    world.on_server(work)


def use_fake_switch(world: World, switch: Any) -> None:
    """Point the running app's supervision service (pause, log out, spy) at `switch`, a
    tests.telephony.fake_switch.FakeSwitch, knowing who is on a call from its live state."""
    from hotline.telephony.supervision import Roster, SpyDialPlan, SupervisionService
    from hotline.telephony.supervision_store import SupervisionStore

    async def work(app: Any) -> None:
        real = app.state.supervision
        app.state.supervision = SupervisionService(
            switch,
            SupervisionStore(app.state.container.sessions),
            pause_reasons=real.pause_reasons,
            spy=SpyDialPlan(),
            roster=Roster(app.state.live.service.snapshot),
        )

    world.on_server(work)
