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
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from io import BytesIO
from pathlib import Path
from typing import IO, Any

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
_PERCENT = "0.0%"

Cell = str | int | float | datetime | None


def report_xlsx(
    report: TicketReport,
    units: Sequence[AssessRow] = (),
    agents: Sequence[AssessRow] = (),
    *,
    text: sheets.Text | None = None,
) -> bytes:
    """The report as XLSX bytes (see `write_xlsx`)."""
    out = BytesIO()
    write_xlsx(out, report, units, agents, text=text)
    return out.getvalue()


def write_xlsx(
    target: str | Path | IO[bytes],
    report: TicketReport,
    units: Sequence[AssessRow] = (),
    agents: Sequence[AssessRow] = (),
    *,
    text: sheets.Text | None = None,
) -> None:
    """The report as a workbook: 汇总, 分类, 责任单位, 热点, 投诉升级, 来源, and the 考核
    tables by unit and by agent; each sheet has the report's title in row 1 and Chinese
    headers in row 2, frozen. The aggregates are small: the sheets hold grouped rows, never
    a period's tickets. `text` changes every text cell (masking for a role)."""
    zone = report.period.zone
    wb = sheets.workbook()

    def fill(
        name: str,
        header: list[str],
        rows: Iterable[Sequence[Any]],
        widths: list[int],
        formats: dict[int, str] | None = None,
    ) -> None:
        sheets.add_sheet(
            wb,
            name,
            header,
            rows,
            caption=report_title(report.period),
            widths=widths,
            wrap=True,
            text=text,
            formats=formats,
        )

    made = report.generated_at.astimezone(zone).strftime("%Y-%m-%d %H:%M")
    summary: list[list[Any]] = [
        ["统计周期", report.period.span],
        ["生成时间", made],
        ["受理工单", report.created],
        ["已办结", report.closed],
        ["未办结", report.open],
        ["办结率", _share(report.closed_rate)],
        ["超时工单", report.overdue],
        ["紧急工单", report.urgent],
        ["一级投诉", report.level1],
        ["二级投诉", report.level2],
        *(_pair(f"回访{SATISFACTION_LABELS[s]}", n) for s, n in report.satisfaction),
        ["回访满意率", _share(report.satisfaction_rate)],
        ["不满意重办", report.reopened],
        ["即时办结（一次解决）", report.on_spot],
        ["一次解决率", _share(report.first_contact_rate)],
    ]
    fill("汇总", ["项目", "数值"], summary, [16, 28])
    fill(
        "分类",
        ["工单类别", "受理量", "已办结", "超时"],
        ([r.label, r.created, r.closed, r.overdue] for r in report.by_category),
        [16, 10, 10, 10],
    )
    fill(
        "责任单位",
        ["责任单位", "受理量", "已办结", "超时", "投诉"],
        ([r.label, r.created, r.closed, r.overdue, r.complaints] for r in report.by_unit),
        [24, 10, 10, 10, 10],
    )
    fill(
        "热点",
        ["排名", "热点问题", "工单数"],
        ([i, topic, n] for i, (topic, n) in enumerate(report.hot_topics, 1)),
        [8, 24, 10],
    )
    fill(
        "投诉升级",
        ["工单号", "投诉等级", "受理时间", "责任单位", "热点问题", "内容摘要", "状态", "超时"],
        (
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
        ),
        [10, 14, 18, 20, 16, 48, 10, 8],
    )
    fill(
        "来源",
        ["来源", "受理量", "已办结"],
        ([r.label, r.created, r.closed] for r in report.by_source),
        [20, 10, 10],
    )
    for sheet_name, who, lines in (
        ("考核（单位）", "责任单位", units),
        ("考核（人员）", "坐席", agents),
    ):
        rows = (assess_cells(x) for x in lines)
        fill(sheet_name, [who, *ASSESS_HEADERS], rows, ASSESS_WIDTHS, _ASSESS_FORMATS)
    sheets.save(wb, target)


def _share(v: float | None) -> sheets.Formatted:
    return sheets.Formatted(v, _PERCENT)


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
_ASSESS_FORMATS = dict.fromkeys(range(2, 9), _PERCENT)  # the rates


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
