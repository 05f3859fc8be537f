"""The post-call survey on a real Asterisk 22: the deploy dialplan sends the caller to
[hotline-survey] when the agent hangs up (Queue option c), and Hotline records the key the
caller pressed against the call and the agent, or 未评价.
"""

from __future__ import annotations

import asyncio

from hotline.core.bus import Message
from hotline.telephony.model import HangupBy, Outcome, SurveyResult
from tests.switch.scenarios import Scenario
from tests.switch.test_hotline_on_switch import Hotline, eventually, hotline  # noqa: F401

# agent answers after ~3 s, talks 2 s and hangs up; the survey prompt starts at ~5 s
PRESSES_3 = Scenario(
    "survey_3",
    "13800000021",
    "郑一",
    ("HOTLINE_QUEUE=hotline-fast", "__SIM_AGENT_TALK=2", "SIM_SURVEY_KEY=3", "SIM_SURVEY_AFTER=8"),
)
HANGS_UP = Scenario(
    "survey_gone",
    "13800000022",
    "冯二",
    ("HOTLINE_QUEUE=hotline-fast", "__SIM_AGENT_TALK=2", "SIM_HANGUP_AFTER=7"),
)

# nobody presses anything: asked twice (1 s each here), then Result: none
SILENT = Scenario(
    "survey_silent",
    "13800000023",
    "陈三",
    ("HOTLINE_QUEUE=hotline-fast", "__SIM_AGENT_TALK=2", "HOTLINE_SURVEY_TIMEOUT=1"),
)
# the queue's survey is turned off in the dialplan: sim-survey-off sets HOTLINE_SURVEY_OFF to
# "vip,hotline-fast" (an Originate Variable cannot carry a comma) and goes on to the inbound
OFF = Scenario(
    "survey_off",
    "13800000024",
    "褚四",
    ("HOTLINE_QUEUE=hotline-fast", "__SIM_AGENT_TALK=2"),
    context="sim-survey-off",
)


async def test_a_caller_rates_the_agent_unsatisfied_and_another_hangs_up_unrated(
    hotline: Hotline,  # noqa: F811
) -> None:
    alerts: list[Message] = []

    async def keep(message: Message) -> None:
        alerts.append(message)

    hotline.c.bus.subscribe("alert/survey_unsatisfied", keep)
    await asyncio.gather(hotline.call(PRESSES_3), hotline.call(HANGS_UP))

    unhappy = await hotline.ended("13800000021")
    assert unhappy.outcome is Outcome.ANSWERED and unhappy.hangup_by is HangupBy.AGENT
    assert unhappy.survey_result is SurveyResult.UNSATISFIED
    assert unhappy.survey_offered_at is not None and unhappy.ended_at is not None
    assert unhappy.answered_at < unhappy.survey_offered_at < unhappy.ended_at  # type: ignore[operator]
    # the record is saved first, then the after-call hooks run: the survey row follows
    kept = await eventually(lambda: hotline.c.surveys.get(unhappy.call_id), 5, "the survey row")
    assert kept.label == "不满意" and kept.agent_member == "agent-fast"
    assert kept.queue == "hotline-fast"
    alert = await eventually(lambda: asyncio.sleep(0, alerts), 5, "the 不满意 alert")
    assert [a.payload["call_id"] for a in alert] == [unhappy.call_id]
    assert alert[0].payload["agent_member"] == "agent-fast"

    gone = await hotline.ended("13800000022")
    assert gone.outcome is Outcome.ANSWERED and gone.survey_result is SurveyResult.UNRATED
    kept_gone = await eventually(lambda: hotline.c.surveys.get(gone.call_id), 5, "its row")
    assert kept_gone.label == "未评价"
    assert len(alerts) == 1  # 未评价 raises nothing
    sent = [e.get("Result") for e in hotline.user_events("HotlineSurvey")]
    assert sorted(sent) == ["3", "offered", "offered"]  # the one who hung up sent no key


async def test_no_key_is_unrated_after_the_second_prompt_and_an_off_queue_is_not_asked(
    hotline: Hotline,  # noqa: F811
) -> None:
    await asyncio.gather(hotline.call(SILENT), hotline.call(OFF))
    silent = await hotline.ended("13800000023")
    assert silent.survey_result is SurveyResult.UNRATED
    sent = [
        e for e in hotline.user_events("HotlineSurvey") if e.get("CallerIDNum") == "13800000023"
    ]
    assert [e.get("Result") for e in sent] == ["offered", "none"]
    asked_for = float(sent[1]["Timestamp"]) - float(sent[0]["Timestamp"])
    assert asked_for >= 2.0  # two prompts of the 1 s timeout each (plus the beeps)

    off = await hotline.ended("13800000024")
    assert off.outcome is Outcome.ANSWERED and off.survey_result is None
    assert await hotline.c.surveys.get(off.call_id) is None
    assert not [
        e for e in hotline.user_events("HotlineSurvey") if e.get("CallerIDNum") == "13800000024"
    ]
