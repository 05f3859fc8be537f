"""How long a step may take, as the regulations write it. Rule: a span is wall-clock
minutes or hours (`20min`, `24h`), working days by the official calendar (`3wd`), or hours
counted only inside business hours on working days (`4bh`); `due` is the one place a span
becomes a time.

Pure: aware datetimes in and out (UTC out).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from enum import StrEnum
from zoneinfo import ZoneInfo

from hotline.tickets.calendar import WorkCalendar


class Unit(StrEnum):
    MINUTES = "min"
    HOURS = "h"
    WORKDAYS = "wd"
    BUSINESS_HOURS = "bh"  # hours inside business hours on working days


UNIT_LABELS: dict[Unit, str] = {
    Unit.MINUTES: "分钟",
    Unit.HOURS: "小时",
    Unit.WORKDAYS: "个工作日",
    Unit.BUSINESS_HOURS: "个工作小时",
}

SPAN_HELP = (
    "写成 数字+单位：20min（分钟）、24h（小时）、3wd（工作日，按国家节假日安排）、"
    "4bh（只计工作时间内的小时） (write a number and a unit: 20min, 24h, 3wd, 4bh)"
)
_SPAN = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(min|h|wd|bh)\s*$")


@dataclass(frozen=True, slots=True)
class BusinessHours:
    """The working hours of a working day, local time (e.g. 08:30–17:30)."""

    start: time = time(8, 30)
    end: time = time(17, 30)


@dataclass(frozen=True, slots=True)
class Span:
    amount: float
    unit: Unit

    @classmethod
    def parse(cls, text: str) -> Span | None:
        """`24h` -> Span(24, h); None when `text` is not a span (the caller says where)."""
        m = _SPAN.match(str(text))
        if m is None:
            return None
        amount, unit = float(m.group(1)), Unit(m.group(2))
        if unit is Unit.WORKDAYS and amount != int(amount):
            return None
        return cls(amount, unit)

    def __str__(self) -> str:
        return f"{self.amount:g}{self.unit.value}"

    @property
    def label(self) -> str:
        """「3个工作日」, 「24小时」: what the 转接单 prints."""
        return f"{self.amount:g}{UNIT_LABELS[self.unit]}"


def due(
    span: Span,
    start: datetime,
    calendar: WorkCalendar,
    tz: ZoneInfo,
    hours: BusinessHours = BusinessHours(),
) -> datetime:
    """When a step that started at `start` and may take `span` is due (UTC). Raises
    CalendarUnknown when a working-day span runs into a year the calendar does not know."""
    if span.unit is Unit.MINUTES:
        return (start + timedelta(minutes=span.amount)).astimezone(UTC)
    if span.unit is Unit.HOURS:
        return (start + timedelta(hours=span.amount)).astimezone(UTC)
    if span.unit is Unit.WORKDAYS:
        return calendar.add_workdays(start, int(span.amount), tz).astimezone(UTC)
    return add_business_hours(start, span.amount, calendar, tz, hours)


def add_business_hours(
    start: datetime, amount_h: float, calendar: WorkCalendar, tz: ZoneInfo, hours: BusinessHours
) -> datetime:
    """`amount_h` hours counted only between hours.start and hours.end of working days: 4
    business hours from Friday 16:00 (08:30–17:30) end on Monday 11:00."""
    left = timedelta(hours=amount_h)
    local = start.astimezone(tz)
    day = local.date()
    at = local
    while True:
        if calendar.is_workday(day):
            open_ = datetime.combine(day, hours.start, tzinfo=tz)
            close = datetime.combine(day, hours.end, tzinfo=tz)
            begin = max(at, open_)
            if begin < close:
                if begin + left <= close:
                    return (begin + left).astimezone(UTC)
                left -= close - begin
        day += timedelta(days=1)
        at = datetime.combine(day, time(0, 0), tzinfo=tz)
