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
    kept = await hotline.c.surveys.get(unhappy.call_id)
    assert kept is not None and kept.label == "不满意" and kept.agent_member == "agent-fast"
    assert kept.queue == "hotline-fast"
    alert = await eventually(lambda: asyncio.sleep(0, alerts), 5, "the 不满意 alert")
    assert [a.payload["call_id"] for a in alert] == [unhappy.call_id]
    assert alert[0].payload["agent_member"] == "agent-fast"

    gone = await hotline.ended("13800000022")
    assert gone.outcome is Outcome.ANSWERED and gone.survey_result is SurveyResult.UNRATED
    assert (await hotline.c.surveys.get(gone.call_id)).label == "未评价"  # type: ignore[union-attr]
    assert len(alerts) == 1  # 未评价 raises nothing
    sent = [e.get("Result") for e in hotline.user_events("HotlineSurvey")]
    assert sorted(sent) == ["3", "offered", "offered"]  # the one who hung up sent no key
