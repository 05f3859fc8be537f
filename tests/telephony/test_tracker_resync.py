"""After a lost AMI link or a restart the tracker trusts the switch's listing, not memory.

The queue-reload capture took five Status + QueueStatus snapshots while callers waited:
a tracker that starts (or reconnects) at any of them must finish every call with the same
identity and outcome as one that saw everything, and never twice.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from typing import Any

import pytest

from hotline.telephony.events import (
    AmiEvent,
    Hangup,
    ListedChannel,
    Newchannel,
    QueueCallerJoin,
    QueueEntry,
)
from hotline.telephony.frames import Frame
from hotline.telephony.model import CallEventKind, CallRecord, Outcome, RingRule
from tests.telephony.traces import (
    RELOAD,
    ended,
    epoch,
    expected,
    load_frames,
    replay,
    to_events,
    tracker,
)

FRAMES = load_frames(f"{RELOAD}.raw")
SNAPSHOTS = expected(RELOAD)["snapshots"]
CALLS = {c["linkedid"]: c for c in expected(RELOAD)["calls"]}
CALL_A = "1790633830.0"


def full_run() -> dict[str, CallRecord]:
    return ended(replay(tracker(), FRAMES))


def listing(snap: dict[str, Any]) -> list[AmiEvent]:
    frames: list[Frame] = [FRAMES[i] for i in snap["frames"]]
    events = [e for _, e in to_events(frames)]
    assert all(isinstance(e, ListedChannel | QueueEntry) for e in events)
    assert all(f.action_id and f.action_id.startswith(f"w2qr-{snap['marker']}") for f in frames)
    return events


def after(snap: dict[str, Any]) -> int:
    return max(snap["frames"]) + 1


@pytest.mark.parametrize("snap", SNAPSHOTS, ids=[s["marker"] for s in SNAPSHOTS])
def test_fresh_tracker_started_at_a_snapshot_finishes_the_same_calls(snap: dict[str, Any]) -> None:
    at = epoch(snap["ts"])
    t = tracker()
    t.link_down(at)
    events = t.resync(listing(snap), at)
    assert [e.kind for e in events if e.kind is CallEventKind.ENDED] == []
    assert t.open_calls(), "the listing shows a caller waiting"
    events += replay(t, FRAMES, start=after(snap))
    records = ended(events)
    baseline = full_run()
    assert records, "the calls live at the snapshot end"
    for call_id, rec in records.items():
        assert call_id in baseline
        want = baseline[call_id]
        assert (rec.caller_uniqueid, rec.caller_number) == (
            want.caller_uniqueid,
            want.caller_number,
        )
        assert rec.outcome is want.outcome is Outcome.ANSWERED
        assert rec.agent_channel == want.agent_channel
    assert t.open_calls() == []
    entered = [e.record.call_id for e in events if e.kind is CallEventKind.ENTERED]
    assert len(entered) == len(set(entered))


def test_fresh_tracker_takes_the_queue_wait_from_queue_entry() -> None:
    snap = next(s for s in SNAPSHOTS if s["marker"] == "a1")
    at = epoch(snap["ts"])
    t = tracker()
    events = t.resync(listing(snap), at)
    assert [e.kind for e in events] == [CallEventKind.ENTERED, CallEventKind.QUEUED]
    (rec,) = t.open_calls()
    assert rec.call_id == CALL_A and rec.caller_channel == "PJSIP/pstn-00000000"
    assert rec.caller_number == "5552101"
    assert rec.visits[0].queue == "q-late"
    assert rec.queue_joined_at == at - timedelta(seconds=3)  # QueueEntry Wait: 3
    assert rec.entered_at == at - timedelta(seconds=3)  # Status Seconds: 3
    events = replay(t, FRAMES, start=after(snap))
    final = ended(events)[CALL_A]
    assert final.outcome is Outcome.ANSWERED
    # the AgentCalled was missed: ring start comes from AgentConnect's RingTime (10 s)
    assert final.ring_seconds == pytest.approx(10.0, abs=0.01)
    assert final.within_rule is True


@pytest.mark.parametrize("snap", SNAPSHOTS, ids=[s["marker"] for s in SNAPSHOTS])
def test_reconnect_at_a_snapshot_changes_nothing(snap: dict[str, Any]) -> None:
    at = epoch(snap["ts"])
    t = tracker()
    events = replay(t, FRAMES, stop=snap["frame"])
    t.link_down(at)
    resynced = t.resync(listing(snap), at)
    assert [e.kind for e in resynced] == []  # all known, all confirmed
    events += replay(t, FRAMES, start=after(snap))
    assert ended(events) == full_run()


def test_half_a_call_missing_from_the_listing_ends_unknown() -> None:
    t = tracker()
    replay(t, FRAMES, stop=8)  # call a: joined, agent ringing
    (rec,) = t.open_calls()
    down = epoch("1790633832.0")
    t.link_down(down)
    events = t.resync([], epoch("1790633833.0"))
    assert [e.kind for e in events] == [CallEventKind.ENDED]
    final = events[0].record
    assert final.call_id == rec.call_id == CALL_A
    assert final.outcome is Outcome.END_UNKNOWN
    assert final.ended_at is not None and final.ended_at <= down
    assert t.open_calls() == []
    # the switch's late events for it no longer open anything
    assert ended(replay(t, FRAMES, start=44, stop=67)) == {}


def test_half_a_call_in_the_listing_stays_open_and_completes() -> None:
    snap = next(s for s in SNAPSHOTS if s["marker"] == "a1")
    t = tracker()
    replay(t, FRAMES, stop=8)
    t.link_down(epoch("1790633832.0"))
    assert t.resync(listing(snap), epoch(snap["ts"])) == []
    assert [r.call_id for r in t.open_calls()] == [CALL_A]
    final = ended(replay(t, FRAMES, start=after(snap)))[CALL_A]
    assert final.outcome is Outcome.ANSWERED
    assert final.ring_seconds == pytest.approx(10.0, abs=0.05)


def test_a_live_event_after_link_down_keeps_the_call() -> None:
    t = tracker()
    replay(t, FRAMES, stop=8)
    t.link_down(epoch("1790633832.0"))
    replay(t, FRAMES, start=44, stop=46)  # Newstate of its channels: the call is alive
    assert t.resync([], epoch("1790633841.0")) == []
    assert [r.call_id for r in t.open_calls()] == [CALL_A]


def test_restored_calls_wait_for_the_listing() -> None:
    first = tracker()
    replay(first, FRAMES, stop=8)
    saved = first.open_calls()
    # process restart: a new tracker reloads the open calls from the store
    kept = tracker()
    kept.restore(saved)
    assert kept.open_calls() == saved
    snap = next(s for s in SNAPSHOTS if s["marker"] == "a1")
    assert kept.resync(listing(snap), epoch(snap["ts"])) == []
    final = ended(replay(kept, FRAMES, start=after(snap)))[CALL_A]
    assert final.outcome is Outcome.ANSWERED
    assert final.entered_at == saved[0].entered_at

    gone = tracker()
    gone.restore(saved)
    (event,) = gone.resync([], epoch(snap["ts"]))
    assert event.kind is CallEventKind.ENDED and event.record.outcome is Outcome.END_UNKNOWN


def test_restore_skips_closed_and_known_calls() -> None:
    t = tracker()
    replay(t, FRAMES, stop=8)
    (rec,) = t.open_calls()
    closed = replace(rec, call_id="x", ended_at=rec.entered_at, outcome=Outcome.ANSWERED)
    t.restore([rec, closed])
    assert t.open_calls() == [rec]


def test_agent_login_in_a_listing_is_not_a_call() -> None:
    frames = load_frames("verbara/queue-shapes-asterisk-22.9.0.raw")
    login = frames[7]  # BridgeEnter of the agent's login channel: same channel fields as Status
    fields = [(k, "Status" if k == "Event" else v) for k, v in login.headers]
    headers = (*fields, ("Application", "AgentLogin"), ("Seconds", "60"))
    events = [e for _, e in to_events([Frame(headers)])]
    t = tracker(RingRule())
    assert t.resync(events, epoch("1790519600")) == []
    assert t.open_calls() == []


def _channel(kind: type[Any], second: int, name: str, uniqueid: str, **more: Any) -> Any:
    return kind(epoch(f"1790700000.{second}"), name, uniqueid, "c.1", **more)


def test_a_channel_gone_while_the_link_was_down_does_not_keep_its_call_open() -> None:
    # the customer and the agent's Local pair are up; the agent's half hangs up while
    # Hotline's link is down, so its Hangup is never seen
    t = tracker()
    t.feed(_channel(Newchannel, 0, "PJSIP/trunk-1", "c.1", caller_num="13800000005"))
    t.feed(_channel(Newchannel, 1, "Local/pickup-3@sim-agent-1;1", "a.1"))
    t.link_down(epoch("1790700002"))
    listed = [_channel(ListedChannel, 3, "PJSIP/trunk-1", "c.1")]
    assert t.resync(listed, epoch("1790700003")) == []
    (event,) = t.feed(_channel(Hangup, 4, "PJSIP/trunk-1", "c.1", cause=38))
    assert event.kind is CallEventKind.ENDED and event.record.call_id == "c.1"
    assert t.open_calls() == []


def test_a_restored_call_whose_caller_left_ends_with_its_last_channel() -> None:
    first = tracker()
    first.feed(_channel(Newchannel, 0, "PJSIP/trunk-1", "c.1", caller_num="13800000005"))
    t = tracker()
    t.restore(first.open_calls())  # the caller's channel went while Hotline was stopped
    listed = [_channel(ListedChannel, 3, "Local/pickup-3@sim-agent-1;1", "a.1")]
    assert t.resync(listed, epoch("1790700003")) == []
    (event,) = t.feed(_channel(Hangup, 4, "Local/pickup-3@sim-agent-1;1", "a.1", cause=16))
    assert event.kind is CallEventKind.ENDED and event.record.call_id == "c.1"


def test_a_call_first_seen_in_a_listing_never_enters_after_its_own_events() -> None:
    """The link came back while a caller was being queued: the listing (ages in whole
    seconds, taken at the switch's time) shows the channel, and the QueueCallerJoin held
    while it was taken follows. The call entered no later than it joined the queue."""
    t = tracker()
    at = epoch("1796337571.000")
    t.link_down(at)
    caller = ("Local/13800000001@sim-pstn-00000000;1", "1796337571.0", "1796337571.0")
    listed = ListedChannel(at + timedelta(seconds=0.5), *caller, caller_num="13800000001")
    t.resync([listed], at + timedelta(seconds=0.6))
    (queued,) = t.feed(QueueCallerJoin(at - timedelta(seconds=0.1), *caller, queue="q"))
    rec = queued.record
    assert rec.entered_at == at - timedelta(seconds=0.1) == rec.queue_joined_at
