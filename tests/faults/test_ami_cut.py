"""Fault: the AMI link is cut while an Originate is in flight (a real `AmiClient` against a
small AMI server that drops the link). The attempt is closed as a failed try (never left
open, never re-sent), and every callback is dialled again once the link is back."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, time, timedelta

from sqlalchemy.ext.asyncio import AsyncEngine

from hotline.core import db
from hotline.core.bus import Bus
from hotline.telephony.ami import AmiClient
from hotline.telephony.callback_service import CallbackService, DialPlan
from hotline.telephony.callback_store import CallbackStore
from hotline.telephony.callbacks import CallbackPolicy
from tests.factories import abandoned_call
from tests.telephony.fake_ami import FakeAmi


async def until(cond: object, timeout: float = 10.0) -> None:
    async with asyncio.timeout(timeout):
        while not cond():  # type: ignore[operator]
            await asyncio.sleep(0.02)


async def test_the_ami_link_cut_during_an_originate_loses_no_callback(
    engine: AsyncEngine,
) -> None:
    switch = FakeAmi(originate_outcome="hold")  # the switch never answers the first ones
    await switch.start()
    ami = AmiClient(
        "127.0.0.1",
        switch.port,
        switch.username,
        switch.secret,
        queue=asyncio.Queue(),
        ping_interval=0.2,
        ping_timeout=0.2,
        reconnect_min=0.1,
        reconnect_max=0.4,
    )
    store = CallbackStore(db.session_factory(engine))
    service = CallbackService(
        store,
        CallbackPolicy(delay_s=0, retry_interval_min=0.005, quiet_start=time(0), quiet_end=time(0)),
        DialPlan(),
        Bus(),
        ami,
        poll_s=0.05,
    )
    ended = datetime.now(UTC) - timedelta(minutes=1)
    ids = []
    for n in range(3):
        call = abandoned_call(f"cut-{n}", at=ended, caller_number=f"1390013900{n}")
        cb = await service.on_call_ended(call)
        assert cb is not None
        ids.append(cb.id)
    await ami.start()
    runner = asyncio.create_task(service.run())
    try:
        await until(lambda: switch.count("Originate") == 3)  # three in flight
        switch.drop()  # the link is cut mid-Originate
        await until(lambda: not ami.connected)
        await until(lambda: ami.connected)  # the link is back
        switch.originate_outcome = "success"
        await until(lambda: switch.count("Originate") >= 6)
        await service.drain()
    finally:
        runner.cancel()
        await asyncio.gather(runner, return_exceptions=True)
        await service.stop()
        await ami.stop()
        await switch.close()
    after = [await store.get(i) for i in ids]
    first_tries = [a.attempts[0] for a in after if a is not None]
    assert [t.finished_at is not None for t in first_tries] == [True] * 3  # closed, not open
    assert all("连接中断" in (t.reason_text or "") for t in first_tries), first_tries
    action_ids = [a.get("ActionID") for a in switch.actions if a.get("Action") == "Originate"]
    assert len(action_ids) == len(set(action_ids))  # nothing re-sent under the same id
    redialled = sum(1 for a in after if a is not None and len(a.attempts) >= 2)
    print(
        f"| AMI link cut during 3 Originates | 3 calls | {redialled} callbacks dialled again | "
        f"cut attempts closed: {sum(1 for t in first_tries if t.finished_at)} | "
        f"duplicates {len(action_ids) - len(set(action_ids))} |"
    )
    assert redialled == 3


async def test_the_ami_link_cut_during_a_followup_dial_closes_it_and_followups_go_on(
    engine: AsyncEngine,
) -> None:
    from tests.tickets.test_service import T0, handled_and_replied, make

    switch = FakeAmi(originate_outcome="hold")
    await switch.start()
    ami = AmiClient(
        "127.0.0.1",
        switch.port,
        switch.username,
        switch.secret,
        queue=asyncio.Queue(),
        ping_interval=0.2,
        ping_timeout=0.2,
        reconnect_min=0.1,
        reconnect_max=0.4,
    )
    await ami.start()
    try:
        w = make(engine, ami)  # type: ignore[arg-type]
        tid = await handled_and_replied(w)
        await until(lambda: ami.connected)
        w.clock.now = T0 + timedelta(hours=2)
        dial = asyncio.create_task(w.service.dial_due())
        await until(lambda: switch.count("Originate") == 1)
        switch.drop()  # the link is cut while the customer's phone rings
        assert await asyncio.wait_for(dial, 5) == 1
        [cut] = await w.service.store.followups(tid)
        assert cut.result == "unreachable" and cut.finished_at is not None  # closed
        await until(lambda: ami.connected)
        switch.originate_outcome = "failure"
        w.clock.now = T0 + timedelta(hours=4)
        assert await w.service.dial_due() == 1  # 回访 goes on: the next attempt is dialled
        assert [a.result for a in await w.service.store.followups(tid)] == ["unreachable"] * 2
    finally:
        await ami.stop()
        await switch.close()
