"""Report sheets for Excel (XLSX). Rule: every workbook Hotline hands out is written by
`to_bytes`, which escapes every text cell that a spreadsheet would run as a formula; and
every report's sheet looks the same: a bold header row, frozen, columns as wide as their
widest cell (Chinese characters count double).

A ticket summary, a caller's name or number that starts with =, +, -, @, a tab or a
carriage return (`=HYPERLINK(...)`, `@SUM(...)`) gets a leading apostrophe, the usual
escape: the cell is shown as the text it is and never evaluated.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Callable, Iterable, Sequence
from io import BytesIO
from typing import Any

from openpyxl import Workbook, load_workbook
from openpyxl.styles import Alignment, Font, PatternFill

HEADER_FONT = Font(bold=True, color="FFFFFF")
HEADER_FILL = PatternFill("solid", fgColor="305496")


FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def escape(value: Any) -> Any:
    """`value` as a cell may hold it: text that would start a formula gets a leading
    apostrophe; everything else (numbers, dates, plain text) is unchanged."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def to_bytes(wb: Workbook) -> bytes:
    """The workbook as XLSX bytes, every text cell of every sheet escaped first."""
    for ws in wb.worksheets:
        for row in ws.iter_rows():
            for cell in row:
                if isinstance(cell.value, str) and cell.value.startswith(FORMULA_STARTS):
                    cell.value = escape(cell.value)
                    cell.data_type = "s"
    out = BytesIO()
    wb.save(out)
    return out.getvalue()


def map_text(body: bytes, change: Callable[[str], str]) -> bytes:
    """A workbook (XLSX bytes) with `change` applied to every text cell (e.g. masking the
    personal data in an export for a role that may not see it)."""
    wb = load_workbook(BytesIO(body))
    for ws in wb.worksheets:
        for row in ws.iter_rows():
            for cell in row:
                if isinstance(cell.value, str):
                    cell.value = change(cell.value)
    return to_bytes(wb)


def width(value: Any) -> int:
    """Display width of a cell's text: East Asian wide characters take two columns."""
    text = "" if value is None else str(value)
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


def add_sheet(
    wb: Workbook, title: str, header: Sequence[str], rows: Iterable[Sequence[Any]]
) -> None:
    ws = wb.create_sheet(title)
    ws.append(list(header))
    for cell in ws[1]:
        cell.font = HEADER_FONT
        cell.fill = HEADER_FILL
        cell.alignment = Alignment(horizontal="center", vertical="center")
    widths = [width(h) for h in header]
    for row in rows:
        ws.append(list(row))
        widths = [max(w, width(v)) for w, v in zip(widths, row, strict=False)]
    ws.freeze_panes = "A2"
    for i, w in enumerate(widths, start=1):
        ws.column_dimensions[ws.cell(row=1, column=i).column_letter].width = min(60, w + 4)
