"""Agent state reports: stretches cut to the period, open ones to now, summed per agent."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hotline.core.periods import Period
from hotline.telephony.live import Activity
from hotline.telephony.live_reports import TEAM, summarize
from hotline.telephony.live_store import StateRow

DAY = Period.parse("day", "2026-03-02", "Asia/Shanghai")  # 2026-03-01 16:00 UTC ...
MIDNIGHT = datetime(2026, 3, 1, 16, 0, tzinfo=UTC)


def row(
    agent: str, activity: Activity, start_min: float, end_min: float | None, **kw: object
) -> StateRow:
    end = None if end_min is None else MIDNIGHT + timedelta(minutes=end_min)
    return StateRow(
        agent,
        agent[-4:],
        activity,
        kw.pop("reason", None),
        MIDNIGHT + timedelta(minutes=start_min),
        end,
        **kw,
    )  # type: ignore[arg-type]


def test_stretches_are_cut_to_the_day_and_summed() -> None:
    rows = [
        row("PJSIP/1001", Activity.AVAILABLE, -30, 10),  # 10 of its 40 minutes are today
        row("PJSIP/1001", Activity.RINGING, 10, 10.5, answered=1),
        row("PJSIP/1001", Activity.TALKING, 10.5, 20.5),
        row("PJSIP/1001", Activity.WRAP_UP, 20.5, 21.5),
        row("PJSIP/1001", Activity.PAUSED, 21.5, 31.5, reason="小休"),
        row("PJSIP/1001", Activity.PAUSED, 31.5, 41.5, reason="用餐"),
        row("PJSIP/1001", Activity.PAUSED, 41.5, 46.5, reason="小休"),
        row("PJSIP/1002", Activity.RINGING, 0, 0.25, missed=1),
        row("PJSIP/1002", Activity.AVAILABLE, 0.25, None),  # open: counted to now
    ]
    now = MIDNIGHT + timedelta(minutes=60.25)
    report = summarize(rows, DAY, now)
    a, b = report.agents
    assert a.agent == "PJSIP/1001" and a.logged_in_s == 46.5 * 60
    assert (a.available_s, a.ringing_s, a.talk_s, a.wrap_up_s) == (600, 30, 600, 60)
    assert a.pause_by_reason == (("小休", 900), ("用餐", 600)) and a.paused_s == 1500
    assert a.occupancy == 660 / (660 + 600 + 30) and (a.answered, a.missed) == (1, 0)
    assert (b.logged_in_s, b.missed, b.available_s) == (3600 + 15, 1, 3600)
    assert report.team.agent == TEAM and report.team.talk_s == 600
    assert report.team.logged_in_s == a.logged_in_s + b.logged_in_s
