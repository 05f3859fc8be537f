"""A gas company's hotline week (2026年第48周) and the figures its supervisor reads on Monday."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from io import BytesIO
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from openpyxl import load_workbook

from hotline.core.periods import Period
from hotline.tickets.model import (
    Category,
    ComplaintLevel,
    Deadlines,
    Satisfaction,
    State,
    Ticket,
)
from hotline.tickets.reports import report_title, report_xlsx, summarize

SH = ZoneInfo("Asia/Shanghai")
NOW = datetime(2026, 11, 30, 1, 0, tzinfo=UTC)  # Monday 09:00 in Shanghai


def local(day: int, hour: int, minute: int = 0, month: int = 11) -> datetime:
    return datetime(2026, month, day, hour, minute, tzinfo=SH).astimezone(UTC)


def ticket(id: int, at: datetime, category: Category | None, **changes: Any) -> Ticket:
    base = Ticket(
        id=id,
        call_id=f"1790000{id:03d}.1",
        recording_id=None,
        caller_number=f"1380013{id:04d}",
        agent="8001",
        state=State.ACCEPTED,
        category=category,
        urgent=False,
        complaint_level=None,
        unit=None,
        summary="",
        fields=(),
        topic=None,
        created_at=at,
        deadlines=Deadlines(),
    )
    return replace(base, **changes)


def closed(t: Ticket, satisfaction: Satisfaction | None = None) -> Ticket:
    done = t.created_at + timedelta(hours=3)
    return replace(t, state=State.CLOSED, closed_at=done, satisfaction=satisfaction)


def gas_company_week() -> list[Ticket]:
    leak = {"category": Category.EMERGENCY, "urgent": True, "topic": "燃气泄漏"}
    outage = {
        "category": Category.COMPLAINT,
        "topic": "燃气停供",
        "unit": "城南营业所",
        "summary": "幸福小区停气三天无人通知",
        "complaint_level": ComplaintLevel.GENERAL,
    }
    return [
        # Sunday 23:30 of the week before, and next Monday 00:00: not this week.
        ticket(1, local(22, 23, 30), Category.REPAIR, topic="燃气泄漏", unit="维修一所"),
        ticket(99, local(30, 0, 0), Category.CONSULT, topic="燃气费查询"),
        # Monday 00:10 in Shanghai is still Sunday in UTC, and belongs to this week.
        closed(
            ticket(2, local(23, 0, 10), unit="城东抢险队", summary="厨房闻到燃气味", **leak),
            Satisfaction.SATISFIED,
        ),
        closed(
            ticket(3, local(24, 19, 5), unit="城东抢险队", summary="楼道燃气泄漏", **leak),
            Satisfaction.SATISFIED,
        ),
        ticket(4, local(28, 7, 40), unit="城西抢险队", summary="燃气管道破损", **leak),
        # Repairs: one finished late and reopened after a 不满意, one still overdue.
        closed(
            ticket(5, local(23, 10), Category.REPAIR, unit="维修一所", topic="燃气表故障"),
            Satisfaction.BASICALLY,
        ),
        replace(
            closed(
                ticket(6, local(24, 11), Category.REPAIR, unit="维修一所", topic="燃气表故障"),
                Satisfaction.UNSATISFIED,
            ),
            overdue=True,
            reopened=1,
        ),
        ticket(
            7,
            local(26, 15),
            Category.REPAIR,
            unit="维修二所",
            topic="燃气表故障",
            state=State.IN_PROGRESS,
            overdue=True,
        ),
        closed(
            ticket(8, local(27, 9), Category.SERVICE, unit="维修二所", topic="通气点火"),
            Satisfaction.SATISFIED,
        ),
        # Five different customers complain about the same outage: a level-2 complaint.
        closed(ticket(10, local(25, 8, 50), **outage), Satisfaction.BASICALLY),
        closed(ticket(11, local(25, 9, 20), **outage)),
        ticket(12, local(25, 14), **outage, state=State.DISPATCHED),
        ticket(13, local(26, 10), **outage, state=State.DISPATCHED, overdue=True),
        ticket(14, local(26, 18, 30), **outage, state=State.REPLIED),
        # One customer called the local TV station: level 1.
        ticket(
            15,
            local(27, 16),
            Category.COMPLAINT,
            unit="城南营业所",
            topic="燃气停供",
            summary="停气未通知，已向电视台反映",
            complaint_level=ComplaintLevel.MAJOR,
            state=State.IN_PROGRESS,
        ),
        # A minor complaint about an agent's tone stays level 3.
        closed(
            ticket(
                16,
                local(28, 10),
                Category.COMPLAINT,
                unit="客服中心",
                topic="服务态度",
                complaint_level=ComplaintLevel.MINOR,
            ),
            Satisfaction.SATISFIED,
        ),
        closed(ticket(17, local(29, 20), Category.CONSULT, topic="燃气费查询")),
        # A draft the agent never confirmed is not a ticket yet.
        ticket(18, local(29, 21), Category.CONSULT, state=State.DRAFT, topic="燃气费查询"),
        # The classifier was not sure and the agent has not picked a category yet.
        ticket(19, local(29, 22), None),
    ]


def test_the_title_names_the_report_and_the_period() -> None:
    """The periods themselves are tested in tests/core/test_periods.py."""
    week = Period.parse("week", "2026-11-26")
    assert report_title(week) == "客服热线工单周报 2026年第48周"
    day = Period.parse("day", date(2026, 11, 23))
    assert report_title(day) == "客服热线工单日报 2026年11月23日"
    assert report_title(Period.parse("month", "2026-12")) == "客服热线工单月报 2026年12月"


def test_the_supervisors_weekly_figures() -> None:
    report = summarize(gas_company_week(), Period.parse("week", "2026-11-23"), NOW)

    assert report.created == 16  # tickets 2–8, 10–17 and 19; not 1, 18 (draft) or 99
    assert (report.closed, report.open) == (9, 7)
    assert report.overdue == 3
    assert report.urgent == 3
    assert (report.level1, report.level2) == (1, 5)
    assert [t.id for t in report.escalated] == [15, 10, 11, 12, 13, 14]
    assert report.hot_topics[:3] == (("燃气停供", 6), ("燃气泄漏", 3), ("燃气表故障", 3))
    assert dict(report.hot_topics)["燃气费查询"] == 1
    assert dict(report.satisfaction) == {
        Satisfaction.SATISFIED: 4,
        Satisfaction.BASICALLY: 2,
        Satisfaction.UNSATISFIED: 1,
    }
    assert report.satisfaction_rate == pytest.approx(6 / 7)
    assert report.reopened == 1

    by_category = {r.label: (r.created, r.closed, r.overdue) for r in report.by_category}
    assert by_category == {
        "故障报修": (3, 2, 2),
        "服务申请": (1, 1, 0),
        "投诉": (7, 3, 1),
        "咨询/查询": (1, 1, 0),
        "报警/紧急": (3, 2, 0),
        "未分类": (1, 0, 0),
    }
    assert [r.label for r in report.by_unit][:2] == ["城南营业所", "城东抢险队"]
    south = report.by_unit[0]
    assert (south.created, south.closed, south.overdue, south.complaints) == (6, 2, 1, 6)
    assert {r.label: r.created for r in report.by_unit}["未指定单位"] == 2


def test_hot_topics_are_the_ten_most_frequent() -> None:
    many = [
        ticket(i, local(23, 9, i), Category.CONSULT, topic=f"话题{i % 12:02d}") for i in range(40)
    ]
    report = summarize(many, Period.parse("week", "2026-11-23"), NOW)

    assert len(report.hot_topics) == 10
    assert report.hot_topics[0] == ("话题00", 4)  # 0..3 occur 4 times, the rest 3
    assert [n for _, n in report.hot_topics] == [4, 4, 4, 4, 3, 3, 3, 3, 3, 3]


def test_a_quiet_day_has_no_rates_rather_than_zero() -> None:
    report = summarize([], Period.parse("day", "2026-11-23"), NOW)

    assert report.created == 0
    assert report.satisfaction_rate is None
    assert report.closed_rate is None
    assert report.hot_topics == ()


def test_the_workbook_shows_the_figures_under_chinese_headers() -> None:
    report = summarize(gas_company_week(), Period.parse("week", "2026-11-23"), NOW)
    wb = load_workbook(BytesIO(report_xlsx(report)))

    assert wb.sheetnames[:5] == ["汇总", "分类", "责任单位", "热点", "投诉升级"]
    assert wb.sheetnames[5:] == ["来源", "考核（单位）", "考核（人员）"]
    for ws in wb:
        assert ws["A1"].value == "客服热线工单周报 2026年第48周"
        assert ws.freeze_panes == "A3"
        assert ws.column_dimensions["A"].width >= 8

    summary = {row[0]: row[1] for row in wb["汇总"].iter_rows(min_row=3, values_only=True)}
    assert [c.value for c in wb["汇总"][2]] == ["项目", "数值"]
    assert summary["统计周期"] == "2026-11-23 至 2026-11-29"
    assert summary["生成时间"] == "2026-11-30 09:00"
    assert summary["受理工单"] == 16
    assert summary["已办结"] == 9
    assert summary["超时工单"] == 3
    assert summary["一级投诉"] == 1
    assert summary["二级投诉"] == 5
    assert summary["回访不满意"] == 1
    assert summary["回访满意率"] == pytest.approx(6 / 7)
    assert summary["不满意重办"] == 1

    units = list(wb["责任单位"].iter_rows(min_row=2, values_only=True))
    assert units[0] == ("责任单位", "受理量", "已办结", "超时", "投诉")
    assert units[1] == ("城南营业所", 6, 2, 1, 6)

    hot = list(wb["热点"].iter_rows(min_row=2, max_row=3, values_only=True))
    assert hot == [("排名", "热点问题", "工单数"), (1, "燃气停供", 6)]

    escalated = list(wb["投诉升级"].iter_rows(min_row=2, values_only=True))
    assert escalated[0][:3] == ("工单号", "投诉等级", "受理时间")
    assert escalated[1][:4] == (15, "一级（重大）", "2026-11-27 16:00", "城南营业所")
    assert escalated[1][5] == "停气未通知，已向电视台反映"
    assert [row[1] for row in escalated[2:]] == ["二级（一般）"] * 5
    assert escalated[5][-1] == "是"  # ticket 13 is overdue

    categories = {r[0]: r[1] for r in wb["分类"].iter_rows(min_row=3, values_only=True)}
    assert categories["投诉"] == 7
