"""The 16 queue call shapes of a real Asterisk 22.9.0 capture, and the queue-reload capture.

Each call of the capture must end as exactly one record that agrees with app_queue's own
verdicts (the `.expected.json` next to the capture), whatever the member type (Local,
PJSIP, agent pool, FreePBX-style) or the route (IVR first, dialer, transfer, overflow).
"""

from __future__ import annotations

from datetime import timedelta
from functools import cache
from typing import Any

import pytest

from hotline.telephony.model import (
    AttemptResult,
    CallEvent,
    CallEventKind,
    CallRecord,
    HangupBy,
    Outcome,
    RingRule,
)
from tests.telephony.traces import (
    RELOAD,
    SHAPES,
    ended,
    epoch,
    expected,
    load_frames,
    replay,
    tracker,
)

SHAPE_OUTCOME = {
    **dict.fromkeys(["L", "P", "P2", "PI", "PD", "A", "AO", "F", "T", "O", "D"], Outcome.ANSWERED),
    **dict.fromkeys(["XC", "AX", "X1", "X2"], Outcome.ABANDONED),
    "X3": Outcome.NO_AGENT,
    "I": Outcome.NOT_QUEUED,
}
SHAPE_CALLS = expected(SHAPES)["calls"]


@cache
def shapes_run() -> tuple[tuple[CallEvent, ...], dict[str, CallRecord]]:
    events = replay(tracker(), load_frames(f"{SHAPES}.raw"))
    return tuple(events), ended(events)


def record_of(shape: str) -> CallRecord:
    call = next(c for c in SHAPE_CALLS if c["shape"] == shape)
    return shapes_run()[1][call["linkedid"]]


def test_every_call_ends_once_and_nothing_else_does() -> None:
    _, records = shapes_run()
    assert sorted(records) == sorted(c["linkedid"] for c in SHAPE_CALLS)
    assert set(SHAPE_OUTCOME) == {c["shape"] for c in SHAPE_CALLS}
    assert len(records) == 17  # 15 queue shapes + the D and I controls


def test_agent_login_sessions_are_not_calls() -> None:
    events, records = shapes_run()
    logins = {"1790519556.0", "1790519556.1"}
    assert not logins & set(records)
    kinds = [(e.record.call_id, e.kind) for e in events if e.record.call_id in logins]
    # nothing tells a login from a call until AgentLogin: ENTERED, then DISCARDED
    assert kinds == [
        ("1790519556.0", CallEventKind.ENTERED),
        ("1790519556.0", CallEventKind.DISCARDED),
        ("1790519556.1", CallEventKind.ENTERED),
        ("1790519556.1", CallEventKind.DISCARDED),
    ]


def test_nothing_left_open_after_the_capture() -> None:
    t = tracker()
    replay(t, load_frames(f"{SHAPES}.raw"))
    assert t.open_calls() == []


@pytest.mark.parametrize("call", SHAPE_CALLS, ids=[c["shape"] for c in SHAPE_CALLS])
def test_shape_matches_app_queue(call: dict[str, Any]) -> None:
    rec = shapes_run()[1][call["linkedid"]]
    assert rec.call_id == call["linkedid"]
    assert rec.caller_uniqueid == call["caller_uniqueid"]
    assert rec.caller_channel == call["caller_channel"]
    assert rec.caller_number == call["caller_num"]
    assert rec.outcome is SHAPE_OUTCOME[call["shape"]]
    assert rec.hangup_cause == call["hangup"]["cause"]
    assert rec.hangup_cause_text == call["hangup"]["cause_txt"]
    assert rec.ended_at is not None and rec.ended_at >= rec.entered_at

    assert [v.queue for v in rec.visits] == [v["queue"] for v in call["visits"]]
    for visit, want in zip(rec.visits, call["visits"], strict=True):
        rung = [
            a for a in rec.attempts if a.queue == visit.queue and a.started_at >= visit.joined_at
        ]
        assert [a.member for a in rung][: len(want["agents_called"])] == want["agents_called"]
        no_answer = [(a.member, a.ring_ms) for a in rung if a.result is AttemptResult.NO_ANSWER]
        assert no_answer == [(r["member"], r["ringtime_ms"]) for r in want["ring_no_answer"]]
        verdict = want["outcome"]
        assert visit.hold_s == verdict["holdtime_s"]
        if verdict["kind"] == "connect":
            assert visit.result == "connect"
        elif call["shape"] in ("X3", "O"):  # QueueCallerAbandon raised by the queue timeout
            assert visit.result == "timeout"
        else:
            assert visit.result == "abandon"

    connect = next(
        (v["outcome"] for v in call["visits"] if v["outcome"]["kind"] == "connect"), None
    )
    if connect is not None:
        assert rec.agent_member == connect["member"]
        assert rec.agent_channel == connect["agent_channel"]
        assert rec.talk_seconds == connect["talktime_s"]
        assert rec.hangup_by is HangupBy.CALLER  # every connect ends with Reason: caller
        assert rec.answered_at is not None and rec.ring_seconds is not None
        assert rec.within_rule is True
        answered = [a for a in rec.attempts if a.result is AttemptResult.ANSWERED]
        assert [a.channel for a in answered] == [connect["agent_channel"]]
    elif rec.outcome is Outcome.ABANDONED:
        assert rec.hangup_by is HangupBy.CALLER
        assert rec.answered_at is None and rec.within_rule is None


def test_L_local_member_answers() -> None:
    rec = record_of("L")
    assert rec.visits[0].result == "connect"
    assert rec.dialled == "4001"
    assert rec.queue_joined_at is not None and rec.answered_at is not None
    assert rec.wait_seconds == pytest.approx(
        (rec.answered_at - rec.queue_joined_at).total_seconds()
    )
    assert rec.rings == 1


def test_P2_ringall_cancels_the_other_member() -> None:
    rec = record_of("P2")
    results = {a.member: a.result for a in rec.attempts}
    assert results == {
        "PJSIP/agent2": AttemptResult.CANCELLED,
        "PJSIP/agent1": AttemptResult.ANSWERED,
    }
    assert rec.ring_started_at == rec.attempts[0].started_at  # the first member rung in the visit


def test_PD_dialer_call_takes_the_number_from_the_answered_customer() -> None:
    rec = record_of("PD")
    assert rec.caller_number == "7000"
    assert (
        rec.dialled == "qp"
    )  # the Originate channel starts at `s`; the queue exten is the first real one


def test_A_agent_pool_local_channel_stays_in_the_customer_call() -> None:
    # Local;2 takes the agent login channel's Linkedid; the call still ends with its last channel
    rec = record_of("A")
    assert rec.agent_member == "Agent One"
    assert rec.outcome is Outcome.ANSWERED
    assert rec.visits[0].hold_s == 0


def test_X3_queue_timeout_then_dialplan_hangup_is_no_agent() -> None:
    rec = record_of("X3")
    assert rec.visits[0].result == "timeout"
    assert rec.hangup_by is HangupBy.SYSTEM
    assert rec.attempts[0].result is AttemptResult.NO_ANSWER and rec.attempts[0].ring_ms == 4000


def test_X1_caller_gives_up_is_abandoned_with_an_abandoned_event() -> None:
    events, _ = shapes_run()
    call_id = next(c["linkedid"] for c in SHAPE_CALLS if c["shape"] == "X1")
    kinds = [e.kind for e in events if e.record.call_id == call_id]
    assert kinds[0] is CallEventKind.ENTERED
    assert kinds[-2:] == [CallEventKind.ABANDONED, CallEventKind.ENDED]
    assert CallEventKind.QUEUED in kinds and CallEventKind.AGENT_RINGING in kinds


def test_XC_two_ring_no_answers_then_abandon() -> None:
    rec = record_of("XC")
    assert [(a.result, a.ring_ms) for a in rec.attempts] == [(AttemptResult.NO_ANSWER, 3000)] * 2
    assert rec.outcome is Outcome.ABANDONED and rec.hangup_cause == 19


def test_O_overflow_is_one_call_with_two_visits() -> None:
    rec = record_of("O")
    assert [(v.queue, v.result) for v in rec.visits] == [
        ("q-noans", "timeout"),
        ("q-pjsip3", "connect"),
    ]
    assert rec.queue == "q-pjsip3"
    assert rec.agent_channel == "PJSIP/agent3-0000001f"
    assert rec.ring_started_at is not None and rec.ring_started_at > rec.visits[1].joined_at


def test_T_direct_dial_then_transfer_into_a_queue() -> None:
    rec = record_of("T")
    assert rec.agent_member == "PJSIP/agent3"
    assert rec.visits[0].result == "connect"
    assert rec.talk_seconds == 11


def test_D_plain_dial_answered_without_a_queue() -> None:
    rec = record_of("D")
    assert rec.outcome is Outcome.ANSWERED
    assert rec.visits == () and rec.attempts == ()
    assert rec.agent_channel == "PJSIP/agent1-00000021"
    assert rec.answered_at is not None and rec.rings == 1 and rec.within_rule is True
    assert rec.hangup_by is HangupBy.AGENT  # the agent's channel hung up first


def test_I_ivr_only_is_not_queued() -> None:
    rec = record_of("I")
    assert rec.outcome is Outcome.NOT_QUEUED
    assert rec.hangup_by is HangupBy.SYSTEM
    assert rec.answered_at is None and rec.wait_seconds is None


# -- queue-reload capture: real timestamps ---------------------------------------------------

RELOAD_CALLS = expected(RELOAD)["calls"]


def reload_run(rule: RingRule) -> tuple[list[CallEvent], dict[str, CallRecord]]:
    events = replay(tracker(rule), load_frames(f"{RELOAD}.raw"))
    return events, ended(events)


@pytest.mark.parametrize("call", RELOAD_CALLS, ids=[c["call"] for c in RELOAD_CALLS])
def test_reload_calls_match_app_queue(call: dict[str, Any]) -> None:
    _, records = reload_run(RingRule())
    rec = records[call["linkedid"]]
    assert rec.caller_number == call["caller_num"]
    assert rec.outcome is Outcome.ANSWERED
    assert len(rec.visits) == len(call["visits"]) == (1 if call["call"] == "a" else 2)
    for visit, want in zip(rec.visits, call["visits"], strict=True):
        assert visit.queue == want["queue"]
        assert abs(visit.joined_at - epoch(want["join_ts"])) < timedelta(milliseconds=1)
        assert visit.hold_s == want["outcome"]["holdtime_s"]
        assert visit.result == ("connect" if want["outcome"]["kind"] == "connect" else "timeout")
    assert rec.ended_at is not None
    assert abs(rec.ended_at - epoch(call["hangup"]["ts"])) < timedelta(milliseconds=1)
    connect = call["visits"][-1]["outcome"]
    assert rec.agent_channel == connect["agent_channel"]
    assert rec.talk_seconds == connect["talktime_s"]
    # ring time measured from the capture's timestamps: first AgentCalled of the answering visit
    assert rec.ring_seconds == pytest.approx(10.0, abs=0.05)
    assert rec.answered_at is not None and rec.ring_started_at is not None
    assert rec.ring_seconds == pytest.approx(
        (rec.answered_at - rec.ring_started_at).total_seconds()
    )
    assert rec.ring_started_at >= rec.visits[-1].joined_at
    # 10.007 s of ringing is just into the 3rd ring of 5 s (1 s on, 4 s off): within 3 rings
    assert rec.rings == RingRule().rings(rec.ring_seconds) == 3
    assert rec.within_rule is True
    assert rec.queue_joined_at == rec.visits[0].joined_at
    assert rec.wait_seconds == pytest.approx(
        (rec.answered_at - rec.visits[0].joined_at).total_seconds()
    )


def test_reload_times_keep_milliseconds() -> None:
    _, records = reload_run(RingRule())
    for rec in records.values():
        for t in (rec.entered_at, rec.answered_at, rec.ended_at):
            assert t is not None and t.microsecond % 1000 == 0 and t.tzinfo is not None


def test_reload_tighter_ring_rule_makes_every_answer_late() -> None:
    events, records = reload_run(RingRule(period_s=3.0))
    for rec in records.values():
        assert rec.rings == 4 and rec.within_rule is False
    answers = [
        e.kind for e in events if e.kind in (CallEventKind.ANSWERED, CallEventKind.ANSWERED_LATE)
    ]
    assert answers == [CallEventKind.ANSWERED_LATE] * 4


def test_reload_timeout_then_same_uniqueid_rejoins() -> None:
    _, records = reload_run(RingRule())
    b = records["1790633846.3"]
    assert [a.result for a in b.attempts] == [AttemptResult.NO_ANSWER, AttemptResult.ANSWERED]
    assert b.attempts[0].ring_ms == 4000
    c = records["1790633869.8"]  # the first agent's Hangup arrives after the new join
    assert [v.queue for v in c.visits] == ["q-noans", "q-late"]
    assert c.outcome is Outcome.ANSWERED
