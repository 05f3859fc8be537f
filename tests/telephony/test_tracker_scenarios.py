"""Hotline situations written inline, a few AMI events each, replayed through the real
parser and tracker (tests/telephony/scenario.py fills in the headers a row leaves out).

Expected values come from the tables' own times (`span(a, b)`: seconds from row time a to
row time b) and the README's rules ("What a call record holds, and the 3-ring rule"): ring
seconds run from the first agent phone ringing in the visit that was answered; a ring is
5 s; within the rule is at most 3 rings.
"""

# ruff: noqa: E501  (one table row is one AMI event: a row is not wrapped)
from __future__ import annotations

from datetime import timedelta

import pytest

from hotline.telephony.callbacks import CallbackPlan, CallbackPolicy, plan_callback
from hotline.telephony.model import AttemptResult, CallEventKind, HangupBy, Outcome
from tests.telephony.scenario import ScenarioError, at, frames, play
from tests.telephony.traces import tracker

K = CallEventKind


def span(a: float, b: float) -> float:
    """Seconds from the row at time `a` to the row at time `b`."""
    return (at(b) - at(a)).total_seconds()


def test_answered_on_the_second_ring_is_within_the_rule() -> None:
    run = play("""
        t    | event           | channel       | uniqueid | linkedid | extras
        0    | Newchannel      | PJSIP/pstn-01 | c1       |          | CallerIDNum=13800138000 CallerIDName=张三 Exten=4008
        0.5  | QueueCallerJoin | PJSIP/pstn-01 |          |          | Queue=support
        0.6  | Newchannel      | PJSIP/8001-02 | a1       | c1       |
        0.6  | AgentCalled     | PJSIP/pstn-01 |          |          | Interface=PJSIP/8001 MemberName=王芳
        7.6  | AgentConnect    | PJSIP/pstn-01 |          |          | Interface=PJSIP/8001
        7.6  | BridgeEnter     | PJSIP/8001-02 |          |          |
        7.6  | BridgeEnter     | PJSIP/pstn-01 |          |          |
        67.6 | HangupRequest   | PJSIP/pstn-01 |          |          |
        67.6 | BridgeLeave     | PJSIP/pstn-01 |          |          |
        67.6 | AgentComplete   | PJSIP/pstn-01 |          |          | Interface=PJSIP/8001
        67.6 | Hangup          | PJSIP/8001-02 |          |          |
        67.6 | Hangup          | PJSIP/pstn-01 |          |          |
    """)
    rec = run.record
    assert run.kinds() == [K.ENTERED, K.QUEUED, K.AGENT_RINGING, K.ANSWERED, K.UPDATED, K.ENDED]
    assert (rec.caller_number, rec.caller_name, rec.dialled) == ("13800138000", "张三", "4008")
    assert rec.outcome is Outcome.ANSWERED
    assert rec.ring_started_at == at(0.6) and rec.answered_at == at(7.6)
    assert rec.ring_seconds == span(0.6, 7.6) == 7.0
    assert rec.rings == 2 and rec.within_rule is True
    assert rec.wait_seconds == span(0.5, 7.6)
    assert (rec.agent_member, rec.agent_interface, rec.agent_channel) == (
        "王芳",
        "PJSIP/8001",
        "PJSIP/8001-02",
    )
    assert rec.talk_seconds == span(7.6, 67.6)  # AgentComplete TalkTime, whole seconds
    assert rec.hangup_by is HangupBy.CALLER and rec.hangup_cause == 16
    assert rec.ended_at == at(67.6) and run.open_calls == ()


def test_answered_after_four_rings_is_late() -> None:
    run = play("""
        t    | event           | channel       | uniqueid | linkedid | extras
        0    | Newchannel      | PJSIP/pstn-01 | c1       |          | CallerIDNum=13800138000
        1    | QueueCallerJoin | PJSIP/pstn-01 |          |          | Queue=support
        1    | Newchannel      | PJSIP/8001-02 | a1       | c1       |
        1    | AgentCalled     | PJSIP/pstn-01 |          |          | Interface=PJSIP/8001
        18.5 | AgentConnect    | PJSIP/pstn-01 |          |          | Interface=PJSIP/8001
        48.5 | HangupRequest   | PJSIP/8001-02 |          |          |
        48.5 | Hangup          | PJSIP/8001-02 |          |          |
        48.5 | AgentComplete   | PJSIP/pstn-01 |          |          | Interface=PJSIP/8001
        48.5 | Hangup          | PJSIP/pstn-01 |          |          |
    """)
    rec = run.record
    assert K.ANSWERED_LATE in run.kinds() and K.ANSWERED not in run.kinds()
    assert rec.outcome is Outcome.ANSWERED  # late is still answered, just not within rule
    assert rec.ring_seconds == span(1, 18.5) == 17.5  # into the 4th ring of 5 s
    assert rec.rings == 4 and rec.within_rule is False
    assert rec.hangup_by is HangupBy.AGENT  # AgentComplete Reason agent
    assert rec.talk_seconds == span(18.5, 48.5)


@pytest.mark.parametrize(("answered", "rings", "within"), [(15.0, 3, True), (15.5, 4, False)])
def test_the_third_ring_ends_at_15_seconds(answered: float, rings: int, within: bool) -> None:
    run = play(f"""
        t          | event           | channel       | uniqueid | linkedid | extras
        0          | Newchannel      | PJSIP/pstn-01 | c1       |          |
        0          | QueueCallerJoin | PJSIP/pstn-01 |          |          | Queue=support
        0          | Newchannel      | PJSIP/8001-02 | a1       | c1       |
        0          | AgentCalled     | PJSIP/pstn-01 |          |          | Interface=PJSIP/8001
        {answered} | AgentConnect    | PJSIP/pstn-01 |          |          | Interface=PJSIP/8001
        40         | Hangup          | PJSIP/pstn-01 |          |          |
        40         | Hangup          | PJSIP/8001-02 |          |          |
    """)
    rec = run.record
    assert rec.ring_seconds == answered
    assert (rec.rings, rec.within_rule) == (rings, within)


def test_abandoned_after_12_s_in_the_queue_is_called_back() -> None:
    run = play("""
        t    | event              | channel       | uniqueid | linkedid | extras
        0    | Newchannel         | PJSIP/pstn-01 | c1       |          | CallerIDNum=13800138001
        1    | QueueCallerJoin    | PJSIP/pstn-01 |          |          | Queue=support
        1.1  | Newchannel         | PJSIP/8001-02 | a1       | c1       |
        1.1  | AgentCalled        | PJSIP/pstn-01 |          |          | Interface=PJSIP/8001
        13   | HangupRequest      | PJSIP/pstn-01 |          |          |
        13   | QueueCallerAbandon | PJSIP/pstn-01 |          |          |
        13   | QueueCallerLeave   | PJSIP/pstn-01 |          |          |
        13   | Hangup             | PJSIP/8001-02 |          |          | Cause=0
        13   | Hangup             | PJSIP/pstn-01 |          |          |
    """)
    rec = run.record
    assert run.kinds()[-2:] == [K.ABANDONED, K.ENDED]
    assert rec.outcome is Outcome.ABANDONED and rec.hangup_by is HangupBy.CALLER
    assert rec.answered_at is None and rec.ring_seconds is None and rec.within_rule is None
    assert rec.wait_seconds == span(1, 13) == 12.0
    (visit,) = rec.visits
    assert (visit.result, visit.hold_s, visit.left_at) == ("abandon", 12, at(13))
    assert [a.result for a in rec.attempts] == [AttemptResult.CANCELLED]
    plan = plan_callback(CallbackPolicy(), rec)  # waited 12 s >= min_abandon_wait_s (10 s)
    assert isinstance(plan, CallbackPlan)
    assert (plan.reason, plan.number, plan.connect_to_kind, plan.connect_to_target) == (
        "abandoned",
        "13800138001",
        "queue",
        "support",
    )
    assert plan.first_attempt_at == at(13) + timedelta(seconds=60)


def test_a_4_s_abandon_is_taken_for_a_misdial() -> None:
    run = play("""
        t | event              | channel       | uniqueid | linkedid | extras
        0 | Newchannel         | PJSIP/pstn-01 | c1       |          | CallerIDNum=13800138001
        1 | QueueCallerJoin    | PJSIP/pstn-01 |          |          | Queue=support
        5 | HangupRequest      | PJSIP/pstn-01 |          |          |
        5 | QueueCallerAbandon | PJSIP/pstn-01 |          |          |
        5 | Hangup             | PJSIP/pstn-01 |          |          |
    """)
    rec = run.record
    assert rec.outcome is Outcome.ABANDONED and rec.wait_seconds == span(1, 5)
    assert "misdial" in str(plan_callback(CallbackPolicy(), rec))


def test_first_agent_rings_out_second_answers_ring_counted_from_the_first_ring() -> None:
    run = play("""
        t    | event             | channel       | uniqueid | linkedid | extras
        0    | Newchannel        | PJSIP/pstn-01 | c1       |          | CallerIDNum=13800138002
        0.5  | QueueCallerJoin   | PJSIP/pstn-01 |          |          | Queue=support
        0.6  | Newchannel        | PJSIP/8001-02 | a1       | c1       |
        0.6  | AgentCalled       | PJSIP/pstn-01 |          |          | Interface=PJSIP/8001 MemberName=王芳
        6.6  | AgentRingNoAnswer | PJSIP/pstn-01 |          |          | Interface=PJSIP/8001
        6.6  | Hangup            | PJSIP/8001-02 |          |          | Cause=19
        7.6  | Newchannel        | PJSIP/8002-03 | a2       | c1       |
        7.6  | AgentCalled       | PJSIP/pstn-01 |          |          | Interface=PJSIP/8002 MemberName=李娜
        11.6 | AgentConnect      | PJSIP/pstn-01 |          |          | Interface=PJSIP/8002
        71.6 | HangupRequest     | PJSIP/pstn-01 |          |          |
        71.6 | Hangup            | PJSIP/pstn-01 |          |          |
        71.6 | AgentComplete     | PJSIP/pstn-01 |          |          | Interface=PJSIP/8002
        71.6 | Hangup            | PJSIP/8002-03 |          |          |
    """)
    rec = run.record
    assert rec.ring_started_at == at(0.6)  # the first phone, not the one that answered
    assert rec.ring_seconds == span(0.6, 11.6) == 11.0  # not 7.6 -> 11.6
    assert rec.rings == 3 and rec.within_rule is True
    assert [(a.member, a.result, a.ring_ms) for a in rec.attempts] == [
        ("王芳", AttemptResult.NO_ANSWER, span(0.6, 6.6) * 1000),
        ("李娜", AttemptResult.ANSWERED, span(7.6, 11.6) * 1000),
    ]
    assert [a.member for a in rec.unanswered_attempts] == ["王芳"]
    assert (rec.agent_member, rec.agent_channel) == ("李娜", "PJSIP/8002-03")
    assert rec.outcome is Outcome.ANSWERED and rec.hangup_by is HangupBy.CALLER


def test_ringall_the_phone_that_did_not_answer_is_cancelled() -> None:
    run = play("""
        t   | event           | channel       | uniqueid | linkedid | extras
        0   | Newchannel      | PJSIP/pstn-01 | c1       |          |
        0.5 | QueueCallerJoin | PJSIP/pstn-01 |          |          | Queue=support
        0.6 | Newchannel      | PJSIP/8001-02 | a1       | c1       |
        0.6 | AgentCalled     | PJSIP/pstn-01 |          |          | Interface=PJSIP/8001
        0.6 | Newchannel      | PJSIP/8002-03 | a2       | c1       |
        0.6 | AgentCalled     | PJSIP/pstn-01 |          |          | Interface=PJSIP/8002
        3.1 | AgentConnect    | PJSIP/pstn-01 |          |          | Interface=PJSIP/8002
        3.1 | Hangup          | PJSIP/8001-02 |          |          | Cause=26
        20  | Hangup          | PJSIP/8002-03 |          |          |
        20  | Hangup          | PJSIP/pstn-01 |          |          |
    """)
    rec = run.record
    assert [(a.interface, a.result) for a in rec.attempts] == [
        ("PJSIP/8001", AttemptResult.CANCELLED),
        ("PJSIP/8002", AttemptResult.ANSWERED),
    ]
    assert rec.ring_seconds == span(0.6, 3.1) and rec.rings == 1
    assert rec.outcome is Outcome.ANSWERED  # cause 26 on the other phone is no line drop


@pytest.mark.parametrize(
    ("cause", "outcome"),
    [(38, Outcome.DROPPED), (34, Outcome.DROPPED), (16, Outcome.ANSWERED)],
)
def test_a_line_drop_after_answer_is_dropped(cause: int, outcome: Outcome) -> None:
    run = play(f"""
        t    | event           | channel       | uniqueid | linkedid | extras
        0    | Newchannel      | PJSIP/pstn-01 | c1       |          | CallerIDNum=+8613800138005
        0.5  | QueueCallerJoin | PJSIP/pstn-01 |          |          | Queue=support
        0.6  | Newchannel      | PJSIP/8001-02 | a1       | c1       |
        0.6  | AgentCalled     | PJSIP/pstn-01 |          |          | Interface=PJSIP/8001
        3.6  | AgentConnect    | PJSIP/pstn-01 |          |          | Interface=PJSIP/8001
        33.6 | HangupRequest   | PJSIP/pstn-01 |          |          | Cause={cause}
        33.6 | Hangup          | PJSIP/pstn-01 |          |          | Cause={cause}
        33.6 | AgentComplete   | PJSIP/pstn-01 |          |          | Interface=PJSIP/8001
        33.7 | Hangup          | PJSIP/8001-02 |          |          |
    """)
    rec = run.record
    assert rec.outcome is outcome
    assert rec.hangup_cause == cause and rec.hangup_by is HangupBy.CALLER
    assert rec.talk_seconds == span(3.6, 33.6) and rec.ended_at == at(33.7)
    plan = plan_callback(CallbackPolicy(), rec)
    if outcome is Outcome.DROPPED:  # 断线: called back, to the agent who had the call
        assert isinstance(plan, CallbackPlan)
        assert (plan.reason, plan.number, plan.connect_to_target) == (
            "dropped",
            "8613800138005",
            "PJSIP/8001",
        )
    else:
        assert not isinstance(plan, CallbackPlan)


def test_the_agents_line_dropping_is_dropped_too() -> None:
    run = play("""
        t    | event           | channel       | uniqueid | linkedid | extras
        0    | Newchannel      | PJSIP/pstn-01 | c1       |          |
        0.5  | QueueCallerJoin | PJSIP/pstn-01 |          |          | Queue=support
        0.6  | Newchannel      | PJSIP/8001-02 | a1       | c1       |
        0.6  | AgentCalled     | PJSIP/pstn-01 |          |          | Interface=PJSIP/8001
        3.6  | AgentConnect    | PJSIP/pstn-01 |          |          | Interface=PJSIP/8001
        13.6 | HangupRequest   | PJSIP/8001-02 |          |          | Cause=38
        13.6 | Hangup          | PJSIP/8001-02 |          |          | Cause=38
        13.6 | AgentComplete   | PJSIP/pstn-01 |          |          | Interface=PJSIP/8001
        13.6 | Hangup          | PJSIP/pstn-01 |          |          |
    """)
    rec = run.record
    assert rec.outcome is Outcome.DROPPED and rec.hangup_by is HangupBy.AGENT
    assert rec.hangup_cause == 16  # the caller's own cause; the agent's leg had 38


def test_a_queue_timeout_is_no_agent_not_abandoned() -> None:
    # Queue(support,,,,10): app_queue raises QueueCallerAbandon on a timeout too; the
    # dialplan then plays a message and hangs up itself (SoftHangupRequest, cause 16)
    run = play("""
        t    | event              | channel       | uniqueid | linkedid | extras
        0    | Newchannel         | PJSIP/pstn-01 | c1       |          | CallerIDNum=13800138007 Exten=4008
        0.5  | QueueCallerJoin    | PJSIP/pstn-01 |          |          | Queue=support
        0.6  | Newchannel         | PJSIP/8001-02 | a1       | c1       |
        0.6  | AgentCalled        | PJSIP/pstn-01 |          |          | Interface=PJSIP/8001
        10.5 | AgentRingNoAnswer  | PJSIP/pstn-01 |          |          | Interface=PJSIP/8001
        10.5 | Hangup             | PJSIP/8001-02 |          |          | Cause=0
        10.5 | QueueCallerAbandon | PJSIP/pstn-01 |          |          |
        10.5 | QueueCallerLeave   | PJSIP/pstn-01 |          |          |
        10.5 | VarSet             | PJSIP/pstn-01 |          |          | Variable=QUEUESTATUS Value=TIMEOUT
        10.5 | Newexten           | PJSIP/pstn-01 |          |          | Application=Playback AppData=hotline/all-busy
        14.5 | SoftHangupRequest  | PJSIP/pstn-01 |          |          |
        14.5 | Hangup             | PJSIP/pstn-01 |          |          |
    """)
    rec = run.record
    assert K.ABANDONED not in run.kinds()
    assert rec.outcome is Outcome.NO_AGENT and rec.hangup_by is HangupBy.SYSTEM
    (visit,) = rec.visits
    assert (visit.result, visit.hold_s) == ("timeout", int(span(0.5, 10.5)))
    assert rec.wait_seconds == span(0.5, 10.5)  # joined -> left the queue, not -> hang-up
    assert [(a.result, a.ring_ms) for a in rec.attempts] == [
        (AttemptResult.NO_ANSWER, span(0.6, 10.5) * 1000)
    ]
    assert rec.ended_at == at(14.5) and rec.answered_at is None


def test_hold_and_unhold_add_hold_time_and_a_hold_left_on_counts_to_the_end() -> None:
    run = play("""
        t    | event           | channel       | uniqueid | linkedid | extras
        0    | Newchannel      | PJSIP/pstn-01 | c1       |          |
        0.5  | QueueCallerJoin | PJSIP/pstn-01 |          |          | Queue=support
        0.6  | Newchannel      | PJSIP/8001-02 | a1       | c1       |
        0.6  | AgentCalled     | PJSIP/pstn-01 |          |          | Interface=PJSIP/8001
        2.6  | AgentConnect    | PJSIP/pstn-01 |          |          | Interface=PJSIP/8001
        20   | Hold            | PJSIP/8001-02 |          |          |
        32.5 | Unhold          | PJSIP/8001-02 |          |          |
        50   | Hold            | PJSIP/8001-02 |          |          |
        60   | HangupRequest   | PJSIP/pstn-01 |          |          |
        60   | Hangup          | PJSIP/pstn-01 |          |          |
        60   | AgentComplete   | PJSIP/pstn-01 |          |          | Interface=PJSIP/8001
        60   | Hangup          | PJSIP/8001-02 |          |          |
    """)
    after_unhold = [e for e in run.events if e.at == at(32.5)]
    assert [(e.kind, e.record.hold_seconds) for e in after_unhold] == [(K.UPDATED, span(20, 32.5))]
    rec = run.record
    assert rec.hold_seconds == span(20, 32.5) + span(50, 60) == 22.5
    assert rec.talk_seconds == int(span(2.6, 60))  # app_queue's TalkTime counts the hold
    assert rec.hangup_by is HangupBy.CALLER  # gave up while on hold


def test_a_late_agent_complete_after_the_last_hangup_does_not_reopen_the_call() -> None:
    run = play("""
        t     | event           | channel       | uniqueid | linkedid | extras
        0     | Newchannel      | PJSIP/pstn-01 | c1       |          |
        0.5   | QueueCallerJoin | PJSIP/pstn-01 |          |          | Queue=support
        0.6   | Newchannel      | PJSIP/8001-02 | a1       | c1       |
        0.6   | AgentCalled     | PJSIP/pstn-01 |          |          | Interface=PJSIP/8001
        4.6   | AgentConnect    | PJSIP/pstn-01 |          |          | Interface=PJSIP/8001
        49.85 | HangupRequest   | PJSIP/8001-02 |          |          |
        49.85 | Hangup          | PJSIP/8001-02 |          |          |
        49.9  | Hangup          | PJSIP/pstn-01 |          |          |
        50    | AgentComplete   | PJSIP/pstn-01 |          |          | Interface=PJSIP/8001
    """)
    assert run.kinds()[-1] is K.ENDED and run.kinds().count(K.ENDED) == 1
    assert run.events[-1].at == at(49.9)  # the AgentComplete produced nothing
    assert run.open_calls == ()
    rec = run.record
    assert rec.ended_at == at(49.9)
    assert rec.hangup_by is HangupBy.AGENT  # from the HangupRequest, not the late Reason
    assert rec.talk_seconds == span(4.6, 49.9)  # measured: the TalkTime came too late


def test_plain_dial_without_a_queue_rings_from_dial_begin() -> None:
    run = play("""
        t   | event         | channel       | uniqueid | linkedid | extras
        0   | Newchannel    | PJSIP/pstn-01 | c1       |          | CallerIDNum=13800138009 Exten=8001
        0.1 | Newchannel    | PJSIP/8001-02 | a1       | c1       |
        0.1 | DialBegin     | PJSIP/pstn-01 |          |          | DestChannel=PJSIP/8001-02
        4.1 | DialEnd       | PJSIP/pstn-01 |          |          | DestChannel=PJSIP/8001-02
        4.1 | BridgeEnter   | PJSIP/8001-02 |          |          |
        4.1 | BridgeEnter   | PJSIP/pstn-01 |          |          |
        30  | HangupRequest | PJSIP/8001-02 |          |          |
        30  | Hangup        | PJSIP/8001-02 |          |          |
        30  | Hangup        | PJSIP/pstn-01 |          |          |
    """)
    rec = run.record
    assert rec.outcome is Outcome.ANSWERED and rec.visits == ()
    assert rec.ring_seconds == span(0.1, 4.1) and rec.rings == 1
    assert rec.wait_seconds == span(0, 4.1)  # no queue: from entering the switch
    assert rec.agent_channel == "PJSIP/8001-02" and rec.hangup_by is HangupBy.AGENT
    assert rec.talk_seconds == span(4.1, 30)


def test_ivr_only_caller_hanging_up_is_not_queued() -> None:
    run = play("""
        t | event         | channel       | uniqueid | linkedid | extras
        0 | Newchannel    | PJSIP/pstn-01 | c1       |          | Exten=4008
        0 | Newexten      | PJSIP/pstn-01 |          |          | Application=Background AppData=hotline/welcome
        9 | HangupRequest | PJSIP/pstn-01 |          |          |
        9 | Hangup        | PJSIP/pstn-01 |          |          |
    """)
    rec = run.record
    assert rec.outcome is Outcome.NOT_QUEUED and rec.hangup_by is HangupBy.CALLER
    assert rec.wait_seconds is None and rec.ring_seconds is None


# -- the helper itself -------------------------------------------------------------------


def test_rows_get_the_headers_app_queue_would_have_sent() -> None:
    table = """
        t   | event              | channel       | uniqueid | linkedid | extras
        0   | Newchannel         | PJSIP/pstn-01 | c1       |          | CallerIDNum=13800138000
        1   | QueueCallerJoin    | PJSIP/pstn-01 |          |          | Queue=support
        1.2 | Newchannel         | PJSIP/8001-02 | a1       | c1       |
        1.2 | AgentCalled        | PJSIP/pstn-01 |          |          | Interface=PJSIP/8001 MemberName=王芳
        9.9 | AgentConnect       | PJSIP/pstn-01 |          |          | Interface=PJSIP/8001
        30  | Hangup             | PJSIP/pstn-01 |          |          | Cause=38
        31  | AgentComplete      | PJSIP/pstn-01 |          |          | Interface=PJSIP/8001 TalkTime=99
    """
    join, connect, hangup, complete = (frames(table)[i] for i in (1, 4, 5, 6))
    assert join.get("Timestamp") == f"{at(1).timestamp():.6f}"
    assert (join.get("Uniqueid"), join.get("Linkedid"), join.get("CallerIDNum")) == (
        "c1",
        "c1",
        "13800138000",
    )
    assert (join.get("Position"), join.get("Count")) == ("1", "1")
    assert connect.get("Queue") == "support" and connect.get("MemberName") == "王芳"
    assert (connect.get("DestChannel"), connect.get("DestUniqueid")) == ("PJSIP/8001-02", "a1")
    assert (connect.get("HoldTime"), connect.get("RingTime")) == ("8", "8")  # whole seconds
    assert (hangup.get("Cause"), hangup.get("Cause-txt")) == ("38", "Network out of order")
    assert complete.get("Reason") == "caller"  # the caller hung up first
    assert complete.get("TalkTime") == "99"  # an extra wins over the filled-in value


@pytest.mark.parametrize(
    ("table", "message"),
    [
        ("t | event | channel\n0 | AgentCalled | PJSIP/x-1", "line 2: channel PJSIP/x-1"),
        ("t | event | channel\n0 | Hangup | PJSIP/x-1 | c1", "line 2: 4 cells for 3 columns"),
        (
            "t | event | channel | uniqueid\n0 | Newchannel | PJSIP/x-1 | c1\n"
            "0 | AgentCalled | PJSIP/x-1 | -",
            "line 3: AgentCalled needs Queue",
        ),
        (
            "t | event | channel | uniqueid | extras\n0 | Newchannel | PJSIP/x-1 | c1\n"
            "0 | QueueCallerJoin | PJSIP/x-1 | | Queue=q\n"
            "0 | AgentCalled | PJSIP/x-1 | | Interface=PJSIP/8001",
            "line 4: no channel of member PJSIP/8001",
        ),
        (
            "t | event | channel | uniqueid\n1 | Newchannel | PJSIP/x-1 | c1\n"
            "0 | Hangup | PJSIP/x-1",
            "line 3: t 0 goes back in time",
        ),
        ("t | event | channel | extras\n0 | Hangup | PJSIP/x-1 | Cause", "not Key=value"),
    ],
)
def test_table_mistakes_name_their_line(table: str, message: str) -> None:
    with pytest.raises(ScenarioError, match=message):
        frames(table)


def test_a_linkedid_handed_out_again_after_a_switch_restart_is_a_new_call() -> None:
    """A switch killed and started again within the same second counts its Uniqueids from
    0 again (seen on the test switch): the second call gets an id of its own, so its record
    never overwrites the first one's."""
    t = tracker()
    first = play(
        """
        t    | event      | channel                 | uniqueid | linkedid | extras
        0    | Newchannel | Local/138@sim-pstn-01;1 | 17.4     |          | CallerIDNum=13800000002
        0.4  | Hangup     | Local/138@sim-pstn-01;1 |          |          | Cause=16
    """,
        into=t,
    )
    second = play(
        """
        t    | event           | channel                 | uniqueid | linkedid | extras
        0.5  | Newchannel      | Local/138@sim-pstn-02;1 | 17.4     |          | CallerIDNum=13800000001
        0.6  | QueueCallerJoin | Local/138@sim-pstn-02;1 |          |          | Queue=support
        0.7  | Newchannel      | PJSIP/8001-02           | 17.5     | 17.4     |
        0.7  | AgentCalled     | Local/138@sim-pstn-02;1 |          |          | Interface=PJSIP/8001
        2.7  | AgentConnect    | Local/138@sim-pstn-02;1 |          |          | Interface=PJSIP/8001
        9.7  | Hangup          | PJSIP/8001-02           |          |          |
        9.7  | Hangup          | Local/138@sim-pstn-02;1 |          |          |
    """,
        into=t,
    )
    assert first.record.call_id == "17.4"
    assert second.record.call_id == "17.4~2" and second.record.linkedid == "17.4"
    assert second.record.caller_number == "13800000001"
    assert second.record.outcome is Outcome.ANSWERED and second.record.agent_channel == (
        "PJSIP/8001-02"
    )
    assert t.open_calls() == []
