"""An agent prints the 投诉转接单 for the unit that must fix a customer's complaint."""

from __future__ import annotations

import base64
import re
import zlib
from dataclasses import replace
from datetime import UTC, date, datetime
from io import BytesIO

import pytest
from openpyxl import load_workbook
from reportlab.lib.units import mm
from reportlab.pdfbase.pdfmetrics import stringWidth

from hotline.core.errors import InvalidInput
from hotline.tickets.forms import TransferSlip, slip_pdf, slip_xlsx
from hotline.tickets.model import (
    Category,
    ComplaintLevel,
    Deadlines,
    Evidence,
    Field,
    FieldKind,
    State,
    Ticket,
)

LABELS = (
    "投诉转接单",
    "责任单位",
    "转接日期",
    "投诉人",
    "联系方式",
    "投诉内容",
    "处理情况",
    "处理结果",
    "投诉等级",
    "办理时限",
    "受理人",
)
CONTENT = (
    "幸福小区3号楼自11月23日起停气三天，燃气公司未提前张贴通知，家中老人无法做饭取暖。"
    "客户多次拨打营业所电话无人接听，要求立即恢复供气、说明停气原因并公开道歉，"
    "今后停气须至少提前24小时在单元门口张贴通知。"
)


def outage_complaint() -> Ticket:
    return Ticket(
        id=1207,
        call_id="1790001207.1",
        recording_id=88,
        caller_number="13800138000",
        agent="8001 王芳",
        state=State.DISPATCHED,
        category=Category.COMPLAINT,
        urgent=False,
        complaint_level=ComplaintLevel.GENERAL,
        unit="城南营业所",
        summary=CONTENT,
        fields=(
            Field(FieldKind.PHONE, "02887654321", Evidence("我家座机是028-87654321")),
            Field(FieldKind.PHONE, "13800138000", Evidence("就打这个手机")),
            Field(FieldKind.ADDRESS, "幸福小区3号楼2单元501", Evidence("幸福小区3号楼2单元501")),
        ),
        topic="燃气停供",
        # 23:40 on the 25th in Shanghai; dispatched 00:05 on the 26th.
        created_at=datetime(2026, 11, 25, 15, 40, tzinfo=UTC),
        dispatched_at=datetime(2026, 11, 25, 16, 5, tzinfo=UTC),
        deadlines=Deadlines(done_by=datetime(2026, 11, 26, 15, 40, tzinfo=UTC)),
    )


def the_slip() -> TransferSlip:
    return TransferSlip.from_ticket(
        outage_complaint(),
        complainant="李女士",
        handling="已派城南营业所核查，营业所回复：管网抢修导致停气，26日18时前恢复供气。",
        result="26日17时恢复供气，营业所上门致歉，客户表示接受。",
    )


def test_the_slip_carries_the_ticket_in_local_time() -> None:
    slip = the_slip()

    assert slip.number == "1207"
    assert slip.unit == "城南营业所"
    assert slip.date == date(2026, 11, 26)  # dispatched after midnight in Shanghai
    assert slip.contact == "13800138000、02887654321"
    assert slip.content.startswith("幸福小区3号楼自11月23日起停气三天")
    assert slip.content.endswith("（地址：幸福小区3号楼2单元501）")
    assert slip.level is ComplaintLevel.GENERAL
    assert dict(slip.rows())["办理时限"] == "2026年11月26日 23:40 前"
    assert dict(slip.rows())["转接日期"] == "2026年11月26日"
    assert slip.agent == "8001 王芳"


def test_a_ticket_without_a_unit_cannot_be_transferred() -> None:
    with pytest.raises(InvalidInput) as caught:
        TransferSlip.from_ticket(replace(outage_complaint(), unit=None))
    assert "责任单位" in caught.value.message


def pdf_streams(pdf: bytes) -> list[bytes]:
    """Every stream of the file, decoded through its filters (reportlab writes ASCII85 and
    Flate)."""
    out = []
    for match in re.finditer(rb">>\s*stream\r?\n", pdf):
        head = pdf[pdf.rfind(b" obj", 0, match.start()) : match.start()]  # the stream's dict
        length = re.search(rb"/Length (\d+)", head)
        assert length, head
        data = pdf[match.end() : match.end() + int(length[1])]
        if b"/ASCII85Decode" in head:
            data = base64.a85decode(data.strip().removeprefix(b"<~").removesuffix(b"~>"))
        if b"/FlateDecode" in head:
            data = zlib.decompress(data)
        out.append(data)
    return out


def _literal(raw: bytes) -> bytes:
    """A PDF literal string's bytes: backslash escapes and octal codes undone."""
    out = bytearray()
    i = 0
    while i < len(raw):
        c = raw[i]
        if c != 0x5C:
            out.append(c)
            i += 1
            continue
        nxt = raw[i + 1 : i + 2]
        if nxt.isdigit():
            digits = re.match(rb"[0-7]{1,3}", raw[i + 1 : i + 4])
            assert digits
            out.append(int(digits.group(), 8))
            i += 1 + len(digits.group())
        else:
            out += {b"n": b"\n", b"r": b"\r", b"t": b"\t", b"b": b"\b", b"f": b"\f"}.get(nxt, nxt)
            i += 2
    return bytes(out)


def pdf_text(pdf: bytes) -> str:
    """The text drawn with the CID font: STSong-Light with UniGB-UCS2-H takes UTF-16BE
    codes, so every shown string decodes as UTF-16BE; the lines are joined as drawn."""
    shown = []
    for stream in pdf_streams(pdf):
        for match in re.finditer(rb"\(((?:\\.|[^\\)])*)\)\s*Tj", stream, re.S):
            shown.append(_literal(match.group(1)).decode("utf-16-be"))
    return "".join(shown)


def test_the_pdf_is_one_a4_page_with_every_label_and_the_whole_complaint() -> None:
    pdf = slip_pdf(the_slip(), organisation="蓉城燃气集团客服中心")

    assert pdf.startswith(b"%PDF-")
    assert len(re.findall(rb"/Type /Page\b", pdf)) == 1
    box = re.search(rb"/MediaBox \[\s*0 0 ([\d.]+) ([\d.]+)\s*\]", pdf)
    assert box and (round(float(box[1])), round(float(box[2]))) == (595, 842)  # A4 in points
    assert b"/BaseFont /STSong-Light" in pdf
    assert b"/Encoding /UniGB-UCS2-H" in pdf

    text = pdf_text(pdf)
    for label in LABELS:
        assert label in text
    assert "蓉城燃气集团客服中心" in text
    assert "编号：1207" in text
    assert "城南营业所" in text
    assert "李女士" in text
    assert "13800138000、02887654321" in text
    assert "二级（一般）" in text
    assert "2026年11月26日 23:40 前" in text
    assert "26日17时恢复供气" in text
    assert "（签字）" in text
    # The long complaint wraps over several lines of its cell but loses nothing.
    assert CONTENT in text


def test_a_long_complaint_wraps_inside_its_cell() -> None:
    pdf = slip_pdf(the_slip())
    lines = [
        _literal(m.group(1)).decode("utf-16-be")
        for stream in pdf_streams(pdf)
        for m in re.finditer(rb"\(((?:\\.|[^\\)])*)\)\s*Tj", stream, re.S)
    ]
    content_lines = [line for line in lines if line and line in the_slip().content]
    assert "".join(content_lines) == the_slip().content
    assert len(content_lines) >= 3
    cell = (57 + 28 + 57) * mm - 12  # the value's three merged columns less padding
    assert all(stringWidth(line, "STSong-Light", 11) <= cell for line in content_lines)


def test_markup_in_the_customers_words_is_printed_as_said() -> None:
    slip = the_slip()
    pdf = slip_pdf(replace(slip, content="说<b>三遍</b> & 没人管"))
    assert "说<b>三遍</b> & 没人管" in pdf_text(pdf)


def test_the_workbook_lays_out_the_same_form() -> None:
    slip = the_slip()
    wb = load_workbook(BytesIO(slip_xlsx(slip, organisation="蓉城燃气集团客服中心")))
    ws = wb.active

    values = [c for row in ws.iter_rows(values_only=True) for c in row if c is not None]
    for label in LABELS:
        assert label in values
    for label, value in slip.rows():
        assert label in values
        assert value in values, label
    assert "蓉城燃气集团客服中心" in values

    by_label = {
        row[0].value: row[1]
        for row in ws.iter_rows(min_col=1, max_col=2)
        if isinstance(row[0].value, str)
    }
    content = by_label["投诉内容"]
    assert content.value == slip.content
    assert content.alignment.wrap_text
    assert content.border.left.style == "thin"
    assert f"B{content.row}:D{content.row}" in {str(r) for r in ws.merged_cells.ranges}
    assert ws.row_dimensions[content.row].height >= 120

    assert ws.page_setup.paperSize == int(ws.PAPERSIZE_A4)  # 9
    assert ws.print_area == f"'{ws.title}'!$A$1:$D${ws.max_row}"


def test_a_complaint_longer_than_a_page_continues_on_the_next() -> None:
    story = "营业所多次推诿，" * 150  # 1,200 characters
    pdf = slip_pdf(replace(the_slip(), content=story))

    assert len(re.findall(rb"/Type /Page\b", pdf)) >= 2
    assert story in pdf_text(pdf)


def test_a_text_too_long_to_print_is_refused_with_what_to_do() -> None:
    with pytest.raises(InvalidInput) as caught:
        slip_pdf(replace(the_slip(), content="停气" * 4000))
    assert "过长" in caught.value.message
    assert "XLSX" in caught.value.message
