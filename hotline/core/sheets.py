"""Report sheets for Excel (XLSX). Rule: every workbook Hotline hands out is written here,
in openpyxl's write-only (streaming) mode, each sheet's rows taken from an iterator one at a
time, so a sheet of any length costs the memory of one row; and every text cell that a
spreadsheet would run as a formula is escaped on its way in. Every report's sheet looks the
same: an optional title row, a bold header row, frozen, columns as wide as their widest cell
among the first `SAMPLE_ROWS` rows (Chinese characters count double) unless given.

A ticket summary, a caller's name or number that starts with =, +, -, @, a tab or a
carriage return (`=HYPERLINK(...)`, `@SUM(...)`) gets a leading apostrophe, the usual
escape: the cell is shown as the text it is and never evaluated.
"""

from __future__ import annotations

import itertools
import unicodedata
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from io import BytesIO
from pathlib import Path
from typing import IO, Any

from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.styles.cell_style import StyleArray
from openpyxl.utils import get_column_letter

HEADER_FONT = Font(bold=True, color="FFFFFF")
HEADER_FILL = PatternFill("solid", fgColor="305496")
TITLE_FONT = Font(size=14, bold=True)
CENTER = Alignment(horizontal="center", vertical="center")
WRAP = Alignment(vertical="top", wrap_text=True)
SAMPLE_ROWS = 1000  # column widths are measured on this many rows, then rows stream
MAX_WIDTH = 60

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")

Text = Callable[[str], str]
"""A change applied to every text cell (e.g. masking personal data for a role)."""


@dataclass(frozen=True, slots=True)
class Formatted:
    """A cell value with its number format (e.g. a share shown as "0.0%")."""

    value: Any
    number_format: str


def escape(value: Any) -> Any:
    """`value` as a cell may hold it: text that would start a formula gets a leading
    apostrophe; everything else (numbers, dates, plain text) is unchanged."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def workbook() -> Workbook:
    """An empty streaming workbook: add sheets with `add_sheet`, then `to_bytes` or `save`."""
    return Workbook(write_only=True)


def to_bytes(wb: Workbook) -> bytes:
    """The workbook as XLSX bytes. A workbook built in place (a one-page form) has every
    text cell escaped first; a streaming one was escaped as its rows went in."""
    out = BytesIO()
    save(wb, out)
    return out.getvalue()


def save(wb: Workbook, target: str | Path | IO[bytes]) -> None:
    """Write the workbook to a file or stream (a report job's file: never all in memory)."""
    if not wb.write_only:
        for ws in wb.worksheets:
            for row in ws.iter_rows():
                for cell in row:
                    if isinstance(cell.value, str) and cell.value.startswith(FORMULA_STARTS):
                        cell.value = escape(cell.value)
                        cell.data_type = "s"
    wb.save(target)


def width(value: Any) -> int:
    """Display width of a cell's text: East Asian wide characters take two columns."""
    text = "" if value is None else str(value)
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


def add_sheet(
    wb: Workbook,
    title: str,
    header: Sequence[str],
    rows: Iterable[Sequence[Any]],
    *,
    caption: str | None = None,
    widths: Sequence[int] | None = None,
    formats: Mapping[int, str] | None = None,
    wrap: bool = False,
    text: Text | None = None,
) -> int:
    """Stream `rows` into a new sheet under `header` (and a `caption` title row merged
    across it); `formats`: number format by 0-based column; `text` changes every text cell
    before it is escaped. Returns the number of data rows written."""
    ws = wb.create_sheet(title)
    rows = iter(rows)
    if widths is None:
        sample = list(itertools.islice(rows, SAMPLE_ROWS))
        measured = [width(h) for h in header]
        for row in sample:
            measured = [max(w, width(_plain(v))) for w, v in zip(measured, row, strict=False)]
        widths = [min(MAX_WIDTH, w + 4) for w in measured]
        rows = itertools.chain(sample, rows)
    for i, w in enumerate(widths, start=1):
        ws.column_dimensions[get_column_letter(i)].width = w
    ws.freeze_panes = "A3" if caption is not None else "A2"  # before the first row
    if caption is not None:
        ws.append([_styled(ws, caption, text, font=TITLE_FONT)])
        ws.merged_cells.add(f"A1:{get_column_letter(max(1, len(header)))}1")
    ws.append(
        [_styled(ws, h, text, font=HEADER_FONT, fill=HEADER_FILL, align=CENTER) for h in header]
    )
    fmt = formats or {}
    n = 0
    for row in rows:
        ws.append(
            [
                _styled(ws, v, text, number_format=fmt.get(i), align=WRAP if wrap else None)
                for i, v in enumerate(row)
            ]
        )
        n += 1
    return n


def _plain(value: Any) -> Any:
    return value.value if isinstance(value, Formatted) else value


def _styled(
    ws: Any,
    value: Any,
    text: Text | None,
    *,
    font: Font | None = None,
    fill: PatternFill | None = None,
    align: Alignment | None = None,
    number_format: str | None = None,
) -> Any:
    if isinstance(value, Formatted):
        value, number_format = value.value, value.number_format
    if isinstance(value, str):
        value = escape(text(value) if text else value)
    if font is None and fill is None and align is None and number_format is None:
        return value
    cell = WriteOnlyCell(ws, value=value)
    if isinstance(value, str):
        cell.data_type = "s"
    cell._style = StyleArray(_style_of(ws, font, fill, align, number_format))
    return cell


def _style_of(
    ws: Any,
    font: Font | None,
    fill: PatternFill | None,
    align: Alignment | None,
    number_format: str | None,
) -> StyleArray:
    """The workbook's style array of this look, made once per workbook: setting styles on
    each cell of a long sheet hashes the style objects every time, the slow part of it."""
    known: dict[tuple[Any, ...], tuple[StyleArray, Any]] = ws.parent.__dict__.setdefault(
        "_looks", {}
    )
    key = (id(font), id(fill), id(align), number_format)  # hashing them is what is slow
    if key not in known:
        proto = WriteOnlyCell(ws)
        if font is not None:
            proto.font = font
        if fill is not None:
            proto.fill = fill
        if align is not None:
            proto.alignment = align
        if number_format is not None:
            proto.number_format = number_format
        known[key] = (proto._style, (font, fill, align))  # alive: their ids stay theirs
    return known[key][0]
