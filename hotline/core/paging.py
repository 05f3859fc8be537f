"""Keyset pagination and capped totals. Rule: a page is found by where the previous one ended
(the sort key of its last row, in an opaque cursor), never by counting the rows before it,
and a total is counted only up to a cap, so a list costs the same at any depth and size.

A cursor is the last row's (time, id) in URL-safe base64; a cursor that does not decode is
the caller's mistake (InvalidInput), named in Chinese with what to do.
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Generic, TypeVar

from sqlalchemy import Select, bindparam, func, literal, select, tuple_
from sqlalchemy.ext.asyncio import AsyncSession

from hotline.core.errors import InvalidInput

T = TypeVar("T")
COUNT_CAP = 10_000  # rows counted past the page's start before the total says "at least"


@dataclass(frozen=True, slots=True)
class Cursor:
    at: datetime
    key: str  # the row's id, as text

    def encode(self) -> str:
        raw = f"{self.at.isoformat()}|{self.key}".encode()
        return base64.urlsafe_b64encode(raw).decode().rstrip("=")

    @classmethod
    def decode(cls, text: str) -> Cursor:
        try:
            raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)).decode()
            at, key = raw.split("|", 1)
            when = datetime.fromisoformat(at)
            if when.tzinfo is None:
                raise ValueError("no zone")
            return cls(when, key)
        except (ValueError, binascii.Error, UnicodeDecodeError) as exc:
            raise InvalidInput(
                "翻页游标无效 (the cursor is not one this list handed out: pass the"
                " next_cursor of the previous page unchanged, or leave it out for the first page)",
                error_id="bad_cursor",
            ) from exc


@dataclass(frozen=True, slots=True)
class Page(Generic[T]):
    items: list[T]
    total: int  # exact, unless total_capped (then: at least this many)
    total_capped: bool
    next_cursor: str | None  # None on the last page

    @property
    def has_more(self) -> bool:
        return self.next_cursor is not None


def cursor_key(cursor: str, key_type: type = str) -> tuple[datetime, Any]:
    """The (time, row id) a cursor names, the id as `key_type`."""
    c = Cursor.decode(cursor)
    try:
        return c.at, key_type(c.key)
    except ValueError as exc:
        raise InvalidInput(
            "翻页游标无效 (the cursor's row key is not valid: pass next_cursor unchanged)",
            error_id="bad_cursor",
        ) from exc


def after(time_col: Any, key_col: Any, cursor: str | None, key_type: type = str) -> list[Any]:
    """The WHERE clause for rows after `cursor` in (time DESC, key DESC) order."""
    if not cursor:
        return []
    at, key = cursor_key(cursor, key_type)
    # typed literals: the time is bound as the column stores it (SQLite: naive UTC text)
    bound = tuple_(literal(at, time_col.type), literal(key, key_col.type))
    return [tuple_(time_col, key_col) < bound]


async def capped_count(session: AsyncSession, rows: Select[Any], cap: int) -> tuple[int, bool]:
    """How many rows `rows` selects, counting at most `cap` + 1 of them."""
    limited = rows.limit(cap + 1).subquery()
    n = int(await session.scalar(select(func.count()).select_from(limited)) or 0)
    return min(n, cap), n > cap


def window(keys: Any, offset: int, limit: int) -> Any:
    """A deferred join's first half: `keys` selects (at, key) of the matching rows in
    (at DESC, key DESC) order from an index alone; the page is its rows [offset,
    offset + limit), a subquery to join the few wide rows to. The numbers are written into
    the SQL, so the planner knows the page is small and joins it row by row."""
    start: Any = bindparam("start", offset, literal_execute=True)
    size: Any = bindparam("size", limit, literal_execute=True)
    return keys.offset(start).limit(size).subquery("page")


async def total_from(
    session: AsyncSession, keys: Any, first: tuple[Any, Any] | None, offset: int
) -> tuple[int, bool]:
    """The total as `capped_count` of `keys` up to offset + COUNT_CAP tells it, without
    walking the offset again: the rows from the page's `first` (at, key) on, counted up to
    the cap, plus the offset. Past the end (no first row) the rows before are counted."""
    if first is None:
        return await capped_count(session, keys.order_by(None), offset + COUNT_CAP)
    at, key = keys.selected_columns[0], keys.selected_columns[1]
    bound = tuple_(literal(first[0], at.type), literal(first[1], key.type))
    n, capped = await capped_count(session, keys.where(tuple_(at, key) <= bound), COUNT_CAP)
    return offset + n, capped
