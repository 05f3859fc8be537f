"""Dropped-call callbacks, as a supervisor of a Shanghai hotline lives through them.

All wall-clock times below are Shanghai time (UTC+8); the functions get and return UTC.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from hotline.core.errors import Conflict
from hotline.telephony.callbacks import (
    AttemptStage,
    AttemptVerdict,
    CallbackPlan,
    CallbackPolicy,
    CallbackProgress,
    CallbackState,
    CallbackTransitionError,
    Verdict,
    adjust_for_quiet_hours,
    begin_attempt,
    cancel,
    classify_attempt,
    dedup_key,
    furthest,
    judge_leg,
    leg_stage,
    next_attempt_at,
    plan_callback,
    record_attempt,
    retrigger,
    start,
    transition,
    usable_number,
)
from hotline.telephony.model import CallRecord, Direction, Outcome, QueueVisit

SHANGHAI = ZoneInfo("Asia/Shanghai")
POLICY = CallbackPolicy()


def sh(day: int, hour: int, minute: int = 0, second: int = 0) -> datetime:
    """A moment in March 2025, Shanghai wall clock, as the aware UTC datetime passed in."""
    return datetime(2025, 3, day, hour, minute, second, tzinfo=SHANGHAI).astimezone(UTC)


def call(
    outcome: Outcome,
    ended: datetime,
    *,
    number: str | None = "13812345678",
    wait: float | None = 45.0,
    agent: str | None = None,
    queue: str | None = "hotline-general",
    direction: Direction = Direction.INBOUND,
) -> CallRecord:
    return CallRecord(
        call_id="1741600000.42",
        linkedid="1741600000.42",
        caller_uniqueid="1741600000.42",
        caller_channel="PJSIP/trunk-00000042",
        entered_at=ended - timedelta(minutes=5),
        direction=direction,
        caller_number=number,
        queue=queue,
        agent_interface=agent,
        ended_at=ended,
        wait_seconds=wait,
        outcome=outcome,
    )


def plan_of(record: CallRecord, policy: CallbackPolicy = POLICY) -> CallbackPlan:
    plan = plan_callback(policy, record)
    assert isinstance(plan, CallbackPlan), plan
    return plan


def refusal_of(record: CallRecord, policy: CallbackPolicy = POLICY) -> str:
    refusal = plan_callback(policy, record)
    assert isinstance(refusal, str), refusal
    return refusal


# --- who gets a callback ---------------------------------------------------------------


def test_caller_who_waited_and_gave_up_is_called_back_through_the_queue() -> None:
    plan = plan_of(call(Outcome.ABANDONED, sh(10, 10, 0), wait=42.0))
    assert plan == CallbackPlan(
        call_id="1741600000.42",
        number="13812345678",
        connect_to_kind="queue",
        connect_to_target="hotline-general",
        reason="abandoned",
        first_attempt_at=sh(10, 10, 1),
    )


def test_short_abandon_is_taken_for_a_misdial() -> None:
    refusal = refusal_of(call(Outcome.ABANDONED, sh(10, 10), wait=4.0))
    assert "misdial" in refusal and "误拨" in refusal and "4.0 s" in refusal


def test_abandon_at_exactly_the_threshold_is_called_back() -> None:
    assert plan_of(call(Outcome.ABANDONED, sh(10, 10), wait=10.0)).reason == "abandoned"
    assert isinstance(plan_callback(POLICY, call(Outcome.ABANDONED, sh(10, 10), wait=9.9)), str)


def test_abandon_without_wait_seconds_measures_from_entering() -> None:
    record = call(Outcome.ABANDONED, sh(10, 10), wait=None)  # entered 5 minutes earlier
    assert plan_of(record).reason == "abandoned"


def test_queue_timeout_is_called_back_unless_turned_off() -> None:
    record = call(Outcome.NO_AGENT, sh(10, 10), wait=300.0)
    assert plan_of(record).reason == "no_agent"
    assert plan_of(record).connect_to_kind == "queue"
    refusal = refusal_of(record, CallbackPolicy(include_no_agent=False))
    assert "include_no_agent" in refusal


def test_short_queue_timeout_follows_the_same_wait_threshold() -> None:
    assert "误拨" in refusal_of(call(Outcome.NO_AGENT, sh(10, 10), wait=3.0))


def test_dropped_call_goes_back_to_the_agent_who_had_it() -> None:
    record = call(Outcome.DROPPED, sh(10, 15, 30), wait=2.0, agent="PJSIP/8001")
    plan = plan_of(record)
    assert plan.reason == "dropped"  # a short wait does not matter once answered
    assert (plan.connect_to_kind, plan.connect_to_target) == ("agent", "PJSIP/8001")
    assert plan.first_attempt_at == sh(10, 15, 31)


def test_dropped_call_goes_to_the_queue_when_policy_says_so_or_agent_unknown() -> None:
    record = call(Outcome.DROPPED, sh(10, 15), agent="PJSIP/8001")
    plan = plan_of(record, CallbackPolicy(connect_to="queue"))
    assert (plan.connect_to_kind, plan.connect_to_target) == ("queue", "hotline-general")
    plan = plan_of(replace(record, agent_interface=None))
    assert (plan.connect_to_kind, plan.connect_to_target) == ("queue", "hotline-general")


def test_nowhere_to_connect_uses_the_fallback_queue_or_is_refused() -> None:
    record = call(Outcome.DROPPED, sh(10, 15), agent=None, queue=None)
    assert "fallback_queue" in refusal_of(record)
    plan = plan_of(record, CallbackPolicy(fallback_queue="hotline-callbacks"))
    assert plan.connect_to_target == "hotline-callbacks"


@pytest.mark.parametrize("outcome", [Outcome.ANSWERED, Outcome.NOT_QUEUED, Outcome.END_UNKNOWN])
def test_other_outcomes_get_no_callback(outcome: Outcome) -> None:
    assert outcome.value in refusal_of(call(outcome, sh(10, 10)))


def test_a_call_still_in_progress_is_not_decided() -> None:
    record = replace(call(Outcome.IN_PROGRESS, sh(10, 10)), ended_at=None)
    assert "not over" in refusal_of(record)


def test_a_failed_callback_call_does_not_spawn_another_callback() -> None:
    record = call(Outcome.DROPPED, sh(10, 10), agent="PJSIP/8001", direction=Direction.CALLBACK)
    assert "itself a callback" in refusal_of(record)


@pytest.mark.parametrize(
    ("number", "why"),
    [
        (None, "no caller number"),
        ("", "no caller number"),
        ("  ", "no caller number"),
        ("<unknown>", "withheld or unknown"),
        ("anonymous", "withheld or unknown"),
        ("Anonymous", "withheld or unknown"),
        ("138-1234-5678", "not all digits"),
        ("+", "not all digits"),
        ("１３８１２３４５６７８", "not all digits"),  # full-width digits
        ("12", "fewer than 3 digits"),
    ],
)
def test_unusable_caller_number_is_refused_with_a_reason(number: str | None, why: str) -> None:
    refusal = refusal_of(call(Outcome.ABANDONED, sh(10, 10), number=number))
    assert why in refusal and "1741600000.42" in refusal


def test_international_plus_is_dropped_from_the_number() -> None:
    assert plan_of(call(Outcome.ABANDONED, sh(10, 10), number="+8613812345678")).number == (
        "8613812345678"
    )
    assert usable_number("110") == ("110", "")


def test_one_callback_per_call_ever() -> None:
    assert dedup_key("1741600000.42") == dedup_key("1741600000.42") == "callback:1741600000.42"
    assert dedup_key("1741600000.42") != dedup_key("1741600000.43")
    with pytest.raises(ValueError, match="call_id is empty"):
        dedup_key("")


# --- quiet hours (21:00–08:00 Shanghai) --------------------------------------------------


@pytest.mark.parametrize(
    ("at", "expected"),
    [
        (sh(10, 20, 59), sh(10, 20, 59)),
        (sh(10, 20, 59, 59), sh(10, 20, 59, 59)),
        (sh(10, 21, 0), sh(11, 8, 0)),
        (sh(10, 23, 30), sh(11, 8, 0)),
        (sh(11, 0, 0), sh(11, 8, 0)),
        (sh(11, 7, 59), sh(11, 8, 0)),
        (sh(11, 7, 59, 59), sh(11, 8, 0)),
        (sh(11, 8, 0), sh(11, 8, 0)),
        (sh(11, 12, 0), sh(11, 12, 0)),
    ],
)
def test_quiet_hour_boundaries(at: datetime, expected: datetime) -> None:
    assert adjust_for_quiet_hours(POLICY, at) == expected


def test_quiet_hours_are_shanghai_time_not_utc() -> None:
    # 13:30 UTC is 21:30 in Shanghai: quiet, until 08:00 Shanghai = 00:00 UTC
    t = datetime(2025, 3, 10, 13, 30, tzinfo=UTC)
    assert adjust_for_quiet_hours(POLICY, t) == datetime(2025, 3, 11, 0, 0, tzinfo=UTC)
    assert adjust_for_quiet_hours(POLICY, t).tzinfo is UTC


def test_quiet_hours_in_another_timezone() -> None:
    policy = CallbackPolicy(timezone="Europe/Berlin")  # UTC+1 in early March
    t = datetime(2025, 3, 10, 20, 30, tzinfo=UTC)  # 21:30 Berlin
    assert adjust_for_quiet_hours(policy, t) == datetime(2025, 3, 11, 7, 0, tzinfo=UTC)


def test_call_ending_at_2058_is_called_back_at_2059() -> None:
    plan = plan_of(call(Outcome.ABANDONED, sh(10, 20, 58)))
    assert plan.first_attempt_at == sh(10, 20, 59)


def test_call_ending_at_205930_waits_for_0800_next_morning() -> None:
    plan = plan_of(call(Outcome.ABANDONED, sh(10, 20, 59, 30)))
    assert plan.first_attempt_at == sh(11, 8, 0)


def test_call_ending_after_midnight_waits_for_0800_same_morning() -> None:
    plan = plan_of(call(Outcome.DROPPED, sh(11, 2, 15), agent="PJSIP/8001"))
    assert plan.first_attempt_at == sh(11, 8, 0)


def test_lunch_break_quiet_hours_that_do_not_wrap_midnight() -> None:
    policy = CallbackPolicy(quiet_start=time(12, 0), quiet_end=time(13, 30))
    assert adjust_for_quiet_hours(policy, sh(10, 11, 59)) == sh(10, 11, 59)
    assert adjust_for_quiet_hours(policy, sh(10, 12, 0)) == sh(10, 13, 30)
    assert adjust_for_quiet_hours(policy, sh(10, 13, 29, 59)) == sh(10, 13, 30)
    assert adjust_for_quiet_hours(policy, sh(10, 13, 30)) == sh(10, 13, 30)
    assert adjust_for_quiet_hours(policy, sh(10, 22, 0)) == sh(10, 22, 0)  # nights are fine


def test_empty_quiet_hours_mean_none() -> None:
    policy = CallbackPolicy(quiet_start=time(0, 0), quiet_end=time(0, 0))
    assert adjust_for_quiet_hours(policy, sh(10, 23, 0)) == sh(10, 23, 0)
    assert plan_of(call(Outcome.ABANDONED, sh(10, 23, 0)), policy).first_attempt_at == (
        sh(10, 23, 1)
    )


def test_naive_times_are_refused() -> None:
    with pytest.raises(ValueError, match="aware"):
        adjust_for_quiet_hours(POLICY, datetime(2025, 3, 10, 12, 0))


# --- retries ---------------------------------------------------------------------------


def test_retries_are_ten_minutes_apart_then_run_out() -> None:
    assert next_attempt_at(POLICY, 1, sh(10, 10, 0), sh(10, 10, 0)) == sh(10, 10, 10)
    assert next_attempt_at(POLICY, 2, sh(10, 10, 10), sh(10, 10, 10)) == sh(10, 10, 20)
    assert next_attempt_at(POLICY, 3, sh(10, 10, 20), sh(10, 10, 20)) is None


def test_retry_that_would_cross_2100_waits_for_morning() -> None:
    assert next_attempt_at(POLICY, 1, sh(10, 20, 45), sh(10, 20, 45)) == sh(10, 20, 55)
    assert next_attempt_at(POLICY, 2, sh(10, 20, 55), sh(10, 20, 55)) == sh(11, 8, 0)


def test_a_late_service_never_schedules_in_the_past() -> None:
    # the service was down; the retry due at 10:10 is worked out at 10:30
    assert next_attempt_at(POLICY, 1, sh(10, 10, 0), sh(10, 10, 30)) == sh(10, 10, 30)


def test_no_attempt_yet_means_as_soon_as_allowed() -> None:
    assert next_attempt_at(POLICY, 0, None, sh(10, 14, 0)) == sh(10, 14, 0)
    assert next_attempt_at(POLICY, 0, None, sh(10, 22, 0)) == sh(11, 8, 0)
    with pytest.raises(ValueError, match="no last_attempt_at"):
        next_attempt_at(POLICY, 1, None, sh(10, 14, 0))


def test_every_number_is_a_parameter() -> None:
    policy = CallbackPolicy(max_attempts=5, retry_interval_min=30, delay_s=300)
    assert next_attempt_at(policy, 4, sh(10, 9, 0), sh(10, 9, 0)) == sh(10, 9, 30)
    assert next_attempt_at(policy, 5, sh(10, 9, 0), sh(10, 9, 0)) is None
    assert plan_of(call(Outcome.ABANDONED, sh(10, 9, 0)), policy).first_attempt_at == (sh(10, 9, 5))


def test_bad_policy_says_what_is_wrong() -> None:
    with pytest.raises(ValueError, match="max_attempts must be >= 1"):
        CallbackPolicy(max_attempts=0)
    with pytest.raises(ValueError, match="unknown timezone"):
        CallbackPolicy(timezone="Asia/Beijing")
    with pytest.raises(ValueError, match="connect_to"):
        CallbackPolicy(connect_to="supervisor")  # type: ignore[arg-type]


# --- originate outcomes ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("success", "code", "verdict", "text"),
    [
        (True, 4, Verdict.DONE, "已接通"),
        (True, None, Verdict.DONE, "已接通"),
        (False, 0, Verdict.FAILED_PERMANENT, "呼叫失败"),
        (False, 1, Verdict.RETRY, "客户挂断"),
        (False, 3, Verdict.RETRY, "客户未接听"),
        (False, 4, Verdict.RETRY, "客户接听后未能接通坐席"),
        (False, 5, Verdict.RETRY, "忙线"),
        (False, 8, Verdict.RETRY, "线路拥塞"),
        (False, 7, Verdict.RETRY, "呼叫未成功（原因码 7）"),
        (False, None, Verdict.RETRY, "呼叫未成功（无原因码）"),
    ],
)
def test_classify_originate_response(
    success: bool, code: int | None, verdict: Verdict, text: str
) -> None:
    assert classify_attempt(success, code) == AttemptVerdict(verdict, text, code)


# --- a callback's life ------------------------------------------------------------------


def test_customer_answers_on_the_second_try() -> None:
    plan = plan_of(call(Outcome.ABANDONED, sh(10, 10, 0)))
    p = start(plan)
    assert (p.state, p.next_attempt_at) == (CallbackState.SCHEDULED, sh(10, 10, 1))
    p = begin_attempt(p)
    assert p.state is CallbackState.DIALING and p.next_attempt_at is None
    p = record_attempt(POLICY, p, classify_attempt(False, 3), sh(10, 10, 2))
    assert (p.state, p.attempts_made, p.last_reason) == (
        CallbackState.SCHEDULED,
        1,
        "客户未接听",
    )
    assert p.next_attempt_at == sh(10, 10, 12)
    p = record_attempt(POLICY, begin_attempt(p), classify_attempt(True, 4), sh(10, 10, 12))
    assert (p.state, p.attempts_made, p.next_attempt_at) == (CallbackState.DONE, 2, None)


def test_three_unanswered_tries_exhaust_the_callback() -> None:
    p = start(plan_of(call(Outcome.ABANDONED, sh(10, 10, 0))))
    for minute, code in ((1, 3), (11, 5), (21, 8)):
        p = record_attempt(
            POLICY, begin_attempt(p), classify_attempt(False, code), sh(10, 10, minute)
        )
    assert (p.state, p.attempts_made, p.last_reason) == (CallbackState.EXHAUSTED, 3, "线路拥塞")
    assert p.next_attempt_at is None


def test_an_evening_callback_rolls_over_to_the_morning() -> None:
    p = start(plan_of(call(Outcome.DROPPED, sh(10, 20, 40), agent="PJSIP/8001")))
    p = record_attempt(POLICY, begin_attempt(p), classify_attempt(False, 3), sh(10, 20, 41))
    assert p.next_attempt_at == sh(10, 20, 51)
    p = record_attempt(POLICY, begin_attempt(p), classify_attempt(False, 3), sh(10, 20, 51))
    assert p.next_attempt_at == sh(11, 8, 0)


def test_wrong_number_fails_at_once() -> None:
    p = start(plan_of(call(Outcome.ABANDONED, sh(10, 10, 0))))
    p = record_attempt(POLICY, begin_attempt(p), classify_attempt(False, 0), sh(10, 10, 1))
    assert (p.state, p.attempts_made, p.last_reason) == (CallbackState.FAILED, 1, "呼叫失败")


def test_supervisor_cancels_a_scheduled_or_dialing_callback() -> None:
    p = start(plan_of(call(Outcome.ABANDONED, sh(10, 10, 0))))
    assert cancel(p).state is CallbackState.CANCELLED
    assert cancel(p).next_attempt_at is None
    assert cancel(begin_attempt(p)).state is CallbackState.CANCELLED


def test_cancelling_a_done_callback_is_refused_in_chinese_and_english() -> None:
    done = CallbackProgress(CallbackState.DONE, attempts_made=1)
    with pytest.raises(CallbackTransitionError) as err:
        cancel(done)
    assert "回呼已完成，不能取消" in str(err.value)
    assert "done callback cannot become cancelled" in str(err.value)
    assert isinstance(err.value, Conflict)
    assert err.value.error_id == "callback_illegal_transition"


def test_late_originate_response_after_cancel_is_refused() -> None:
    p = cancel(begin_attempt(start(plan_of(call(Outcome.ABANDONED, sh(10, 10, 0))))))
    with pytest.raises(CallbackTransitionError, match="已取消"):
        record_attempt(POLICY, p, classify_attempt(True, 4), sh(10, 10, 2))


def test_supervisor_retriggers_an_exhausted_callback_with_fresh_attempts() -> None:
    exhausted = CallbackProgress(
        CallbackState.EXHAUSTED, attempts_made=3, last_attempt_at=sh(10, 10, 21)
    )
    p = retrigger(POLICY, exhausted, sh(10, 16, 0))
    assert (p.state, p.attempts_made, p.next_attempt_at) == (
        CallbackState.SCHEDULED,
        0,
        sh(10, 16, 0),
    )
    for minute in (0, 10, 20):
        p = record_attempt(POLICY, begin_attempt(p), classify_attempt(False, 3), sh(10, 16, minute))
    assert p.state is CallbackState.EXHAUSTED


def test_retrigger_at_night_waits_for_morning() -> None:
    cancelled = CallbackProgress(CallbackState.CANCELLED)
    assert retrigger(POLICY, cancelled, sh(10, 22, 0)).next_attempt_at == sh(11, 8, 0)


def test_retrigger_while_dialing_is_refused_never_two_dials_at_once() -> None:
    with pytest.raises(CallbackTransitionError, match="不能重新发起"):
        retrigger(POLICY, CallbackProgress(CallbackState.DIALING), sh(10, 16, 0))


def test_a_scheduled_callback_retriggered_is_dialled_as_soon_as_possible() -> None:
    later = CallbackProgress(
        CallbackState.SCHEDULED,
        attempts_made=2,
        next_attempt_at=sh(10, 16, 10),
        last_attempt_at=sh(10, 16, 0),
    )
    p = retrigger(POLICY, later, sh(10, 16, 3))
    assert (p.state, p.attempts_made, p.next_attempt_at) == (
        CallbackState.SCHEDULED,
        0,
        sh(10, 16, 3),
    )
    assert p.last_reason == "主管重新发起"


@pytest.mark.parametrize(
    ("current", "target"),
    [
        (CallbackState.SCHEDULED, CallbackState.DONE),
        (CallbackState.SCHEDULED, CallbackState.EXHAUSTED),
        (CallbackState.DONE, CallbackState.DIALING),
        (CallbackState.FAILED, CallbackState.CANCELLED),
        (CallbackState.EXHAUSTED, CallbackState.DONE),
        (CallbackState.CANCELLED, CallbackState.CANCELLED),
    ],
)
def test_illegal_transitions_are_refused(current: CallbackState, target: CallbackState) -> None:
    with pytest.raises(CallbackTransitionError) as err:
        transition(current, target)
    assert (err.value.current, err.value.target) == (current, target)
    assert err.value.message_zh and err.value.message_en


def test_legal_transitions() -> None:
    s = CallbackState
    for current, target in [
        (s.SCHEDULED, s.DIALING),
        (s.SCHEDULED, s.CANCELLED),
        (s.DIALING, s.DONE),
        (s.DIALING, s.SCHEDULED),
        (s.DIALING, s.EXHAUSTED),
        (s.DIALING, s.FAILED),
        (s.DIALING, s.CANCELLED),
        (s.DONE, s.SCHEDULED),
        (s.EXHAUSTED, s.SCHEDULED),
        (s.CANCELLED, s.SCHEDULED),
        (s.FAILED, s.SCHEDULED),
    ]:
        assert transition(current, target) is target


# --- done means connected: how far an attempt's leg got ---------------------------------


def leg(**changes: object) -> CallRecord:
    base = replace(
        call(Outcome.IN_PROGRESS, sh(10, 10), direction=Direction.CALLBACK), ended_at=None
    )
    return replace(base, callback_id=7, **changes)  # type: ignore[arg-type]


def test_the_legs_record_tells_how_far_the_customer_got() -> None:
    assert leg_stage(leg()) is AttemptStage.ORIGINATED
    assert leg_stage(leg(callback_reached_at=sh(10, 10))) is AttemptStage.REACHED_CONTEXT
    queued = leg(callback_reached_at=sh(10, 10), visits=(QueueVisit("hotline", sh(10, 10)),))
    assert leg_stage(queued) is AttemptStage.QUEUED
    assert leg_stage(replace(queued, answered_at=sh(10, 11))) is AttemptStage.AGENT_CONNECTED
    # a Dial straight to the agent: no queue, answered
    assert leg_stage(leg(answered_at=sh(10, 11))) is AttemptStage.AGENT_CONNECTED


def test_a_stage_never_goes_back() -> None:
    assert furthest("queued", AttemptStage.CUSTOMER_ANSWERED) is AttemptStage.QUEUED
    assert furthest(None, None) is AttemptStage.ORIGINATED


@pytest.mark.parametrize(
    ("kind", "stage", "ended", "want"),
    [
        # a callback back to the agent is done with the agent, not before
        ("agent", AttemptStage.AGENT_CONNECTED, False, Verdict.DONE),
        ("agent", AttemptStage.QUEUED, False, None),
        ("agent", AttemptStage.QUEUED, True, Verdict.RETRY),
        ("agent", AttemptStage.REACHED_CONTEXT, True, Verdict.RETRY),
        ("agent", AttemptStage.CUSTOMER_ANSWERED, True, Verdict.RETRY),
        # a callback to the queue is done once the customer is in it
        ("queue", AttemptStage.QUEUED, False, Verdict.DONE),
        ("queue", AttemptStage.AGENT_CONNECTED, True, Verdict.DONE),
        ("queue", AttemptStage.REACHED_CONTEXT, True, Verdict.RETRY),
        ("queue", AttemptStage.REACHED_CONTEXT, False, None),
        # ended before anyone answered: the OriginateResponse's reason decides
        ("agent", AttemptStage.ORIGINATED, True, None),
    ],
)
def test_an_attempt_is_done_only_once_the_customer_is_connected(
    kind: str, stage: AttemptStage, ended: bool, want: Verdict | None
) -> None:
    verdict = judge_leg(kind, stage, ended)
    assert (verdict.verdict if verdict else None) is want
    if verdict is not None:
        assert verdict.reason_text  # Chinese, for the supervisor


def test_answered_customer_who_leaves_the_queue_is_retried_then_exhausted() -> None:
    p = start(plan_of(call(Outcome.DROPPED, sh(10, 10), agent="PJSIP/1001")))
    for minute in (1, 11, 21):
        verdict = judge_leg("agent", AttemptStage.QUEUED, leg_ended=True)
        assert verdict is not None
        p = record_attempt(POLICY, begin_attempt(p), verdict, sh(10, 10, minute))
    assert p.state is CallbackState.EXHAUSTED and p.last_reason == "客户在排队中挂断，未接通坐席"


def test_a_call_cut_by_the_switch_mid_conversation_is_called_back() -> None:
    cut = replace(call(Outcome.END_UNKNOWN, sh(10, 10), agent="PJSIP/1001"), answered_at=sh(10, 9))
    plan = plan_of(cut)
    assert (plan.reason, plan.connect_to_target) == ("switch_cut", "PJSIP/1001")


def test_a_call_cut_by_the_switch_while_queued_is_called_back_however_short() -> None:
    visit = QueueVisit("hotline-general", sh(10, 10) - timedelta(seconds=2))
    cut = replace(call(Outcome.END_UNKNOWN, sh(10, 10), wait=2.0), visits=(visit,))
    assert plan_of(cut).reason == "switch_cut"


def test_a_call_cut_by_the_switch_before_any_queue_gets_no_callback() -> None:
    assert "end_unknown" in refusal_of(call(Outcome.END_UNKNOWN, sh(10, 10)))


def test_quiet_hours_are_off_when_start_equals_end() -> None:
    """README: set QUIET_START and QUIET_END to the same time to call back at any hour."""
    always = CallbackPolicy(quiet_start=time(0, 0), quiet_end=time(0, 0))
    assert plan_of(call(Outcome.ABANDONED, sh(10, 23, 0)), always).first_attempt_at == (
        sh(10, 23, 1)
    )
    assert next_attempt_at(always, 1, sh(11, 3, 0), sh(11, 3, 0)) == sh(11, 3, 10)
