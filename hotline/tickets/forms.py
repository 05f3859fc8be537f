"""The 投诉转接单 (complaint transfer slip) handed to the responsible unit, as PDF and XLSX.

Rule: one slip is one ticket's transfer to one unit, and both renderings show the same
labels and the same values; dates are the hotline's local time. The PDF uses reportlab's
built-in CID font STSong-Light, so no font file is needed to print Chinese.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from io import BytesIO
from typing import Any
from zoneinfo import ZoneInfo

from openpyxl import Workbook
from openpyxl.styles import Alignment, Border, Font, Side
from reportlab.lib import colors
from reportlab.lib.enums import TA_CENTER
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.cidfonts import UnicodeCIDFont
from reportlab.platypus import LayoutError, Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle
from reportlab.platypus.flowables import Flowable

from hotline.core import sheets
from hotline.core.errors import InvalidInput
from hotline.tickets.model import LEVEL_LABELS, ComplaintLevel, FieldKind, Ticket

FONT = "STSong-Light"
TITLE = "投诉转接单"
SIGNATURES = (
    "受理人（签字）：＿＿＿＿＿＿　　日期：　　年　　月　　日",
    "责任单位负责人（签字）：＿＿＿＿＿＿　　日期：　　年　　月　　日",
)


@dataclass(frozen=True, slots=True)
class TransferSlip:
    number: str  # 工单编号
    unit: str  # 责任单位
    date: date  # 转接日期, local
    complainant: str  # 投诉人
    contact: str  # 联系方式
    content: str  # 投诉内容
    handling: str  # 处理情况
    result: str  # 处理结果
    level: ComplaintLevel | None  # 投诉等级
    deadline: datetime | None  # 办理时限, local
    agent: str  # 受理人

    @classmethod
    def from_ticket(
        cls,
        ticket: Ticket,
        *,
        complainant: str = "",
        handling: str = "",
        result: str = "",
        tz: str = "Asia/Shanghai",
        number: str | None = None,
        transferred_at: datetime | None = None,
        agent: str | None = None,
    ) -> TransferSlip:
        """The slip for `ticket`: transferred at `transferred_at` (its first dispatch to its
        unit, from the history: a reopen dispatches again), else when it was last dispatched
        (else created); due when the unit must finish; the contact is the caller's number plus
        any number the customer gave on the call; the content is the summary with the address
        said; the 受理人 is `agent` (e.g. their 工号) or the ticket's agent as the switch names
        them."""
        if not ticket.unit:
            raise InvalidInput(
                f"工单 {ticket.id} 未指定责任单位 (the ticket has no responsible unit); "
                "set its unit before printing the transfer slip"
            )
        zone = ZoneInfo(tz)
        phones = [ticket.caller_number] if ticket.caller_number else []
        phones += [f.value for f in ticket.fields if f.kind is FieldKind.PHONE]
        content = ticket.summary
        for address in (f.value for f in ticket.fields if f.kind is FieldKind.ADDRESS):
            if address not in content:
                content += f"（地址：{address}）"
        due = ticket.deadlines.done_by
        return cls(
            number=number or str(ticket.id),
            unit=ticket.unit,
            date=(transferred_at or ticket.dispatched_at or ticket.created_at)
            .astimezone(zone)
            .date(),
            complainant=complainant,
            contact="、".join(dict.fromkeys(phones)),
            content=content,
            handling=handling,
            result=result,
            level=ticket.complaint_level,
            deadline=due.astimezone(zone) if due else None,
            agent=agent or ticket.agent or "",
        )

    def rows(self) -> tuple[tuple[str, str], ...]:
        """Every label with its printed value, in form order."""
        return (
            ("工单编号", self.number),
            ("转接日期", f"{self.date.year}年{self.date.month}月{self.date.day}日"),
            ("责任单位", self.unit),
            ("投诉人", self.complainant),
            ("联系方式", self.contact),
            ("投诉等级", LEVEL_LABELS[self.level] if self.level else ""),
            ("办理时限", _deadline(self.deadline)),
            ("投诉内容", self.content),
            ("处理情况", self.handling),
            ("处理结果", self.result),
            ("受理人", self.agent),
        )


def _deadline(due: datetime | None) -> str:
    if due is None:
        return ""
    return f"{due.year}年{due.month}月{due.day}日 {due:%H:%M} 前"


# The form's lines: two labels share a line (label, value, label, value); one label spans
# the whole width. The three free-text rows are tall so they can be written in by hand.
_TALL = {"投诉内容": 45 * mm, "处理情况": 35 * mm, "处理结果": 25 * mm}
_LAYOUT: tuple[tuple[str, ...], ...] = (
    ("工单编号", "转接日期"),
    ("责任单位",),
    ("投诉人", "联系方式"),
    ("投诉等级", "办理时限"),
    ("投诉内容",),
    ("处理情况",),
    ("处理结果",),
    ("受理人", "责任单位签收"),
)


def _font() -> str:
    if FONT not in pdfmetrics.getRegisteredFontNames():
        pdfmetrics.registerFont(UnicodeCIDFont(FONT))
    return FONT


def slip_pdf(slip: TransferSlip, *, organisation: str = "客服中心") -> bytes:
    """An A4 page: the organisation and 「投诉转接单」, a bordered table of the rows (long text
    wraps inside its cell), then the signature and date lines."""
    font = _font()
    body = ParagraphStyle("body", fontName=font, fontSize=11, leading=16, wordWrap="CJK")
    label = ParagraphStyle("label", parent=body, alignment=TA_CENTER)
    heading = ParagraphStyle("org", parent=label, fontSize=14, leading=20)
    title = ParagraphStyle("title", parent=label, fontSize=22, leading=30)
    small = ParagraphStyle("no", parent=body, fontSize=10, alignment=2)
    values = dict(slip.rows())
    values["责任单位签收"] = ""
    widths = [28 * mm, 57 * mm, 28 * mm, 57 * mm]
    wide = sum(widths[1:])

    def text(value: str) -> Paragraph:
        return Paragraph(_escape(value), body)

    data: list[list[Flowable | list[Flowable] | str]] = []
    heights: list[float | None] = []
    spans: list[tuple[str, tuple[int, int], tuple[int, int]]] = []
    for line in _LAYOUT:
        row = len(data)
        if len(line) == 1:
            name = line[0]
            para = text(values[name])
            short = _TALL.get(name, 0.0) - 12 - para.wrap(wide - 12, 10_000)[1]
            cell = [para, Spacer(0, short)] if short > 0 else [para]  # a minimum height
            data.append([Paragraph(name, label), cell, "", ""])
            spans.append(("SPAN", (1, row), (3, row)))
            heights.append(None)
        else:
            left, right = line
            data.append(
                [
                    Paragraph(left, label),
                    text(values[left]),
                    Paragraph(right, label),
                    text(values[right]),
                ]
            )
            heights.append(12 * mm if right == "责任单位签收" else None)
    table = Table(data, colWidths=widths, rowHeights=heights, splitInRow=1)
    table.setStyle(
        TableStyle(
            [
                ("GRID", (0, 0), (-1, -1), 0.8, colors.black),
                ("BOX", (0, 0), (-1, -1), 1.6, colors.black),
                ("VALIGN", (0, 0), (-1, -1), "MIDDLE"),
                ("VALIGN", (1, 4), (-1, 6), "TOP"),
                ("TOPPADDING", (0, 0), (-1, -1), 6),
                ("BOTTOMPADDING", (0, 0), (-1, -1), 6),
                *spans,
            ]
        )
    )
    story: list[Flowable] = [
        Paragraph(_escape(organisation), heading),
        Paragraph(TITLE, title),
        Spacer(0, 2 * mm),
        Paragraph(f"编号：{_escape(slip.number)}", small),
        Spacer(0, 2 * mm),
        table,
        Spacer(0, 10 * mm),
    ]
    for signature in SIGNATURES:
        story += [Paragraph(signature, body), Spacer(0, 6 * mm)]
    out = BytesIO()
    doc = SimpleDocTemplate(
        out,
        pagesize=A4,
        leftMargin=20 * mm,
        rightMargin=20 * mm,
        topMargin=18 * mm,
        bottomMargin=18 * mm,
        title=TITLE,
        author=organisation,
    )
    try:
        doc.build(story)
    except LayoutError as exc:
        raise InvalidInput(
            f"工单 {slip.number} 的投诉内容或处理情况过长，无法排版为转接单 (a text is too long "
            "to lay out on the printed slip: a cell may not run beyond the next page); "
            "shorten the ticket's summary or the handling notes, or export the slip as XLSX"
        ) from exc
    return out.getvalue()


def _escape(value: str) -> str:
    """Paragraph reads a little markup: keep the customer's words literal, keep line breaks."""
    escaped = value.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return escaped.replace("\n", "<br/>")


_THIN = Side(style="thin")
_THICK = Side(style="medium")
_GRID = Border(left=_THIN, right=_THIN, top=_THIN, bottom=_THIN)
_CHARS_PER_LINE = 34  # what fits in the wide value (columns B–D) at 11 pt


def slip_xlsx(slip: TransferSlip, *, organisation: str = "客服中心") -> bytes:
    """The same form in cells A–D: merged title rows, bordered label/value cells that wrap,
    signature lines; printable on one A4 page."""
    wb = Workbook()
    ws: Any = wb.active
    ws.title = TITLE
    for column, width in zip("ABCD", (14, 30, 14, 30), strict=True):
        ws.column_dimensions[column].width = width
    ws.merge_cells("A1:D1")
    ws["A1"] = organisation
    ws["A1"].font = Font(size=14, bold=True)
    ws.merge_cells("A2:D2")
    ws["A2"] = TITLE
    ws["A2"].font = Font(size=20, bold=True)
    ws.row_dimensions[2].height = 32
    for cell in (ws["A1"], ws["A2"]):
        cell.alignment = Alignment(horizontal="center", vertical="center")
    values = dict(slip.rows())
    values["责任单位签收"] = ""
    first = 4
    row = first
    for line in _LAYOUT:
        if len(line) == 1:
            name = line[0]
            ws.merge_cells(start_row=row, start_column=2, end_row=row, end_column=4)
            _put(ws, row, 1, name, label=True)
            _put(ws, row, 2, values[name])
            lines = sum(
                max(1, -(-len(part) // _CHARS_PER_LINE)) for part in values[name].split("\n")
            )
            minimum = {"投诉内容": 120, "处理情况": 90, "处理结果": 60}.get(name, 24)
            ws.row_dimensions[row].height = max(minimum, 16 * lines + 8)
        else:
            left, right = line
            _put(ws, row, 1, left, label=True)
            _put(ws, row, 2, values[left])
            _put(ws, row, 3, right, label=True)
            _put(ws, row, 4, values[right])
            ws.row_dimensions[row].height = 36 if right == "责任单位签收" else 24
        row += 1
    for col in range(1, 5):
        for r in range(first, row):
            cell = ws.cell(r, col)
            cell.border = Border(
                left=_THICK if col == 1 else _THIN,
                right=_THICK if col == 4 else _THIN,
                top=_THICK if r == first else _THIN,
                bottom=_THICK if r == row - 1 else _THIN,
            )
    ws.cell(first - 1, 4, f"编号：{slip.number}").alignment = Alignment(horizontal="right")
    for offset, signature in enumerate(SIGNATURES):
        at = row + 1 + offset * 2
        ws.merge_cells(start_row=at, start_column=1, end_row=at, end_column=4)
        ws.cell(at, 1, signature)
    ws.print_area = f"A1:D{row + 2 * len(SIGNATURES) - 1}"
    ws.page_setup.paperSize = ws.PAPERSIZE_A4
    ws.page_setup.orientation = "portrait"
    ws.page_setup.fitToWidth = 1
    ws.page_setup.fitToHeight = 1
    ws.sheet_properties.pageSetUpPr.fitToPage = True
    ws.print_options.horizontalCentered = True
    return sheets.to_bytes(wb)


def _put(ws: Any, row: int, column: int, value: str, *, label: bool = False) -> None:
    cell = ws.cell(row, column, value)
    cell.alignment = Alignment(
        horizontal="center" if label else "left",
        vertical="center" if label else "top",
        wrap_text=True,
    )
    if label:
        cell.font = Font(bold=True)
