"""The live state, scenario by scenario: small event tables fed to a LiveState, no sockets."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, timedelta

from hotline.telephony import events as ev
from hotline.telephony.events import DeviceState, MemberChange
from hotline.telephony.live import (
    Activity,
    AgentChanged,
    AgentView,
    CallerJoined,
    CallerLeft,
    CallerOutcome,
    DayCounters,
    LinkChanged,
    LiveChange,
    LiveState,
    QueueChanged,
    QueueView,
)
from hotline.telephony.model import RingRule

T0 = datetime(2026, 3, 2, 1, 0, tzinfo=UTC)  # 09:00 in Shanghai
AGENT = "PJSIP/8001"
QUEUE = "kefu"


def t(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def state(**kw: object) -> LiveState:
    return LiveState(RingRule(), "Asia/Shanghai", **kw)  # type: ignore[arg-type]


def member(
    s: float,
    change: MemberChange = MemberChange.ADDED,
    interface: str = AGENT,
    queue: str = QUEUE,
    **kw: object,
) -> ev.MemberStatus:
    kw.setdefault("device", DeviceState.NOT_INUSE)
    return ev.MemberStatus(t(s), change, queue, interface, "工号" + interface[-4:], **kw)  # type: ignore[arg-type]


def chan(uid: str) -> tuple[str, str, str]:
    return (f"PJSIP/pstn-{uid}", uid, uid)


def join(s: float, uid: str, position: int = 1, queue: str = QUEUE) -> ev.QueueCallerJoin:
    return ev.QueueCallerJoin(
        t(s), *chan(uid), queue=queue, position=position, caller_num="138" + uid
    )


def agent(kind: type[ev.AgentEvent], s: float, uid: str, interface: str = AGENT, **kw: object):  # type: ignore[no-untyped-def]
    return kind(
        t(s),
        *chan(uid),
        queue=kw.pop("queue", QUEUE),  # type: ignore[arg-type]
        member="工号" + interface[-4:],
        interface=interface,
        dest_channel=f"{interface}-0001",
        **kw,  # type: ignore[arg-type]
    )


def feed(live: LiveState, *events: ev.AmiEvent) -> list[LiveChange]:
    return [c for e in events for c in live.feed(e)]


def agents(changes: list[LiveChange]) -> list[AgentView]:
    return [c.agent for c in changes if isinstance(c, AgentChanged)]


def activities(changes: list[LiveChange]) -> list[Activity]:
    return [a.activity for a in agents(changes)]


def last_queue(changes: list[LiveChange]) -> QueueView:
    return [c.queue for c in changes if isinstance(c, QueueChanged)][-1]


def the_agent(live: LiveState, interface: str = AGENT) -> AgentView:
    return next(a for a in live.snapshot().agents if a.interface == interface)


def the_queue(live: LiveState, name: str = QUEUE) -> QueueView:
    return next(q for q in live.snapshot().queues if q.queue == name)


def test_an_agent_logs_in_and_is_available() -> None:
    live = state()
    changes = feed(live, member(0))
    assert activities(changes) == [Activity.AVAILABLE]
    a = the_agent(live)
    assert a.member == "工号8001" and [m.queue for m in a.queues] == [QUEUE]
    assert a.since == t(0) and a.device is DeviceState.NOT_INUSE
    q = last_queue(changes)
    assert (q.agents_logged_in, q.agents_available) == (1, 1)


def test_an_agent_pauses_with_reason_小休() -> None:
    live = state()
    feed(live, member(0))
    changes = feed(live, member(60, MemberChange.PAUSE, paused=True, paused_reason="小休"))
    [a] = agents(changes)
    assert (a.activity, a.paused, a.pause_reason, a.since) == (Activity.PAUSED, True, "小休", t(60))
    [closed] = [c.closed for c in changes if isinstance(c, AgentChanged)]
    assert closed is not None
    assert (closed.activity, closed.started_at, closed.ended_at) == (
        Activity.AVAILABLE,
        t(0),
        t(60),
    )
    assert (last_queue(changes).agents_available, last_queue(changes).agents_paused) == (0, 1)
    # a new reason is a new stretch; unpausing ends it
    changes = feed(live, member(90, MemberChange.PAUSE, paused=True, paused_reason="用餐"))
    [c] = [c for c in changes if isinstance(c, AgentChanged)]
    assert (
        c.agent.pause_reason == "用餐" and c.closed is not None and c.closed.pause_reason == "小休"
    )
    changes = feed(live, member(120, MemberChange.PAUSE, paused=False))
    assert activities(changes) == [Activity.AVAILABLE]
    assert the_agent(live).pause_reason is None


def test_paused_in_one_of_two_queues_still_takes_calls() -> None:
    live = state()
    feed(live, member(0), member(0, queue="投诉"))
    feed(live, member(5, MemberChange.PAUSE, queue="投诉", paused=True, paused_reason="培训"))
    assert the_agent(live).activity is Activity.AVAILABLE
    assert the_queue(live, "投诉").agents_paused == 1 and the_queue(live).agents_available == 1


def test_a_caller_waits_then_is_answered() -> None:
    live = state()
    feed(live, member(0))
    changes = feed(live, join(10, "1.1"))
    [joined] = [c for c in changes if isinstance(c, CallerJoined)]
    assert joined.caller.caller_num == "1381.1" and joined.caller.position == 1
    q = the_queue(live)
    assert [c.uniqueid for c in q.waiting] == ["1.1"] and q.longest_waiting_since == t(10)
    assert q.longest_wait_s(t(25)) == 15.0 and q.today.offered == 1
    feed(live, agent(ev.AgentCalled, 10.1, "1.1"))
    assert the_agent(live).activity is Activity.RINGING
    # app_queue says Leave just before Connect: the caller left because answered
    changes = feed(
        live,
        ev.QueueCallerLeave(t(14), *chan("1.1"), queue=QUEUE),
        agent(ev.AgentConnect, 14.0001, "1.1", ring_time_s=4),
    )
    [left] = [c for c in changes if isinstance(c, CallerLeft)]
    assert left.outcome is CallerOutcome.ANSWERED and left.at == t(14)
    q = the_queue(live)
    assert q.waiting == () and (q.today.answered, q.today.answered_within) == (1, 1)
    a = the_agent(live)
    assert a.activity is Activity.TALKING and [c.call_id for c in a.calls] == ["1.1"]


def test_answered_after_four_rings_is_not_within_the_rule() -> None:
    live = state()
    feed(live, member(0), join(0, "1.1"), agent(ev.AgentCalled, 1, "1.1"))
    feed(live, agent(ev.AgentConnect, 22, "1.1", ring_time_s=21))
    assert (the_queue(live).today.answered, the_queue(live).today.answered_within) == (1, 0)


def test_ringing_talking_wrap_up_available() -> None:
    live = state(wrapup_by_queue={QUEUE: 30})
    changes = feed(
        live,
        member(0),
        join(10, "1.1"),
        agent(ev.AgentCalled, 10, "1.1"),
        ev.QueueCallerLeave(t(13), *chan("1.1"), queue=QUEUE),
        agent(ev.AgentConnect, 13, "1.1"),
        member(13, MemberChange.STATUS, device=DeviceState.INUSE, in_call=True),
        agent(ev.AgentComplete, 73, "1.1", talk_time_s=60, reason="caller"),
        member(73, MemberChange.STATUS, device=DeviceState.NOT_INUSE, in_call=False),
    )
    seen = [(a.activity, a.since) for a in agents(changes)]
    assert seen == [
        (Activity.AVAILABLE, t(0)),
        (Activity.RINGING, t(10)),
        (Activity.TALKING, t(13)),
        (Activity.TALKING, t(13)),  # same stretch, device now in use
        (Activity.TALKING, t(13)),  # the call is over, the phone not yet hung up
        (Activity.WRAP_UP, t(73)),
    ]
    assert the_agent(live).wrapup_until == t(103)
    assert live.tick(t(100)) == []
    changes = live.tick(t(104))
    [back] = [c for c in changes if isinstance(c, AgentChanged)]
    assert (back.agent.activity, back.at, back.agent.since) == (Activity.AVAILABLE, t(103), t(103))
    assert back.closed is not None and back.closed.activity is Activity.WRAP_UP
    segments = [c.closed for c in changes if isinstance(c, AgentChanged) and c.closed]
    assert segments[0].ended_at - segments[0].started_at == timedelta(seconds=30)


def test_a_hangup_ends_the_call_when_app_queue_sends_no_agent_complete() -> None:
    """The caller's hang-up raced the bridge: AgentConnect, then the legs hang up and
    app_queue sends no AgentComplete (seen on the test switch, see tests/switch/scenarios.py).
    The agent must not stay talking: wrap-up runs from the first Hangup."""
    live = state(wrapup_by_queue={QUEUE: 3})
    feed(
        live,
        member(0, state_interface=AGENT),
        join(1, "1.1"),
        agent(ev.AgentCalled, 1, "1.1", dest_uniqueid="1.2"),
        ev.QueueCallerLeave(t(3), *chan("1.1"), queue=QUEUE),
        agent(ev.AgentConnect, 3, "1.1", dest_uniqueid="1.2"),
        ev.DeviceStateChange(t(3), AGENT, DeviceState.INUSE),
    )
    assert the_agent(live).activity is Activity.TALKING
    changes = feed(
        live,
        ev.Hangup(t(6), *chan("1.1"), cause=16),
        ev.Hangup(t(6.01), f"{AGENT}-0001", "1.2", "1.1", cause=16),
        ev.DeviceStateChange(t(6.02), AGENT, DeviceState.NOT_INUSE),
    )
    [talk] = [c.closed for c in changes if isinstance(c, AgentChanged) and c.closed]
    # talking until the phone is free again (its device state), wrap-up from the Hangup
    assert (talk.activity, talk.started_at, talk.ended_at) == (Activity.TALKING, t(3), t(6.02))
    assert (the_agent(live).activity, the_agent(live).wrapup_until) == (Activity.WRAP_UP, t(9))
    assert activities(live.tick(t(9.5))) == [Activity.AVAILABLE]


def test_an_agent_complete_after_the_hangup_changes_nothing() -> None:
    live = state(wrapup_by_queue={QUEUE: 3})
    feed(
        live,
        member(0),
        agent(ev.AgentConnect, 3, "1.1", dest_uniqueid="1.2"),
        ev.Hangup(t(6), f"{AGENT}-0001", "1.2", "1.1", cause=16),
    )
    assert the_agent(live).wrapup_until == t(9)
    assert feed(live, agent(ev.AgentComplete, 6.4, "1.1", talk_time_s=3)) == []
    assert the_agent(live).wrapup_until == t(9)
    # the next call of the same caller is followed as usual
    feed(live, agent(ev.AgentConnect, 20, "1.1", dest_uniqueid="1.3"))
    feed(live, agent(ev.AgentComplete, 25, "1.1", talk_time_s=5))
    assert the_agent(live).wrapup_until == t(28)


def test_the_members_own_wrapup_time_wins_and_no_wrapup_by_default() -> None:
    live = state()
    feed(live, member(0), agent(ev.AgentConnect, 1, "1.1"), agent(ev.AgentComplete, 5, "1.1"))
    assert the_agent(live).activity is Activity.AVAILABLE
    live = state(wrapup_s=10)
    feed(live, member(0, wrapup_s=3), agent(ev.AgentConnect, 1, "1.1"))
    feed(live, agent(ev.AgentComplete, 5, "1.1"))
    assert the_agent(live).wrapup_until == t(8)


def test_ring_no_answer_counts_a_missed_ring_and_frees_the_agent() -> None:
    live = state()
    feed(live, member(0), join(0, "1.1"), agent(ev.AgentCalled, 1, "1.1"))
    changes = feed(live, agent(ev.AgentRingNoAnswer, 16, "1.1", ring_ms=15000))
    [c] = [c for c in changes if isinstance(c, AgentChanged)]
    assert c.agent.activity is Activity.AVAILABLE
    assert c.closed is not None and (c.closed.activity, c.closed.missed) == (Activity.RINGING, 1)


def test_ringall_answered_elsewhere_stops_the_other_rings() -> None:
    live = state()
    other = "PJSIP/8002"
    feed(live, member(0), member(0, interface=other), join(1, "1.1"))
    feed(live, agent(ev.AgentCalled, 1, "1.1"), agent(ev.AgentCalled, 1, "1.1", interface=other))
    feed(live, agent(ev.AgentConnect, 3, "1.1", interface=other))
    assert the_agent(live).activity is Activity.AVAILABLE
    assert the_agent(live, other).activity is Activity.TALKING


def test_an_abandon_then_a_queue_timeout() -> None:
    live = state()
    feed(live, member(0), join(0, "1.1"), join(1, "1.2", position=2))
    changes = feed(live, ev.QueueCallerAbandon(t(5), *chan("1.1"), queue=QUEUE, hold_time_s=5))
    [left] = [c for c in changes if isinstance(c, CallerLeft)]
    assert left.outcome is CallerOutcome.ABANDONED
    assert [(c.uniqueid, c.position) for c in the_queue(live).waiting] == [("1.2", 1)]
    feed(
        live,
        ev.QueueCallerAbandon(t(30), *chan("1.2"), queue=QUEUE),
        ev.QueueCallerLeave(t(30), *chan("1.2"), queue=QUEUE),
        ev.VarSet(t(30), *chan("1.2"), variable="QUEUESTATUS", value="TIMEOUT"),
    )
    today = the_queue(live).today
    assert (today.offered, today.abandoned, today.timed_out) == (2, 1, 1)


def test_a_callback_joining_the_queue_is_counted() -> None:
    live = state()
    feed(
        live,
        ev.VarSet(t(0), *chan("9.1"), variable="__HOTLINE_CALLBACK_ID", value="17"),
        join(1, "9.1"),
    )
    q = the_queue(live)
    assert (q.today.offered, q.today.callbacks) == (1, 1) and q.waiting[0].callback


def test_device_states_follow_the_state_interface() -> None:
    live = state()
    feed(live, member(0, interface="Local/8001@agents/n", state_interface="PJSIP/8001"))
    feed(live, ev.DeviceStateChange(t(1), "PJSIP/8001", DeviceState.UNAVAILABLE))
    a = the_agent(live, "Local/8001@agents/n")
    assert (a.device, a.activity) == (DeviceState.UNAVAILABLE, Activity.UNAVAILABLE)
    feed(live, ev.DeviceStateChange(t(2), "PJSIP/8001", DeviceState.INUSE))
    assert the_agent(live, "Local/8001@agents/n").activity is Activity.TALKING  # a direct call
    feed(live, ev.DeviceStateChange(t(3), "Queue:kefu_avail", DeviceState.INUSE))  # ignored
    feed(live, ev.DeviceStateChange(t(4), "Local/8001@agents", DeviceState.NOT_INUSE))
    assert the_agent(live, "Local/8001@agents/n").activity is Activity.AVAILABLE


def test_unknown_members_and_queues_are_taken_in() -> None:
    live = state()
    changes = feed(live, agent(ev.AgentCalled, 0, "1.1", interface="PJSIP/9999", queue="新队列"))
    assert activities(changes) == [Activity.RINGING]
    assert the_queue(live, "新队列").agents_logged_in == 1
    feed(live, ev.QueueCallerLeave(t(1), *chan("7.7"), queue="nowhere"))  # never joined
    feed(live, agent(ev.AgentComplete, 2, "5.5", interface="PJSIP/7777"))
    assert the_agent(live, "PJSIP/7777").activity is Activity.AVAILABLE


def test_logging_out_of_the_last_queue() -> None:
    live = state()
    feed(live, member(0), member(0, queue="投诉"))
    feed(live, member(10, MemberChange.REMOVED))
    assert [m.queue for m in the_agent(live).queues] == ["投诉"]
    changes = feed(live, member(20, MemberChange.REMOVED, queue="投诉"))
    [c] = [c for c in changes if isinstance(c, AgentChanged)]
    assert c.agent.activity is Activity.LOGGED_OUT and c.closed is not None
    assert all(a.interface != AGENT for a in live.snapshot().agents)
    assert the_queue(live).agents_logged_in == 0


def test_reconnect_rebuilds_from_queue_status() -> None:
    live = state()
    other, gone = "PJSIP/8002", "PJSIP/8003"
    feed(live, member(0), member(0, interface=other), member(0, interface=gone))
    feed(live, join(1, "1.1"), join(2, "1.2", position=2), agent(ev.AgentCalled, 2, "1.1"))
    assert live.resync([], t(3)) == [LinkChanged(t(3), True)]
    assert live.link_down(t(5)) == [LinkChanged(t(5), False)]
    assert live.snapshot().link_up is False
    # while the link was down: 8001 paused, 8003 logged out, 1.1 answered by 8002, 1.3 joined
    listing: list[ev.AmiEvent] = [
        ev.QueueParams(t(60), QUEUE, calls=2),
        member(60, MemberChange.LISTED, paused=True, paused_reason="小休"),
        member(60, MemberChange.LISTED, interface=other, device=DeviceState.INUSE, in_call=True),
        ev.QueueEntry(t(60), "1.2", QUEUE, position=1, wait_s=58),
        ev.QueueEntry(t(60), "1.3", QUEUE, position=2, wait_s=20, caller_num="139"),
    ]
    changes = live.resync(listing, t(60))
    assert LinkChanged(t(60), True) in changes
    assert the_agent(live).activity is Activity.PAUSED and the_agent(live).pause_reason == "小休"
    assert the_agent(live).ringing == ()
    assert the_agent(live, other).activity is Activity.TALKING
    assert all(a.interface != gone for a in live.snapshot().agents)
    q = the_queue(live)
    assert [(c.uniqueid, c.position, c.joined_at) for c in q.waiting] == [
        ("1.2", 1, t(2)),  # known: keeps its own join time
        ("1.3", 2, t(40)),
    ]
    outcomes = {(c.caller.uniqueid, c.outcome) for c in changes if isinstance(c, CallerLeft)}
    assert outcomes == {("1.1", CallerOutcome.GONE)}
    assert {c.caller.uniqueid for c in changes if isinstance(c, CallerJoined)} == {"1.3"}
    # the call 8002 was on when we came back ends: wrap-up / available as usual
    feed(live, agent(ev.AgentComplete, 70, "1.1", interface=other))
    feed(live, member(70, MemberChange.STATUS, interface=other, in_call=False))
    assert the_agent(live, other).activity is Activity.AVAILABLE


def test_a_listing_without_queues_changes_nothing() -> None:
    live = state()
    feed(live, member(0, paused=True, paused_reason="小休"))
    live.link_down(t(1))
    live.resync([ev.ListedChannel(t(2), *chan("1.1"))], t(2))
    assert the_agent(live).activity is Activity.PAUSED


def test_todays_counters_reset_at_local_midnight() -> None:
    live = state()
    late = datetime(2026, 3, 2, 15, 59, 0, tzinfo=UTC)  # 23:59 in Shanghai
    feed(live, member(0))
    live.feed(ev.QueueCallerJoin(late, *chan("1.1"), queue=QUEUE, position=1))
    assert the_queue(live).today.offered == 1
    assert the_queue(live).today.day == date(2026, 3, 2)
    changes = live.tick(late + timedelta(minutes=2))  # 00:01
    q = last_queue(changes)
    assert q.today.day == date(2026, 3, 3) and q.today.offered == 0
    assert [c.at for c in changes if isinstance(c, QueueChanged)] == [
        datetime(2026, 3, 2, 16, 0, tzinfo=UTC)
    ]
    assert len(q.waiting) == 1  # the caller still waits


def test_a_bad_event_never_raises() -> None:
    live = state()
    weird = ev.MemberStatus(t(0), MemberChange.PAUSE, "", "", "")
    feed(live, weird, member(1))
    assert the_agent(live).activity is Activity.AVAILABLE


def test_todays_counters_are_seeded_from_the_stored_calls_after_a_restart() -> None:
    live = state()
    feed(live, member(0))
    live.feed(ev.QueueCallerJoin(t(1), *chan("1.1"), queue=QUEUE, position=1))  # counted live
    today = date(2026, 3, 2)
    stored = DayCounters(today, offered=5, answered=3, answered_within=2, abandoned=1)
    changes = live.seed_today(
        t(2),
        {
            QUEUE: stored,
            "other": DayCounters(today, offered=2, callbacks=1),
            "yesterday": DayCounters(date(2026, 3, 1), offered=9),
        },
    )
    queues = {c.queue.queue: c.queue.today for c in changes if isinstance(c, QueueChanged)}
    assert queues == {QUEUE: stored, "other": DayCounters(today, offered=2, callbacks=1)}
    assert the_queue(live).today == stored
    # a live counter already higher than the stored one stays
    live.feed(ev.QueueCallerJoin(t(3), *chan("1.2"), queue=QUEUE, position=2))
    live.seed_today(t(4), {QUEUE: DayCounters(today, offered=1, timed_out=1)})
    assert the_queue(live).today == replace(stored, offered=6, timed_out=1)
