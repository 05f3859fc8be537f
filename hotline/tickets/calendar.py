"""Working days by the official Chinese calendar, 调休 make-up days included. Rule: a day is a
working day only when a schedule we hold says so (chinese-calendar's data, or an official
schedule file loaded from `tickets.calendar_files`); a day in a year nobody gave us is an
error, never a guess.

Schedule file (one year per file, YAML)::

    year: 2027
    holidays:
      - {name: 春节, from: 2027-02-05, to: 2027-02-11}
    workdays: [2027-02-14]   # 调休: weekend days that are working days

Any other day of that year is a working day on Monday–Friday and a rest day at weekends.
A file's days override chinese-calendar's for the same year (to correct its data).
"""

from __future__ import annotations

import contextlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import chinese_calendar

from hotline.core.errors import InvalidInput
from hotline.core.yamlfile import read_yaml

_BUILTIN_YEARS = frozenset(d.year for d in (*chinese_calendar.holidays, *chinese_calendar.workdays))


class CalendarUnknown(InvalidInput):
    error_id = "calendar_unknown"


@dataclass(frozen=True, slots=True)
class YearSchedule:
    """One official schedule: the rest days on weekdays and the make-up working days."""

    year: int
    source: str
    holidays: frozenset[date]
    workdays: frozenset[date]


class WorkCalendar:
    """Working days: chinese-calendar's for the years it knows, the files' for the others."""

    def __init__(self, extra_files: Sequence[Path] = ()) -> None:
        self._years: dict[int, YearSchedule] = {}
        for path in extra_files:
            schedule = load_schedule(path)
            if schedule.year in self._years:
                raise InvalidInput(
                    f"节假日安排文件重复 (two schedule files for {schedule.year}: "
                    f"{self._years[schedule.year].source} and {path}); keep one of them"
                )
            self._years[schedule.year] = schedule

    @property
    def years(self) -> frozenset[int]:
        """Every year this calendar can answer for."""
        return _BUILTIN_YEARS | frozenset(self._years)

    def is_workday(self, d: date) -> bool:
        schedule = self._years.get(d.year)
        if schedule is not None:
            return _scheduled(schedule, d)
        # a file's schedule may name days of the neighbouring years (元旦 from Dec 30)
        for neighbour in (self._years.get(d.year + 1), self._years.get(d.year - 1)):
            if neighbour is not None and d in neighbour.holidays | neighbour.workdays:
                return _scheduled(neighbour, d)
        if d.year in _BUILTIN_YEARS:
            return bool(chinese_calendar.is_workday(d))
        raise CalendarUnknown(
            f"缺少{d.year}年节假日安排 (the working-day calendar does not know the year "
            f"{d.year}, so a deadline in it cannot be computed); ask the administrator to add "
            f"the State Council's official {d.year} holiday schedule as a YAML file to "
            "tickets.calendar_files (see deploy/calendar/README.md)"
        )

    def next_workday(self, d: date) -> date:
        """`d` itself when it is a working day, else the first working day after it."""
        while not self.is_workday(d):
            d += timedelta(days=1)
        return d

    def add_workdays(self, start: datetime, n: int, tz: ZoneInfo) -> datetime:
        """n working days after `start`, at the same local time (in `tz`). A start on a rest
        day counts from the next working day's start (00:00): a Saturday plus 3 working days
        is the following Thursday 00:00, the end of Wednesday."""
        if start.tzinfo is None:
            raise InvalidInput("时间缺少时区 (start needs a time zone: pass an aware datetime)")
        if n < 0:
            raise InvalidInput(f"工作日数不能为负 (n must be 0 or more, got {n})")
        local = start.astimezone(tz)
        day = local.date()
        at = local.timetz().replace(tzinfo=None)
        if not self.is_workday(day):
            day, at = self.next_workday(day), time(0, 0)
        for _ in range(n):
            day = self.next_workday(day + timedelta(days=1))
        return datetime.combine(day, at, tzinfo=tz)


def _scheduled(schedule: YearSchedule, d: date) -> bool:
    if d in schedule.holidays:
        return False
    if d in schedule.workdays:
        return True
    return d.weekday() < 5


def load_schedule(path: Path) -> YearSchedule:
    """One year's official schedule from a YAML file; errors name the file and the field."""
    data = read_yaml(path, "节假日安排文件 holiday schedule", "tickets.calendar_files")
    if not isinstance(data, dict):
        raise InvalidInput(
            f"节假日安排文件格式错误 ({path}: expected a mapping with year, holidays, workdays)"
        )
    year = data.get("year")
    if isinstance(year, bool) or not isinstance(year, int) or not 2000 <= year <= 2200:
        raise InvalidInput(f"{path}: field 'year' must be a year such as 2027, got {year!r}")
    lo, hi = date(year - 1, 12, 1), date(year + 1, 1, 31)
    holidays: set[date] = set()
    entries = data.get("holidays") or []
    if not isinstance(entries, list):
        raise InvalidInput(f"{path}: field 'holidays' must be a list of {{name, from, to}}")
    for i, entry in enumerate(entries):
        where = f"{path}: holidays[{i}]"
        if not isinstance(entry, dict) or not isinstance(entry.get("name"), str):
            raise InvalidInput(f"{where} must be {{name: 春节, from: YYYY-MM-DD, to: YYYY-MM-DD}}")
        first = _date(entry.get("from"), f"{where}.from", lo, hi)
        last = _date(entry.get("to", entry.get("from")), f"{where}.to", lo, hi)
        if last < first:
            raise InvalidInput(f"{where}: 'to' ({last}) is before 'from' ({first})")
        holidays.update(first + timedelta(days=k) for k in range((last - first).days + 1))
    days = data.get("workdays") or []
    if not isinstance(days, list):
        raise InvalidInput(f"{path}: field 'workdays' must be a list of dates (调休 make-up days)")
    workdays = {_date(v, f"{path}: workdays[{i}]", lo, hi) for i, v in enumerate(days)}
    both = sorted(holidays & workdays)
    if both:
        raise InvalidInput(f"{path}: {both[0]} is listed both as a holiday and as a workday")
    return YearSchedule(year, str(path), frozenset(holidays), frozenset(workdays))


def _date(value: Any, where: str, lo: date, hi: date) -> date:
    if isinstance(value, str):
        with contextlib.suppress(ValueError):
            value = date.fromisoformat(value)
    if isinstance(value, datetime) or not isinstance(value, date):
        raise InvalidInput(f"{where} must be a date written YYYY-MM-DD, got {value!r}")
    if not lo <= value <= hi:
        raise InvalidInput(f"{where}: {value} is outside the schedule's year ({lo} – {hi})")
    return value
