"""The post-call survey, pure: what the dialplan's HotlineSurvey events mean for the call,
what a key means, and how 参评率 / 满意率 are counted."""

# ruff: noqa: E501  (one table row is one AMI event: a row is not wrapped)
from __future__ import annotations

from datetime import datetime

import pytest

from hotline.core.periods import Period, PeriodKind
from hotline.telephony.callbacks import CallbackPolicy, plan_callback
from hotline.telephony.model import CallEventKind, HangupBy, Outcome, RingRule, SurveyResult
from hotline.telephony.survey import SurveyRates, rates, read_result, surveyed
from hotline.telephony.survey_reports import SurveyReport, report_json, report_xlsx
from hotline.telephony.tracker import CallTracker
from tests.telephony.scenario import at, play
from tests.telephony.traces import ABNORMAL

S = SurveyResult

# 王芳 answers, hangs up after a minute; the caller goes on to the survey (Queue option c)
TALK = """
    t    | event           | channel       | uniqueid | linkedid | extras
    0    | Newchannel      | PJSIP/pstn-01 | c1       |          | CallerIDNum=13800138000
    0.5  | QueueCallerJoin | PJSIP/pstn-01 |          |          | Queue=support
    0.6  | Newchannel      | PJSIP/8001-02 | a1       | c1       |
    0.6  | AgentCalled     | PJSIP/pstn-01 |          |          | Interface=PJSIP/8001 MemberName=王芳
    5    | AgentConnect    | PJSIP/pstn-01 |          |          | Interface=PJSIP/8001
    5    | BridgeEnter     | PJSIP/8001-02 |          |          |
    5    | BridgeEnter     | PJSIP/pstn-01 |          |          |
    65   | HangupRequest   | PJSIP/8001-02 |          |          |
    65   | BridgeLeave     | PJSIP/8001-02 |          |          |
    65   | BridgeLeave     | PJSIP/pstn-01 |          |          |
    65   | AgentComplete   | PJSIP/pstn-01 |          |          | Interface=PJSIP/8001
    65   | Hangup          | PJSIP/8001-02 |          |          |
    65.1 | UserEvent       | PJSIP/pstn-01 |          |          | UserEvent=HotlineSurvey Result=offered
"""


def test_a_caller_who_presses_3_after_the_agent_hung_up_is_unsatisfied() -> None:
    run = play(
        TALK
        + """
    70   | UserEvent       | PJSIP/pstn-01 |          |          | UserEvent=HotlineSurvey Result=3
    72   | Hangup          | PJSIP/pstn-01 |          |          |
    """
    )
    rec = run.record
    assert rec.survey_result is S.UNSATISFIED and rec.survey_offered_at == at(65.1)
    assert rec.hangup_by is HangupBy.AGENT and rec.talk_seconds == 60  # the survey is not talk
    assert rec.ended_at == at(72) and rec.agent_member == "王芳"
    assert run.kinds()[-3:] == [CallEventKind.UPDATED, CallEventKind.UPDATED, CallEventKind.ENDED]


def test_a_caller_who_hangs_up_during_the_prompt_is_unrated() -> None:
    rec = play(TALK + "    68   | Hangup | PJSIP/pstn-01 | | |\n").record
    assert rec.survey_result is S.UNRATED and rec.survey_offered_at == at(65.1)


def test_a_line_lost_during_the_survey_is_no_dropped_call() -> None:
    """断线应主动呼出 is about a conversation cut short; this one was over."""
    rec = play(TALK + "    68   | Hangup | PJSIP/pstn-01 | | | Cause=38\n").record
    assert rec.outcome is Outcome.ANSWERED and rec.hangup_cause == 38
    assert rec.survey_result is S.UNRATED
    assert isinstance(plan_callback(CallbackPolicy(), rec), str)  # a reason, no callback


def test_no_valid_key_twice_is_unrated_and_a_later_key_does_not_change_a_first_answer() -> None:
    none = play(
        TALK + "    76 | UserEvent | PJSIP/pstn-01 | | | UserEvent=HotlineSurvey Result=none\n"
    )
    assert none.open_calls[0].survey_result is S.UNRATED  # known before the caller is gone
    twice = play(
        TALK
        + """
    70   | UserEvent       | PJSIP/pstn-01 |          |          | UserEvent=HotlineSurvey Result=1
    71   | UserEvent       | PJSIP/pstn-01 |          |          | UserEvent=HotlineSurvey Result=3
    72   | Hangup          | PJSIP/pstn-01 |          |          |
    """
    )
    assert twice.record.survey_result is S.SATISFIED


def test_a_call_without_survey_events_has_no_survey() -> None:
    rec = play(TALK.rsplit("\n", 2)[0] + "\n    66 | Hangup | PJSIP/pstn-01 | | |\n").record
    assert rec.survey_result is None and rec.survey_offered_at is None


def test_a_queue_whose_survey_is_off_records_none_even_if_the_dialplan_asks() -> None:
    off = CallTracker(RingRule(), ABNORMAL, survey_off=frozenset({"support"}))
    rec = play(
        TALK
        + "    70 | UserEvent | PJSIP/pstn-01 | | | UserEvent=HotlineSurvey Result=3\n    72 | Hangup | PJSIP/pstn-01 | | |\n",
        into=off,
    ).record
    assert rec.survey_result is None


def test_a_survey_before_any_agent_answered_is_ignored() -> None:
    rec = play("""
        t  | event      | channel       | uniqueid | linkedid | extras
        0  | Newchannel | PJSIP/pstn-01 | c1       |          | CallerIDNum=13800138000
        1  | UserEvent  | PJSIP/pstn-01 |          |          | UserEvent=HotlineSurvey Result=3
        2  | Hangup     | PJSIP/pstn-01 |          |          |
    """).record
    assert rec.survey_result is None


@pytest.mark.parametrize(
    ("header", "result"),
    [
        ("1", S.SATISFIED),
        (" 2 ", S.BASIC),
        ("3", S.UNSATISFIED),
        ("none", S.UNRATED),
        ("9", S.UNRATED),
        ("", S.UNRATED),
        (None, S.UNRATED),
        ("offered", None),
        ("OFFERED", None),
    ],
)
def test_what_a_result_header_means(header: str | None, result: SurveyResult | None) -> None:
    assert read_result(header) is result


def test_rates_per_agent_participation_and_satisfaction() -> None:
    counts = [
        ("王芳", S.SATISFIED, 6),
        ("王芳", S.BASIC, 2),
        ("王芳", S.UNSATISFIED, 2),
        ("王芳", S.UNRATED, 10),
        ("李强", S.UNRATED, 3),
    ]
    wang, li = rates(counts)[1], rates(counts)[0]
    assert (wang.key, wang.offered, wang.rated, wang.unrated) == ("王芳", 20, 10, 10)
    assert wang.participation_pct == 50.0  # 参评率: 10 answered of 20 offered
    assert wang.satisfaction_pct == 80.0  # 满意率: (6 满意 + 2 基本满意) of 10 answered
    assert (li.offered, li.participation_pct, li.satisfaction_pct) == (3, 0.0, None)
    assert SurveyRates(None).participation_pct is None


def test_the_survey_is_off_only_for_the_listed_queues() -> None:
    assert surveyed("support", ["vip"]) and not surveyed("vip", ["vip"])
    assert surveyed(None, ["vip"])


def test_the_report_as_json_and_as_a_workbook() -> None:
    p = Period.of(PeriodKind.DAY, datetime(2026, 3, 2).date(), "Asia/Shanghai")
    total = SurveyRates(None, 4, 1, 1, 1)
    report = SurveyReport(
        p, total, [SurveyRates("王芳", 4, 1, 1, 1)], [SurveyRates("support", 4, 1, 1, 1)]
    )
    body = report_json(report)
    assert body["title"] == "来电满意度日报 2026年3月2日"
    assert body["total"]["participation_pct"] == 75.0 and body["total"]["satisfaction_pct"] == 66.7
    assert body["agents"][0]["key"] == "王芳" and body["total"]["unrated"] == 1
    assert report_xlsx(report)[:2] == b"PK"
