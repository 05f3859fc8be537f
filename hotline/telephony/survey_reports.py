"""Survey reports (来电满意度 日报 / 周报 / 月报). Rule: the caller's own survey only, per
agent, per queue and for all; the 回访 satisfaction agents record on tickets is a
different figure and is never added in here.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from hotline.core import sheets
from hotline.core.periods import Period
from hotline.core.sheets import add_sheet, to_bytes
from hotline.telephony.survey import SurveyRates


@dataclass(frozen=True, slots=True)
class SurveyReport:
    period: Period
    total: SurveyRates
    agents: list[SurveyRates]
    queues: list[SurveyRates]


def report_title(period: Period) -> str:
    return period.report_title("来电满意度")


def rates_json(r: SurveyRates) -> dict[str, Any]:
    return {
        "key": r.key,
        "offered": r.offered,
        "rated": r.rated,
        "satisfied": r.satisfied,
        "basic": r.basic,
        "unsatisfied": r.unsatisfied,
        "unrated": r.unrated,
        "participation_pct": r.participation_pct,
        "satisfaction_pct": r.satisfaction_pct,
    }


def report_json(r: SurveyReport) -> dict[str, Any]:
    return {
        **r.period.report_head("来电满意度"),
        "total": rates_json(r.total),
        "agents": [rates_json(a) for a in r.agents],
        "queues": [rates_json(q) for q in r.queues],
    }


HEAD = ["", "邀评数", "参评数", "满意", "基本满意", "不满意", "未评价", "参评率", "满意率"]


def _pct(v: float | None) -> str:
    return "—" if v is None else f"{v:.1f}%"


def _row(name: str, r: SurveyRates) -> list[Any]:
    counts = [r.offered, r.rated, r.satisfied, r.basic, r.unsatisfied, r.unrated]
    return [name, *counts, _pct(r.participation_pct), _pct(r.satisfaction_pct)]


def report_xlsx(r: SurveyReport) -> bytes:
    """汇总 / 坐席 / 队列 sheets, in the style of the other reports."""
    wb = sheets.workbook()
    add_sheet(wb, "汇总", ["报表", *HEAD[1:]], [_row(report_title(r.period), r.total)])
    add_sheet(wb, "坐席", ["坐席", *HEAD[1:]], [_row(a.key or "未知", a) for a in r.agents])
    add_sheet(wb, "队列", ["队列", *HEAD[1:]], [_row(q.key or "无队列", q) for q in r.queues])
    return to_bytes(wb)
