"""The live state replayed over real captures: our Asterisk 22 session and verbara's
QueueStatus snapshots taken while callers wait (tests/data and tests/data/ami)."""

from __future__ import annotations

from datetime import timedelta
from itertools import groupby

from hotline.telephony import events as ev
from hotline.telephony.live import (
    Activity,
    AgentChanged,
    CallerLeft,
    CallerOutcome,
    LiveChange,
    LiveState,
)
from hotline.telephony.model import RingRule
from tests.telephony.traces import RELOAD, SHAPES, ended, load_frames, replay, to_events, tracker


def live() -> LiveState:
    return LiveState(RingRule(), "Asia/Shanghai")


def test_our_asterisk_22_session() -> None:
    state = live()
    changes: list[LiveChange] = []
    for _, event in to_events(load_frames("../asterisk22-scenarios.raw")):
        changes += state.feed(event)
    changes += state.tick(changes[-1].at + timedelta(minutes=1))
    queues = {q.queue: q for q in state.snapshot().queues}
    fast, slow, two = queues["hotline-fast"], queues["hotline-slow"], queues["hotline-two"]
    t = fast.today
    assert (t.offered, t.answered, t.answered_within, t.callbacks) == (4, 4, 4, 1)
    t = slow.today
    assert (t.offered, t.answered, t.answered_within, t.abandoned, t.timed_out) == (3, 1, 0, 1, 1)
    t = two.today
    assert (t.offered, t.answered, t.answered_within) == (1, 1, 1)
    assert all(q.waiting == () for q in queues.values())
    outcomes = sorted(c.outcome for c in changes if isinstance(c, CallerLeft))
    assert outcomes.count(CallerOutcome.ANSWERED) == 6
    assert outcomes.count(CallerOutcome.ABANDONED) == 2
    # every agent went back to available, and agent-noanswer missed one ring
    assert {a.member: a.activity for a in state.snapshot().agents} == {
        "agent-fast": Activity.AVAILABLE,
        "agent-slow": Activity.AVAILABLE,
        "agent-noanswer": Activity.AVAILABLE,
        "agent-two": Activity.AVAILABLE,
    }
    missed = [
        c.closed.missed
        for c in changes
        if isinstance(c, AgentChanged) and c.closed and c.closed.member == "agent-noanswer"
    ]
    assert sum(missed) == 1
    # talk from AgentConnect to AgentComplete is the call record's talk time, within a
    # second (agent-fast takes four calls at once: its one stretch covers them all)
    records = ended(replay(tracker(), load_frames("../asterisk22-scenarios.raw")))
    for name in ("agent-slow", "agent-two"):
        talk = [
            c.closed
            for c in changes
            if isinstance(c, AgentChanged)
            and c.closed
            and c.closed.member == name
            and c.closed.activity is Activity.TALKING
        ]
        [call] = [r for r in records.values() if r.agent_member == name]
        assert len(talk) == 1 and call.talk_seconds is not None
        seconds = (talk[0].ended_at - talk[0].started_at).total_seconds()
        assert abs(seconds - call.talk_seconds) < 1


def test_queue_status_snapshots_rebuild_the_state() -> None:
    """Each QueueStatus answer in the capture is taken as the listing after a reconnect."""
    state = live()
    events = to_events(load_frames(f"{RELOAD}.raw"))

    def listing_of(item: tuple[int, ev.AmiEvent]) -> bool:
        return isinstance(item[1], ev.QueueParams | ev.QueueEntry) or (
            isinstance(item[1], ev.MemberStatus) and item[1].change is ev.MemberChange.LISTED
        )

    rebuilt = 0
    for is_listing, group in groupby(events, key=listing_of):
        items = [e for _, e in group]
        if not is_listing:
            for e in items:
                state.feed(e)
            continue
        state.link_down(items[0].at)
        state.resync(items, items[-1].at)
        rebuilt += 1
        snap = state.snapshot()
        members = {(m.interface, m.queue) for m in items if isinstance(m, ev.MemberStatus)}
        shown = {(a.interface, ms.queue) for a in snap.agents for ms in a.queues}
        assert shown == members
        entries = {(e.queue, e.uniqueid) for e in items if isinstance(e, ev.QueueEntry)}
        waiting = {(q.queue, c.uniqueid) for q in snap.queues for c in q.waiting}
        assert waiting == entries
        assert snap.link_up
    assert rebuilt == 5
    assert all(q.waiting == () for q in state.snapshot().queues)


def test_sixteen_queue_shapes_end_with_nobody_waiting_or_talking() -> None:
    state = live()
    changes: list[LiveChange] = []
    for _, event in to_events(load_frames(f"{SHAPES}.raw")):
        changes += state.feed(event)
    changes += state.tick(changes[-1].at + timedelta(minutes=1))
    snap = state.snapshot()
    assert all(q.waiting == () for q in snap.queues)
    assert {a.activity for a in snap.agents} <= {Activity.AVAILABLE, Activity.UNAVAILABLE}
    assert sum(q.today.answered for q in snap.queues) == 10  # AgentConnect x 10
    assert sum(q.today.offered for q in snap.queues) == 16
