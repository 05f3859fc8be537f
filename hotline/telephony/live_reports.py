"""Agent state reports for a day, week or month. Rule: a report is a pure sum of the stored
stretches, each cut to the period (and an open one to `now`).

Per agent and for the whole team: logged-in time (every stretch while in a queue), pause
time by reason, ringing, talk and wrap-up time, occupancy = (talk + wrap-up) / (talk +
wrap-up + available + ringing), calls answered and rings not answered.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from hotline.core import sheets
from hotline.core.periods import Period
from hotline.core.sheets import add_sheet
from hotline.telephony.live import Activity
from hotline.telephony.live_store import StateRow

TEAM = "全部坐席"
NO_REASON = "（未注明）"


@dataclass(frozen=True, slots=True)
class AgentTimes:
    agent: str  # the interface; TEAM for the total
    member: str
    logged_in_s: float
    available_s: float
    ringing_s: float
    talk_s: float
    wrap_up_s: float
    paused_s: float
    unavailable_s: float
    pause_by_reason: tuple[tuple[str, float], ...]
    answered: int
    missed: int

    @property
    def occupancy(self) -> float | None:
        busy = self.talk_s + self.wrap_up_s
        total = busy + self.available_s + self.ringing_s
        return None if total <= 0 else busy / total


@dataclass(frozen=True, slots=True)
class AgentStateReport:
    period: Period
    generated_at: datetime
    agents: tuple[AgentTimes, ...]
    team: AgentTimes


def _sum(agent: str, member: str, rows: Iterable[tuple[StateRow, float]]) -> AgentTimes:
    by: dict[Activity, float] = defaultdict(float)
    reasons: dict[str, float] = defaultdict(float)
    answered = missed = 0
    for row, seconds in rows:
        by[row.activity] += seconds
        if row.activity is Activity.PAUSED:
            reasons[row.pause_reason or NO_REASON] += seconds
        answered += row.answered
        missed += row.missed
    return AgentTimes(
        agent,
        member,
        round(sum(by.values()), 3),
        round(by[Activity.AVAILABLE], 3),
        round(by[Activity.RINGING], 3),
        round(by[Activity.TALKING], 3),
        round(by[Activity.WRAP_UP], 3),
        round(by[Activity.PAUSED], 3),
        round(by[Activity.UNAVAILABLE], 3),
        tuple(sorted(((r, round(s, 3)) for r, s in reasons.items()), key=lambda x: -x[1])),
        answered,
        missed,
    )


def summarize(rows: Sequence[StateRow], period: Period, now: datetime) -> AgentStateReport:
    start, end = period.start_utc, min(period.end_utc, max(now, period.start_utc))
    cut: list[tuple[StateRow, float]] = []
    for row in rows:
        if row.activity is Activity.LOGGED_OUT:
            continue
        a, b = max(row.started_at, start), min(row.ended_at or now, end)
        if b > a or (row.started_at >= start and row.started_at < end):
            cut.append((row, max(0.0, (b - a).total_seconds())))
    per: dict[str, list[tuple[StateRow, float]]] = defaultdict(list)
    for row, seconds in cut:
        per[row.interface].append((row, seconds))
    agents = tuple(
        _sum(interface, items[-1][0].member, items) for interface, items in sorted(per.items())
    )
    return AgentStateReport(period, now, agents, _sum(TEAM, TEAM, cut))


def report_title(period: Period) -> str:
    return period.report_title("坐席状态")


def times_json(t: AgentTimes) -> dict[str, Any]:
    return {
        "agent": t.agent,
        "member": t.member,
        "logged_in_seconds": t.logged_in_s,
        "available_seconds": t.available_s,
        "ringing_seconds": t.ringing_s,
        "talk_seconds": t.talk_s,
        "wrap_up_seconds": t.wrap_up_s,
        "paused_seconds": t.paused_s,
        "unavailable_seconds": t.unavailable_s,
        "pause_by_reason": [{"reason": r, "seconds": s} for r, s in t.pause_by_reason],
        "occupancy": None if t.occupancy is None else round(t.occupancy, 4),
        "answered": t.answered,
        "rings_not_answered": t.missed,
    }


def report_json(r: AgentStateReport) -> dict[str, Any]:
    return {
        **r.period.report_head("坐席状态"),
        "generated_at": r.generated_at,
        "agents": [times_json(a) for a in r.agents],
        "team": times_json(r.team),
    }


# -- XLSX, in the style of the quality reports ------------------------------------------

HEAD = ["坐席", "工号/成员名", "签入时长(分)", "空闲(分)", "振铃(分)", "通话(分)", "话后整理(分)"]
HEAD += ["示忙(分)", "话机离线(分)", "占用率", "接听数", "未接振铃数"]


def _min(seconds: float) -> float:
    return round(seconds / 60, 1)


def _row(t: AgentTimes) -> list[Any]:
    occ = "—" if t.occupancy is None else f"{t.occupancy * 100:.1f}%"
    return [
        t.agent,
        t.member,
        *map(_min, (t.logged_in_s, t.available_s, t.ringing_s, t.talk_s, t.wrap_up_s)),
        *map(_min, (t.paused_s, t.unavailable_s)),
        occ,
        t.answered,
        t.missed,
    ]


def report_xlsx(r: AgentStateReport) -> bytes:
    """汇总 / 坐席 / 示忙原因 sheets, Chinese headers, frozen header row, fitted widths."""
    tz = r.period.zone
    wb = sheets.workbook()
    add_sheet(
        wb,
        "汇总",
        ["项目", "数值"],
        [
            ["报表", report_title(r.period)],
            ["期间", r.period.span],
            ["生成时间", r.generated_at.astimezone(tz).strftime("%Y-%m-%d %H:%M")],
            ["坐席数", len(r.agents)],
        ],
    )
    add_sheet(wb, "坐席", HEAD, [*(_row(a) for a in r.agents), _row(r.team)])
    add_sheet(
        wb,
        "示忙原因",
        ["坐席", "原因", "时长(分)"],
        [
            [a.agent, reason, _min(s)]
            for a in (*r.agents, r.team)
            for reason, s in a.pause_by_reason
        ],
    )
    return sheets.to_bytes(wb)
