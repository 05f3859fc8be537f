"""Ticket summaries (日报/周报/月报/季报/年报) and their XLSX workbook.

Rule: a report counts the tickets accepted (created) inside the period, a calendar day, ISO
week (Monday first) or month in the hotline's time zone, and shows each one's state as of
the moment the report is made. Drafts the agent never confirmed are not tickets yet and are
left out. `summarize` is pure (the caller passes the tickets and the clock): it is the
reference that the database's version (tickets/report_queries.py, what the service runs)
is tested against.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from openpyxl import Workbook
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter

from hotline.core import sheets
from hotline.core.periods import Period
from hotline.tickets.model import (
    CATEGORY_LABELS,
    LEVEL_LABELS,
    SOURCE_LABELS,
    STATE_LABELS,
    Category,
    ComplaintLevel,
    Satisfaction,
    Source,
    State,
    Ticket,
)

HOT_TOPICS = 10
NO_UNIT = "未指定单位"
NO_CATEGORY = "未分类"


@dataclass(frozen=True, slots=True)
class AssessRow:
    """One line of the 考核 table: a unit or an agent over the period."""

    name: str | None
    tickets: int
    by_category: dict[str, int]
    dispatch_on_time: float | None  # share of its dispatch deadlines met
    contact_on_time: float | None
    done_on_time: float | None
    first_contact: float | None  # 一次解决率: 即时办结 / tickets
    followup_rate: float | None  # 回访处理率: followed up / those to follow up
    satisfaction_rate: float | None  # (满意 + 基本满意) / answered
    valid_complaint_rate: float | None  # 有效投诉 / judged complaints
    complaints_against: int  # valid complaints naming this unit / agent as the party


def report_title(period: Period) -> str:
    """「客服热线工单周报 2026年第48周」: the title every sheet of the workbook opens with."""
    return period.report_title("客服热线工单")


@dataclass(frozen=True, slots=True)
class CategoryRow:
    category: Category | None
    created: int
    closed: int
    overdue: int

    @property
    def label(self) -> str:
        return CATEGORY_LABELS[self.category] if self.category else NO_CATEGORY


@dataclass(frozen=True, slots=True)
class UnitRow:
    unit: str | None
    created: int
    closed: int
    overdue: int
    complaints: int

    @property
    def label(self) -> str:
        return self.unit or NO_UNIT


@dataclass(frozen=True, slots=True)
class SourceRow:
    source: Source
    created: int
    closed: int

    @property
    def label(self) -> str:
        return SOURCE_LABELS[self.source]


@dataclass(frozen=True, slots=True)
class TicketReport:
    period: Period
    generated_at: datetime
    created: int
    closed: int
    open: int
    overdue: int
    urgent: int
    by_category: tuple[CategoryRow, ...]  # in the order of Category, then 未分类
    by_unit: tuple[UnitRow, ...]  # most tickets first
    hot_topics: tuple[tuple[str, int], ...]  # 热点: most frequent topics first, at most 10
    escalated: tuple[Ticket, ...]  # level-1 then level-2 complaints, oldest first
    satisfaction: tuple[tuple[Satisfaction, int], ...]  # every answer kind, in enum order
    reopened: int  # tickets reopened at least once (不满意重办)
    on_spot: int = 0  # 即时办结: resolved at first contact (一次解决)
    by_source: tuple[SourceRow, ...] = ()  # in the order of Source

    @property
    def first_contact_rate(self) -> float | None:
        """一次解决率: tickets closed on the spot / tickets."""
        return self.on_spot / self.created if self.created else None

    @property
    def level1(self) -> int:
        return sum(1 for t in self.escalated if t.complaint_level is ComplaintLevel.MAJOR)

    @property
    def level2(self) -> int:
        return sum(1 for t in self.escalated if t.complaint_level is ComplaintLevel.GENERAL)

    @property
    def answered(self) -> int:
        return sum(n for _, n in self.satisfaction)

    @property
    def satisfaction_rate(self) -> float | None:
        """(满意 + 基本满意) / answered 回访; None when nobody answered."""
        if not self.answered:
            return None
        pleased = sum(n for s, n in self.satisfaction if s is not Satisfaction.UNSATISFIED)
        return pleased / self.answered

    @property
    def closed_rate(self) -> float | None:
        return self.closed / self.created if self.created else None


def summarize(tickets: Sequence[Ticket], period: Period, now: datetime) -> TicketReport:
    """The period's figures from `tickets` (any superset is fine: others are ignored)."""
    mine = [t for t in tickets if t.state is not State.DRAFT and period.contains(t.created_at)]

    def closed(t: Ticket) -> bool:
        return t.state is State.CLOSED

    categories: list[Category | None] = [*Category, None]
    by_category = tuple(
        CategoryRow(
            c,
            len(group),
            sum(1 for t in group if closed(t)),
            sum(1 for t in group if t.overdue),
        )
        for c in categories
        if (group := [t for t in mine if t.category == c])
    )
    units: dict[str | None, list[Ticket]] = {}
    for t in mine:
        units.setdefault(t.unit, []).append(t)
    by_unit = tuple(
        sorted(
            (
                UnitRow(
                    unit,
                    len(group),
                    sum(1 for t in group if closed(t)),
                    sum(1 for t in group if t.overdue),
                    sum(1 for t in group if t.category is Category.COMPLAINT),
                )
                for unit, group in units.items()
            ),
            key=lambda r: (-r.created, r.unit is None, r.unit or ""),
        )
    )
    topics = Counter(t.topic for t in mine if t.topic)
    hot = tuple(sorted(topics.items(), key=lambda kv: (-kv[1], kv[0]))[:HOT_TOPICS])
    escalated = tuple(
        sorted(
            (
                t
                for t in mine
                if t.complaint_level in (ComplaintLevel.MAJOR, ComplaintLevel.GENERAL)
            ),
            key=lambda t: (t.complaint_level or 0, t.created_at, t.id),
        )
    )
    answers = Counter(t.satisfaction for t in mine if t.satisfaction)
    n_closed = sum(1 for t in mine if closed(t))
    return TicketReport(
        period=period,
        generated_at=now,
        created=len(mine),
        closed=n_closed,
        open=len(mine) - n_closed,
        overdue=sum(1 for t in mine if t.overdue),
        urgent=sum(1 for t in mine if t.urgent),
        by_category=by_category,
        by_unit=by_unit,
        hot_topics=hot,
        escalated=escalated,
        satisfaction=tuple((s, answers[s]) for s in Satisfaction),
        reopened=sum(1 for t in mine if t.reopened),
        on_spot=sum(1 for t in mine if t.on_spot),
        by_source=tuple(
            SourceRow(
                src,
                len(group),
                sum(1 for t in group if closed(t)),
            )
            for src in Source
            if (group := [t for t in mine if t.source is src])
        ),
    )


SATISFACTION_LABELS: dict[Satisfaction, str] = {
    Satisfaction.SATISFIED: "满意",
    Satisfaction.BASICALLY: "基本满意",
    Satisfaction.UNSATISFIED: "不满意",
}
_TITLE = Font(size=14, bold=True)
_HEADER = Font(bold=True)
_HEADER_FILL = PatternFill("solid", fgColor="DDEBF7")
_PERCENT = "0.0%"

Cell = str | int | float | datetime | None


def report_xlsx(
    report: TicketReport,
    units: Sequence[AssessRow] = (),
    agents: Sequence[AssessRow] = (),
) -> bytes:
    """The report as a workbook: 汇总, 分类, 来源, 责任单位, 热点, 投诉升级, and the 考核
    tables by unit and by agent; each sheet has the report's title in row 1 and Chinese
    headers in row 2, frozen. The aggregates are small: the sheets hold
    grouped rows, never a period's tickets."""
    zone = report.period.zone
    title = report_title(report.period)
    wb = Workbook()
    ws = wb.active
    ws.title = "汇总"
    made = report.generated_at.astimezone(zone).strftime("%Y-%m-%d %H:%M")
    summary: list[list[Cell]] = [
        ["统计周期", report.period.span],
        ["生成时间", made],
        ["受理工单", report.created],
        ["已办结", report.closed],
        ["未办结", report.open],
        ["办结率", report.closed_rate],
        ["超时工单", report.overdue],
        ["紧急工单", report.urgent],
        ["一级投诉", report.level1],
        ["二级投诉", report.level2],
        *(_pair(f"回访{SATISFACTION_LABELS[s]}", n) for s, n in report.satisfaction),
        ["回访满意率", report.satisfaction_rate],
        ["不满意重办", report.reopened],
        ["即时办结（一次解决）", report.on_spot],
        ["一次解决率", report.first_contact_rate],
    ]
    _fill(ws, title, ["项目", "数值"], summary, [16, 28])
    for row in ws.iter_rows(min_row=3, max_col=2):
        if row[0].value in ("办结率", "回访满意率", "一次解决率"):
            row[1].number_format = _PERCENT
    _fill(
        wb.create_sheet("分类"),
        title,
        ["工单类别", "受理量", "已办结", "超时"],
        [[r.label, r.created, r.closed, r.overdue] for r in report.by_category],
        [16, 10, 10, 10],
    )
    _fill(
        wb.create_sheet("责任单位"),
        title,
        ["责任单位", "受理量", "已办结", "超时", "投诉"],
        [[r.label, r.created, r.closed, r.overdue, r.complaints] for r in report.by_unit],
        [24, 10, 10, 10, 10],
    )
    _fill(
        wb.create_sheet("热点"),
        title,
        ["排名", "热点问题", "工单数"],
        [[i, topic, n] for i, (topic, n) in enumerate(report.hot_topics, 1)],
        [8, 24, 10],
    )
    _fill(
        wb.create_sheet("投诉升级"),
        title,
        ["工单号", "投诉等级", "受理时间", "责任单位", "热点问题", "内容摘要", "状态", "超时"],
        [
            [
                t.id,
                LEVEL_LABELS[t.complaint_level] if t.complaint_level else "",
                t.created_at.astimezone(zone).strftime("%Y-%m-%d %H:%M"),
                t.unit or NO_UNIT,
                t.topic or "",
                t.summary,
                STATE_LABELS[t.state],
                "是" if t.overdue else "否",
            ]
            for t in report.escalated
        ],
        [10, 14, 18, 20, 16, 48, 10, 8],
    )
    _fill(
        wb.create_sheet("来源"),
        title,
        ["来源", "受理量", "已办结"],
        [[r.label, r.created, r.closed] for r in report.by_source],
        [20, 10, 10],
    )
    for sheet_name, who, lines in (
        ("考核（单位）", "责任单位", units),
        ("考核（人员）", "坐席", agents),
    ):
        ws2 = wb.create_sheet(sheet_name)
        _fill(ws2, title, [who, *ASSESS_HEADERS], [assess_cells(x) for x in lines], ASSESS_WIDTHS)
        for data_row in ws2.iter_rows(min_row=3):
            for cell in data_row[2:9]:
                cell.number_format = _PERCENT
    return sheets.to_bytes(wb)


ASSESS_HEADERS = [
    "工单量",
    "派发及时率",
    "联系及时率",
    "办结及时率",
    "一次解决率",
    "回访处理率",
    "满意率",
    "有效投诉率",
    "被有效投诉",
]
ASSESS_WIDTHS = [20, 8, 10, 10, 10, 10, 10, 8, 10, 10]


def assess_cells(x: AssessRow) -> list[Cell]:
    return [
        x.name or NO_UNIT,
        x.tickets,
        x.dispatch_on_time,
        x.contact_on_time,
        x.done_on_time,
        x.first_contact,
        x.followup_rate,
        x.satisfaction_rate,
        x.valid_complaint_rate,
        x.complaints_against,
    ]


def _pair(label: str, value: Cell) -> list[Cell]:
    return [label, value]


def _fill(
    sheet: Any, title: str, header: list[str], rows: list[list[Cell]], widths: list[int]
) -> None:
    """Title row (merged across the table), bold header row, data, widths; rows 1–2 frozen."""
    sheet.append([title])
    sheet.merge_cells(start_row=1, start_column=1, end_row=1, end_column=len(header))
    sheet["A1"].font = _TITLE
    sheet.append(header)
    for cell in sheet[2]:
        cell.font = _HEADER
        cell.fill = _HEADER_FILL
        cell.alignment = Alignment(horizontal="center")
    for row in rows:
        sheet.append(row)
    for i, width in enumerate(widths, 1):
        sheet.column_dimensions[get_column_letter(i)].width = width
    for data_row in sheet.iter_rows(min_row=3):
        for cell in data_row:
            cell.alignment = Alignment(vertical="top", wrap_text=True)
    sheet.freeze_panes = "A3"
