"""feed() never raises: old switches, glued frames, garbage and half events are skipped."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

from hotline.telephony import events as ev
from hotline.telephony.frames import Frame
from hotline.telephony.model import CallEventKind, Direction, HangupBy, Outcome, RingRule
from hotline.telephony.tracker import CallTracker
from tests.telephony.traces import (
    ABNORMAL,
    SHAPES,
    ended,
    load_frames,
    load_yaml_frames,
    received_at,
    replay,
    to_events,
    tracker,
)

AT = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)


def test_goami2_call_replays_to_one_answered_call() -> None:
    frames = load_frames("goami2/call.ami")
    assert len(frames) == 51  # 49 blocks, two of them glued pairs
    records = ended(replay(tracker(), frames))
    assert list(records) == ["1598887681.60"]
    rec = records["1598887681.60"]
    assert rec.caller_number == "9170" and rec.caller_name == "Bud Heller"
    assert rec.dialled == "9898"
    assert rec.outcome is Outcome.ANSWERED
    assert rec.agent_channel == "SIP/okon.ferry.sip.com-0000003d"
    assert rec.hangup_by is HangupBy.CALLER  # HangupRequest on the caller channel came first
    assert rec.hangup_cause == 16 and rec.visits == ()


def test_legacy_asterisk_11_stream_is_ignored() -> None:
    t = tracker()
    out = []
    for _, event in to_events(load_yaml_frames("panoramisk/originate_with_events.yaml")):
        out += t.feed(event)
    assert out == [] and t.open_calls() == []


def test_other_goami2_and_panoramisk_samples_do_not_raise() -> None:
    t = tracker()
    for name in ("goami2/queues.ami", "goami2/queuemembers.ami", "goami2/confbridge.ami"):
        replay(t, load_frames(name))
    for name in ("agent_loggued_in", "queue_status", "queue_add", "login_ok", "originate_sync"):
        for _, event in to_events(load_yaml_frames(f"panoramisk/{name}.yaml")):
            t.feed(event)


def test_odd_events_never_raise() -> None:
    t = tracker()
    t.feed(ev.Newchannel(AT, "PJSIP/a-1", "1.1", "1.1", caller_num="<unknown>"))
    odd: list[ev.AmiEvent] = [
        ev.AmiEvent(AT),  # the bare base class
        ev.Hangup(AT, "PJSIP/none", "9.9", None),  # unknown channel
        ev.AgentConnect(AT, "PJSIP/a-1", "1.1", "1.1", queue="q"),  # no AgentCalled, no join
        ev.AgentRingNoAnswer(AT, "PJSIP/a-1", "1.1", "1.1", queue="q", ring_ms=None),
        ev.AgentComplete(AT, "PJSIP/a-1", "1.1", "1.1", queue="q", reason="weird"),
        ev.QueueCallerAbandon(AT, "PJSIP/a-1", "1.1", "1.1", queue="other"),
        ev.QueueCallerLeave(AT, "PJSIP/a-1", "1.1", "1.1", queue="nowhere"),
        ev.Unhold(AT, "PJSIP/a-1", "1.1", "1.1"),
        ev.BridgeLeave(AT, "PJSIP/a-1", "1.1", "1.1", bridge_id="none"),
        ev.VarSet(AT, "PJSIP/a-1", "1.1", "1.1", variable="HOTLINE_CALLBACK_ID", value="abc"),
        ev.DialEnd(AT, "PJSIP/b-1", "1.2", "ANSWER"),
        ev.Newchannel(AT - timedelta(days=1), "PJSIP/a-1", "1.1", "1.1"),  # seen again, older
        ev.ListedChannel(AT, "PJSIP/a-1", "1.1", "1.1"),  # listings only count in resync
        ev.QueueEntry(AT, "1.1", "q"),
    ]
    for event in odd:
        t.feed(event)
    (rec,) = t.open_calls()
    assert rec.caller_number is None
    assert rec.direction is Direction.CALLBACK and rec.callback_id is None
    assert ("HOTLINE_CALLBACK_ID", "abc") in rec.variables


def test_random_garbage_frames_never_raise() -> None:
    rng = random.Random(20260302)
    real = load_frames(f"{SHAPES}.raw")
    keys = sorted({k for f in real for k, _ in f.headers})
    names = [*sorted({f.event or "" for f in real}), "Nonsense", "", "Dial", "Bridge"]
    values = ["", "x", "-1", "1.5", "<unknown>", "ANSWER", "1790519558.2", "99999999999999999999"]
    t = tracker()
    skipped = 0
    for i in range(3000):
        if rng.random() < 0.5:  # a real frame with headers dropped or scrambled
            base = list(real[rng.randrange(len(real))].headers)
            headers = [
                (k, rng.choice(values) if rng.random() < 0.2 else v)
                for k, v in base
                if k == "Event" or rng.random() > 0.15
            ]
        else:
            headers = [("Event", rng.choice(names))]
            headers += [(rng.choice(keys), rng.choice(values)) for _ in range(rng.randrange(8))]
        try:
            event = ev.parse(Frame(tuple(headers)), received_at(i))
        except ev.MalformedFrame:
            skipped += 1
            continue
        if event is not None:
            t.feed(event)
    assert skipped > 0
    t.expire(received_at(10_000), timedelta(0))
    assert t.open_calls() == []


def test_replay_with_frames_shuffled_locally_never_raises() -> None:
    rng = random.Random(7)
    events = [e for _, e in to_events(load_frames(f"{SHAPES}.raw"))]
    for _ in range(5):
        shuffled = events[:]
        for i in range(0, len(shuffled) - 5, 5):
            window = shuffled[i : i + 5]
            rng.shuffle(window)
            shuffled[i : i + 5] = window
        t = tracker()
        for e in shuffled:
            t.feed(e)


def test_expire_closes_stale_calls_only() -> None:
    t = CallTracker(RingRule(), ABNORMAL)
    t.feed(ev.Newchannel(AT, "PJSIP/a-1", "1.1", "1.1", caller_num="13800138000"))
    t.feed(ev.Newchannel(AT + timedelta(hours=3), "PJSIP/b-1", "2.1", "2.1"))
    assert t.expire(AT + timedelta(hours=3), timedelta(hours=4)) == []
    (event,) = t.expire(AT + timedelta(hours=4, seconds=1), timedelta(hours=4))
    assert event.kind is CallEventKind.ENDED
    assert event.record.call_id == "1.1" and event.record.outcome is Outcome.END_UNKNOWN
    assert event.record.ended_at == AT and event.record.hangup_by is HangupBy.UNKNOWN
    assert [r.call_id for r in t.open_calls()] == ["2.1"]
    # a late Hangup of the expired call does not resurrect or re-end it
    assert t.feed(ev.Hangup(AT + timedelta(hours=5), "PJSIP/a-1", "1.1", "1.1", cause=16)) == []


def chan(name: str, uid: str, linked: str = "1.1") -> tuple[str, str, str]:
    return (name, uid, linked)


def test_recording_callback_hold_and_a_dropped_line() -> None:
    t = CallTracker(RingRule(), ABNORMAL)
    caller = chan("PJSIP/pstn-1", "1.1")
    agent = chan("PJSIP/agent7-2", "1.2")
    at = [AT + timedelta(seconds=s) for s in range(60)]
    member = {"queue": "q-gas", "member": "Agent 7", "interface": "PJSIP/agent7"}
    feed = [
        ev.Newchannel(
            at[0], *caller, caller_num="13800138000", caller_name="<unknown>", exten="95007"
        ),
        ev.VarSet(at[0], *caller, variable="__HOTLINE_CALLBACK_ID", value="42"),
        ev.NewCallerid(at[1], *caller, caller_num="13800138000", caller_name="王女士"),
        ev.QueueCallerJoin(at[2], *caller, queue="q-gas", position=1),
        ev.Newchannel(at[2], *agent),
        ev.AgentCalled(at[2], *caller, **member, dest_channel=agent[0], dest_uniqueid="1.2"),
        ev.AgentConnect(
            at[14], *caller, **member, dest_channel=agent[0], dest_uniqueid="1.2", ring_time_s=12
        ),
        ev.VarSet(at[15], *agent, variable="MIXMONITOR_FILENAME", value="/rec/2026/1.1.wav"),
        ev.BridgeEnter(at[15], *agent, bridge_id="b"),
        ev.BridgeEnter(at[15], *caller, bridge_id="b"),
        ev.Hold(at[20], *agent),
        ev.Unhold(at[30], *agent),
        ev.Hangup(at[40], *caller, cause=41, cause_txt="Temporary failure"),
        ev.Hangup(at[41], *agent, cause=16, cause_txt="Normal Clearing"),
    ]
    out = []
    for e in feed:
        out += t.feed(e)
    kinds = [e.kind for e in out]
    assert kinds[0] is CallEventKind.ENTERED
    assert CallEventKind.ANSWERED_LATE not in kinds and CallEventKind.ANSWERED in kinds
    rec = out[-1].record
    assert out[-1].kind is CallEventKind.ENDED
    assert rec.direction is Direction.CALLBACK and rec.callback_id == 42
    assert rec.caller_name == "王女士"
    assert rec.recording_file == "/rec/2026/1.1.wav"
    assert rec.hold_seconds == 10.0
    assert rec.ring_seconds == 12.0 and rec.rings == 3 and rec.within_rule is True
    assert rec.outcome is Outcome.DROPPED  # answered, caller's line failed (cause 41)
    assert rec.hangup_by is HangupBy.CALLER  # the caller's channel went first
    assert rec.talk_seconds == 27.0 and rec.ended_at == at[41]  # answered -> last hang-up


def test_late_answer_event() -> None:
    t = CallTracker(RingRule(), ABNORMAL)
    caller = chan("PJSIP/pstn-1", "1.1")
    member = {"queue": "q", "member": "A", "interface": "PJSIP/a", "dest_channel": "PJSIP/a-2"}
    t.feed(ev.Newchannel(AT, *caller))
    t.feed(ev.QueueCallerJoin(AT, *caller, queue="q"))
    t.feed(ev.AgentCalled(AT, *caller, **member))
    (answer,) = t.feed(ev.AgentConnect(AT + timedelta(seconds=16), *caller, **member))
    assert answer.kind is CallEventKind.ANSWERED_LATE
    assert answer.record.rings == 4 and answer.record.within_rule is False


def test_a_late_agent_complete_does_not_bring_the_callers_channel_back() -> None:
    """The order Asterisk 22 gave in CI: the agent's Local;2 hangs up, then the caller's
    channels, then AgentComplete (about the caller), and only then the agent's Local;1.
    The call ends once, on the last hang-up, with the talk time AgentComplete gave."""
    t = CallTracker(RingRule(), ABNORMAL)
    caller = chan("Local/13800000003@sim-pstn-2;1", "1.4", "1.4")
    pstn = chan("Local/13800000003@sim-pstn-2;2", "1.5", "1.4")
    agent1 = chan("Local/pickup-2@sim-agent-6;1", "1.12", "1.4")
    agent2 = chan("Local/pickup-2@sim-agent-6;2", "1.13", "1.4")
    at = [AT + timedelta(seconds=s) for s in range(20)]
    member = {
        "queue": "hotline-two",
        "member": "agent-two",
        "interface": "Local/pickup-2@sim-agent",
    }
    dest = {"dest_channel": agent1[0], "dest_uniqueid": "1.12"}
    feed = [
        ev.Newchannel(at[0], *caller, caller_num="13800000003", caller_name="王五"),
        ev.Newchannel(at[0], *pstn),
        ev.QueueCallerJoin(at[1], *caller, queue="hotline-two", position=1),
        ev.Newchannel(at[2], *agent1),
        ev.Newchannel(at[2], *agent2),
        ev.AgentCalled(at[2], *caller, **member, **dest),
        ev.AgentConnect(at[4], *caller, **member, **dest, ring_time_s=2, hold_time_s=3),
        ev.Hangup(at[6], *agent2, cause=16),
        ev.Hangup(at[6], *pstn, cause=16),
        ev.Hangup(at[6], *caller, cause=16),
        ev.AgentComplete(at[6], *caller, **member, **dest, talk_time_s=2, reason="agent"),
        ev.Hangup(at[7], *agent1, cause=16),
    ]
    out = []
    for e in feed:
        out += t.feed(e)
    ends = [e for e in out if e.kind is CallEventKind.ENDED]
    assert len(ends) == 1 and t.open_calls() == []
    rec = ends[0].record
    assert rec.ended_at == at[7] and rec.outcome is Outcome.ANSWERED
    assert rec.hangup_by is HangupBy.AGENT and rec.talk_seconds == 2.0
