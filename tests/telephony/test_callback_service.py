"""Dropped-call callbacks as a supervisor sees them: scheduled, dialled, retried, done."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from hotline.core import db
from hotline.core.bus import Bus, Message
from hotline.telephony.ami import AmiError, AmiUnavailable, OriginateResult
from hotline.telephony.callback_service import CallbackService, DialPlan
from hotline.telephony.callback_store import CallbackStore
from hotline.telephony.callbacks import CallbackPolicy, CallbackTransitionError
from hotline.telephony.frames import Frame
from hotline.telephony.model import (
    CallEvent,
    CallEventKind,
    CallRecord,
    Direction,
    Outcome,
    QueueVisit,
)
from tests.factories import T0, abandoned_call, answered_call


@dataclass
class FakeSwitch:
    """Answers Originate with the results it is given, in order."""

    results: list[OriginateResult | Exception] = field(default_factory=list)
    calls: list[dict[str, object]] = field(default_factory=list)
    connected: bool = True
    # runs before the OriginateResponse is returned (the leg's news may come first)
    meanwhile: Callable[[], Awaitable[None]] | None = None

    async def originate(self, *, variables: Mapping[str, str], **kw: object) -> OriginateResult:
        self.calls.append({**kw, "variables": dict(variables)})
        outcome = self.results.pop(0)
        if self.meanwhile is not None:
            await self.meanwhile()
        if isinstance(outcome, Exception):
            raise outcome
        return outcome


LEG = "1.77"  # the callback leg: the Originate's channel, root of its own call


def result(success: bool, reason: int, leg: str = LEG) -> OriginateResult:
    return OriginateResult(success, reason, "", leg if success else None, None, Frame(()))


def leg_event(
    callback_id: int,
    *,
    reached: bool = False,
    queued: bool = False,
    connected: bool = False,
    ended: bool = False,
    call_id: str = LEG,
    at: datetime = T0,
) -> CallEvent:
    """The call tracker's news of a callback leg, as far as the customer got."""
    leg = CallRecord(
        call_id=call_id,
        linkedid=call_id,
        caller_uniqueid=call_id,
        caller_channel="Local/13900139000@hotline-outbound-00000001;1",
        entered_at=at,
        direction=Direction.CALLBACK,
        caller_number="13900139000",
        callback_id=callback_id,
        callback_reached_at=at + timedelta(seconds=8) if reached else None,
        queue_joined_at=at + timedelta(seconds=9) if queued else None,
        visits=(QueueVisit("hotline", at + timedelta(seconds=9)),) if queued else (),
        answered_at=at + timedelta(seconds=15) if connected else None,
        ended_at=at + timedelta(seconds=40) if ended else None,
        outcome=Outcome.ANSWERED if ended and connected else Outcome.IN_PROGRESS,
    )
    if ended and not connected:
        leg = replace(leg, outcome=Outcome.ABANDONED if queued else Outcome.NOT_QUEUED)
    kind = CallEventKind.ENDED if ended else CallEventKind.UPDATED
    return CallEvent(kind, leg, leg.ended_at or at)


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


World = tuple[CallbackService, FakeSwitch, Clock, list[Message]]


@pytest.fixture
async def world(engine: AsyncEngine) -> World:
    bus = Bus()
    seen: list[Message] = []

    async def record(m: Message) -> None:
        seen.append(m)

    bus.subscribe("callback/", record)
    switch = FakeSwitch()
    clock = Clock(T0)
    service = CallbackService(
        CallbackStore(db.session_factory(engine)),
        CallbackPolicy(),
        DialPlan(),
        bus,
        switch,
        clock=clock,
    )
    return service, switch, clock, seen


async def test_an_abandoned_caller_is_called_back_a_minute_later_and_reached(world: World) -> None:
    service, switch, clock, seen = world
    cb = await service.on_call_ended(abandoned_call(wait_s=30))
    assert cb is not None and cb.status == "scheduled"
    assert cb.next_attempt_at == abandoned_call().ended_at + timedelta(seconds=60)  # type: ignore[operator]

    clock.now = cb.next_attempt_at - timedelta(seconds=1)  # type: ignore[operator]
    assert await service.tick() == 0
    clock.now += timedelta(seconds=1)
    switch.results.append(result(True, 4))
    assert await service.tick() == 1
    await service.drain()

    (call,) = switch.calls
    assert call["channel"] == "Local/13900139000@hotline-outbound"
    assert call["context"] == "hotline-callback"
    assert call["variables"] == {
        "HOTLINE_CALLBACK_ID": str(cb.id),
        "HOTLINE_CALL_ID": cb.call_id,
        "HOTLINE_QUEUE": "hotline",
    }
    # the line answered: not done yet, the leg tells how far the customer gets
    answered = await service.store.get(cb.id)
    assert answered is not None and answered.status == "dialing"
    assert [a.stage for a in answered.attempts] == ["customer_answered"]
    await service.on_call_event(leg_event(cb.id, reached=True, queued=True))
    done = await service.store.get(cb.id)
    assert done is not None and done.status == "done"
    assert done.last_result == "已接通（客户已进入队列）"
    assert [(a.verdict, a.stage, a.leg_call_id) for a in done.attempts] == [("done", "queued", LEG)]
    assert [m.topic for m in seen] == [
        "callback/scheduled",
        "callback/attempted",
        "callback/progress",
        "callback/done",
    ]


async def test_no_answer_is_retried_ten_minutes_apart_then_given_up(world: World) -> None:
    service, switch, clock, seen = world
    cb = await service.on_call_ended(answered_call(outcome=Outcome.DROPPED, hangup_cause=38))
    assert cb is not None and cb.connect_kind == "agent" and cb.connect_target == "PJSIP/1001"
    clock.now = cb.next_attempt_at  # type: ignore[assignment]
    for attempt in range(3):
        switch.results.append(result(False, 3))
        assert await service.tick() == 1
        await service.drain()
        now = await service.store.get(cb.id)
        assert now is not None
        if attempt < 2:
            assert now.status == "scheduled" and now.last_result == "客户未接听"
            assert now.next_attempt_at == clock.now + timedelta(minutes=10)
            clock.now = now.next_attempt_at  # type: ignore[assignment]
    final = await service.store.get(cb.id)
    assert final is not None and final.status == "exhausted" and len(final.attempts) == 3
    assert {c["variables"]["HOTLINE_CALLBACK_AGENT"] for c in switch.calls} == {"PJSIP/1001"}
    assert seen[-1].topic == "callback/failed"


async def test_the_same_call_seen_twice_gets_one_callback(world: World) -> None:
    service, *_ = world
    assert await service.on_call_ended(abandoned_call()) is not None
    assert await service.on_call_ended(abandoned_call()) is None
    assert len(await service.store.find()) == 1


async def test_short_abandons_and_withheld_numbers_get_no_callback(world: World) -> None:
    service, *_ = world
    assert await service.on_call_ended(abandoned_call("1", wait_s=3)) is None
    assert await service.on_call_ended(abandoned_call("2", caller_number="<unknown>")) is None
    assert await service.store.find() == []


async def test_an_attempt_cut_off_by_a_restart_counts_and_is_retried_not_doubled(
    world: World,
) -> None:
    service, switch, clock, _ = world
    cb = await service.on_call_ended(abandoned_call())
    assert cb is not None
    clock.now = cb.next_attempt_at  # type: ignore[assignment]
    assert await service.store.begin_attempt(cb.id, action_id="lost-1", now=clock.now)
    # the process dies here; a new one starts
    await service.recover()
    after = await service.store.get(cb.id)
    assert after is not None and after.status == "scheduled" and after.attempts_made == 1
    assert after.attempts[0].reason_text == "服务重启，上次呼叫结果未知"
    assert switch.calls == []


async def test_the_link_dropping_mid_originate_schedules_a_retry(world: World) -> None:
    service, switch, clock, _ = world
    cb = await service.on_call_ended(abandoned_call())
    assert cb is not None
    clock.now = cb.next_attempt_at  # type: ignore[assignment]
    switch.results.append(AmiUnavailable("link lost"))
    await service.tick()
    await service.drain()
    after = await service.store.get(cb.id)
    assert after is not None and after.status == "scheduled"
    assert after.last_result is not None and "连接中断" in after.last_result


async def test_nothing_is_dialled_while_the_switch_is_unreachable(world: World) -> None:
    service, switch, clock, _ = world
    cb = await service.on_call_ended(abandoned_call())
    assert cb is not None
    clock.now = cb.next_attempt_at + timedelta(hours=1)  # type: ignore[operator]
    switch.connected = False
    assert await service.tick() == 0
    after = await service.store.get(cb.id)
    assert after is not None and after.status == "scheduled"


async def test_a_supervisor_cancels_and_retriggers(world: World) -> None:
    service, _, clock, seen = world
    cb = await service.on_call_ended(abandoned_call())
    assert cb is not None
    cancelled = await service.cancel(cb.id, by="zhangsan")
    assert cancelled.status == "cancelled" and cancelled.updated_by == "zhangsan"
    with pytest.raises(CallbackTransitionError, match="已取消"):
        await service.cancel(cb.id, by="zhangsan")
    again = await service.retrigger(cb.id, by="lisi")
    assert again.status == "scheduled" and again.next_attempt_at == clock.now
    assert [m.topic for m in seen][-2:] == ["callback/cancelled", "callback/scheduled"]


async def test_the_callback_extension_is_a_setting(engine: AsyncEngine) -> None:
    switch = FakeSwitch([result(True, 4)])
    clock = Clock(T0)
    service = CallbackService(
        CallbackStore(db.session_factory(engine)),
        CallbackPolicy(),
        DialPlan(extension="callback"),
        Bus(),
        switch,
        clock=clock,
    )
    cb = await service.on_call_ended(abandoned_call())
    assert cb is not None
    clock.now = cb.next_attempt_at  # type: ignore[assignment]
    await service.tick()
    await service.drain()
    assert switch.calls[0]["exten"] == "callback"


async def test_a_switch_without_the_callback_extension_fails_the_callback_and_alerts(
    world: World, caplog: pytest.LogCaptureFixture
) -> None:
    service, switch, clock, seen = world
    alerts: list[Message] = []

    async def alert(m: Message) -> None:
        alerts.append(m)

    service.bus.subscribe("alert/", alert)
    cb = await service.on_call_ended(abandoned_call())
    assert cb is not None
    clock.now = cb.next_attempt_at  # type: ignore[assignment]
    switch.results.append(AmiError("Asterisk refused Originate x: Extension does not exist."))
    with caplog.at_level("WARNING"):
        await service.tick()
        await service.drain()
    after = await service.store.get(cb.id)
    assert after is not None and after.status == "failed" and after.attempts_made == 1
    assert after.last_result is not None and "Extension does not exist" in after.last_result
    assert seen[-1].topic == "callback/failed"
    (refused,) = alerts
    assert refused.topic == "alert/callback_refused"
    assert refused.payload["switch_reason"] == (
        "Asterisk refused Originate x: Extension does not exist."
    )
    assert (refused.payload["context"], refused.payload["extension"]) == ("hotline-callback", "s")
    assert "Extension does not exist" in caplog.text
    assert await service.tick() == 0  # not retried


async def test_another_refusal_is_logged_and_retried(
    world: World, caplog: pytest.LogCaptureFixture
) -> None:
    service, switch, clock, _ = world
    cb = await service.on_call_ended(abandoned_call())
    assert cb is not None
    clock.now = cb.next_attempt_at  # type: ignore[assignment]
    switch.results.append(AmiError("Asterisk refused Originate x: Originate failed"))
    with caplog.at_level("WARNING"):
        await service.tick()
        await service.drain()
    after = await service.store.get(cb.id)
    assert after is not None and after.status == "scheduled"
    assert after.last_result == "交换机拒绝了呼叫 (Asterisk refused Originate x: Originate failed)"
    assert "Originate failed" in caplog.text


async def _answered_attempt(world: World, record: CallRecord) -> int:
    """Schedule a callback for `record`, dial it, the customer's line answers."""
    service, switch, clock, _ = world
    cb = await service.on_call_ended(record)
    assert cb is not None
    clock.now = cb.next_attempt_at  # type: ignore[assignment]
    switch.results.append(result(True, 4))
    assert await service.tick() == 1
    await service.drain()
    return cb.id


DROPPED = answered_call(outcome=Outcome.DROPPED, hangup_cause=38)  # back to agent PJSIP/1001


async def test_a_customer_who_answers_but_hangs_up_before_the_agent_is_tried_again(
    world: World,
) -> None:
    service, _, clock, seen = world
    cb_id = await _answered_attempt(world, DROPPED)
    await service.on_call_event(leg_event(cb_id, reached=True))
    await service.on_call_event(leg_event(cb_id, reached=True, ended=True))
    after = await service.store.get(cb_id)
    assert after is not None and after.status == "scheduled" and after.attempts_made == 1
    assert after.last_result == "客户接听后在接通坐席前挂断"
    assert after.next_attempt_at == clock.now + timedelta(minutes=10)
    (attempt,) = after.attempts
    assert (attempt.verdict, attempt.stage) == ("retry", "reached_context")
    assert attempt.leg_ended_at is not None
    assert seen[-1].topic == "callback/retry"


async def test_a_callback_to_the_agent_is_not_done_in_the_queue_only_with_the_agent(
    world: World,
) -> None:
    service, *_ = world
    cb_id = await _answered_attempt(world, DROPPED)
    await service.on_call_event(leg_event(cb_id, reached=True, queued=True))
    waiting = await service.store.get(cb_id)
    assert waiting is not None and waiting.status == "dialing"
    assert waiting.attempts[0].stage == "queued"
    await service.on_call_event(leg_event(cb_id, reached=True, queued=True, connected=True))
    done = await service.store.get(cb_id)
    assert done is not None and done.status == "done" and done.last_result == "已接通坐席"
    assert done.attempts[0].stage == "agent_connected"
    # the conversation's end changes nothing
    await service.on_call_event(
        leg_event(cb_id, reached=True, queued=True, connected=True, ended=True)
    )
    still = await service.store.get(cb_id)
    assert still is not None and still.status == "done" and still.attempts_made == 1


async def test_an_answered_line_that_never_reaches_the_callback_context_is_a_failed_try(
    world: World,
) -> None:
    service, *_ = world
    cb_id = await _answered_attempt(world, DROPPED)
    await service.on_call_event(leg_event(cb_id, ended=True))
    after = await service.store.get(cb_id)
    assert after is not None and after.status == "scheduled"
    assert after.last_result is not None and "拨号方案" in after.last_result
    assert after.attempts[0].stage == "customer_answered"


async def test_a_leg_that_ends_before_its_originate_response_is_settled_once(
    world: World,
) -> None:
    service, switch, clock, seen = world
    cb = await service.on_call_ended(DROPPED)
    assert cb is not None
    clock.now = cb.next_attempt_at  # type: ignore[assignment]

    async def leg_first() -> None:
        await service.on_call_event(leg_event(cb.id, reached=True, queued=True, ended=True))

    switch.meanwhile = leg_first
    switch.results.append(result(True, 4))
    await service.tick()
    await service.drain()
    after = await service.store.get(cb.id)
    assert after is not None and after.status == "scheduled" and after.attempts_made == 1
    assert after.last_result == "客户在排队中挂断，未接通坐席"
    assert [m.topic for m in seen].count("callback/retry") == 1


async def test_late_news_of_an_earlier_attempts_leg_does_not_touch_the_next_one(
    world: World,
) -> None:
    service, switch, clock, _ = world
    cb_id = await _answered_attempt(world, DROPPED)
    await service.on_call_event(leg_event(cb_id, reached=True, ended=True))
    retry = await service.store.get(cb_id)
    assert retry is not None and retry.next_attempt_at is not None
    clock.now = retry.next_attempt_at
    switch.results.append(result(True, 4, leg="1.99"))
    await service.tick()
    await service.drain()
    # the first leg's events, replayed late, name the first leg, not the second
    await service.on_call_event(leg_event(cb_id, reached=True, queued=True, connected=True))
    second = await service.store.get(cb_id)
    assert second is not None and second.status == "dialing"
    await service.on_call_event(
        leg_event(cb_id, reached=True, queued=True, connected=True, call_id="1.99")
    )
    done = await service.store.get(cb_id)
    assert done is not None and done.status == "done"
    assert [a.leg_call_id for a in done.attempts] == [LEG, "1.99"]


async def test_an_answered_attempt_waits_for_its_leg_across_a_restart(world: World) -> None:
    service, switch, _, _ = world
    cb_id = await _answered_attempt(world, DROPPED)
    await service.recover()  # a new process: the customer is on the line, not redialled
    waiting = await service.store.get(cb_id)
    assert waiting is not None and waiting.status == "dialing" and waiting.attempts_made == 0
    await service.on_call_event(leg_event(cb_id, reached=True, queued=True, connected=True))
    done = await service.store.get(cb_id)
    assert done is not None and done.status == "done"
    assert len(switch.calls) == 1


async def test_an_answered_attempt_whose_leg_is_never_heard_of_is_retried_hours_later(
    world: World,
) -> None:
    service, _, clock, _ = world
    cb_id = await _answered_attempt(world, DROPPED)
    clock.now += timedelta(hours=3)
    await service.tick()
    still = await service.store.get(cb_id)
    assert still is not None and still.status == "dialing"
    clock.now += timedelta(hours=1, seconds=1)
    await service.tick()
    after = await service.store.get(cb_id)
    assert after is not None and after.status == "scheduled" and after.attempts_made == 1
    assert after.last_result == "客户接听后未收到通话结果，按未接通处理"


async def test_a_scheduled_callback_is_retriggered_to_dial_now(world: World) -> None:
    service, switch, clock, _ = world
    cb_id = await _answered_attempt(world, DROPPED)
    await service.on_call_event(leg_event(cb_id, reached=True, ended=True))
    clock.now += timedelta(minutes=2)  # the retry is due in 8 minutes
    again = await service.retrigger(cb_id, by="lisi")
    assert again.status == "scheduled" and again.next_attempt_at == clock.now
    assert again.attempts_made == 0 and again.updated_by == "lisi"
    switch.results.append(result(False, 3))
    assert await service.tick() == 1
    await service.drain()
    assert len(switch.calls) == 2


async def test_a_dialing_callback_is_not_retriggered(world: World) -> None:
    service, *_ = world
    cb_id = await _answered_attempt(world, DROPPED)
    with pytest.raises(CallbackTransitionError, match="正在呼叫"):
        await service.retrigger(cb_id, by="lisi")


async def test_a_call_cut_by_a_switch_restart_is_called_back_once_when_the_link_is_back(
    world: World,
) -> None:
    service, switch, clock, _ = world
    cut = replace(DROPPED, outcome=Outcome.END_UNKNOWN, hangup_cause=None)
    switch.connected = False  # the switch is restarting
    cb = await service.on_call_ended(cut)
    assert cb is not None and cb.reason == "switch_cut" and cb.connect_target == "PJSIP/1001"
    assert await service.on_call_ended(cut) is None  # closed again after a resync: once
    clock.now = cb.next_attempt_at + timedelta(minutes=5)  # type: ignore[operator]
    assert await service.tick() == 0 and switch.calls == []
    switch.connected = True
    switch.results.append(result(True, 4))
    assert await service.tick() == 1
    await service.drain()
    assert len(switch.calls) == 1


async def test_a_database_error_during_start_up_recovery_is_retried_not_fatal(
    world: World,
) -> None:
    """The recovery at start runs inside the scheduler's error handler: the database away
    at that moment delays it, and callbacks still go out afterwards."""
    import asyncio

    from sqlalchemy.exc import TimeoutError as PoolTimeout

    service, switch, clock, _ = world
    cb = await service.on_call_ended(abandoned_call())
    assert cb is not None
    assert await service.store.begin_attempt(cb.id, action_id="lost-1", now=clock.now)
    real, failures = service.store.dialing, [PoolTimeout("QueuePool limit reached")]

    async def flaky() -> list[object]:
        if failures:
            raise failures.pop()
        return await real()  # type: ignore[return-value]

    service.store.dialing = flaky  # type: ignore[assignment,method-assign]
    service.poll_s = 0.02
    clock.now = cb.next_attempt_at + timedelta(hours=1)  # type: ignore[operator]
    runner = asyncio.create_task(service.run())

    async def recovered() -> bool:
        got = await service.store.get(cb.id)
        return got is not None and got.status == "scheduled"

    try:
        async with asyncio.timeout(5):
            while not await recovered():
                assert not runner.done()
                await asyncio.sleep(0.02)
        assert not failures  # it failed once, and was tried again
        clock.now += timedelta(minutes=11)  # the retry interval: the scheduler goes on
        async with asyncio.timeout(5):
            while not switch.calls:
                assert not runner.done()
                await asyncio.sleep(0.02)
    finally:
        runner.cancel()
        await asyncio.gather(runner, return_exceptions=True)
        await service.drain()
    after = await service.store.get(cb.id)
    assert after is not None and after.attempts[0].reason_text == "服务重启，上次呼叫结果未知"
    assert len(switch.calls) == 1
