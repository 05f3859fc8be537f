"""Report periods: a calendar day, an ISO week (Monday first) or a month of the hotline's time
zone. Rule: a period is the whole local days [first, end) of one zone; everything else about
it (key, Chinese name, local and UTC bounds) follows from its kind, first day and zone.

Two ways in, both with an InvalidInput that says what to give instead:
`Period.parse(kind, day)` (a kind and a day in it: "2026-11-26", or for weeks "2026-W48" and
for months "2026-11") and `Period.from_key(text)` (the kind read from the text itself:
"2026-11-23", "2026-W48" or "2026-11", the forms `key` writes).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from enum import StrEnum
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from hotline.core.errors import InvalidInput

DEFAULT_TIMEZONE = "Asia/Shanghai"

# the years a hotline's records and reports can be about; outside them a date is a typo
FIRST_YEAR = 1970
LAST_YEAR = 2999


def check_year(day: date) -> None:
    """InvalidInput for a date outside [FIRST_YEAR, LAST_YEAR] (year 9999 is a typo, and
    its period or UTC bounds would overflow)."""
    if not FIRST_YEAR <= day.year <= LAST_YEAR:
        raise InvalidInput(
            f"日期超出范围：{day.isoformat()[:10]} 的年份须在 {FIRST_YEAR} 到 {LAST_YEAR} 之间，"
            "请检查后重新输入 (the year is out of range)"
        )


class PeriodKind(StrEnum):
    DAY = "day"
    WEEK = "week"
    MONTH = "month"
    QUARTER = "quarter"
    YEAR = "year"


# what a report over such a period is called
REPORT_LABELS: Mapping[PeriodKind, str] = {
    PeriodKind.DAY: "日报",
    PeriodKind.WEEK: "周报",
    PeriodKind.MONTH: "月报",
    PeriodKind.QUARTER: "季报",
    PeriodKind.YEAR: "年报",
}

# a week or month as `key` writes it: 2026-W48, 2026-11
_KEY_WEEK = re.compile(r"^(\d{4})-W(\d{2})$")
_KEY_MONTH = re.compile(r"^(\d{4})-(\d{2})$")
# what `parse` also takes for a week or a month: 2026w48, 2026-W1, 2026-1
_WEEK = re.compile(r"^(\d{4})-?W(\d{1,2})$", re.IGNORECASE)
_MONTH = re.compile(r"^(\d{4})-(\d{1,2})$")
_QUARTER = re.compile(r"^(\d{4})-?Q([1-4])$", re.IGNORECASE)
_YEAR = re.compile(r"^(\d{4})$")


@dataclass(frozen=True, slots=True)
class Period:
    """The local days [first, end) of `timezone`: a day, an ISO week from its Monday, or a
    month from its 1st. Make one with `of`, `parse` or `from_key`."""

    kind: PeriodKind
    first: date  # the first local day
    timezone: str = DEFAULT_TIMEZONE

    def __post_init__(self) -> None:
        _zone(self.timezone)
        if _first_day(self.kind, self.first) != self.first:
            raise ValueError(f"{self.first} does not start a {self.kind.value}: use Period.of")

    @classmethod
    def of(cls, kind: PeriodKind, day: date, timezone: str = DEFAULT_TIMEZONE) -> Period:
        """The day, ISO week or month holding `day`; an aware datetime counts by its day in
        `timezone` (so `Period.of(kind, now)` is the current one)."""
        if isinstance(day, datetime):
            check_year(day)
            day = day.astimezone(_zone(timezone)).date() if day.tzinfo else day.date()
        check_year(day)
        return cls(kind, _first_day(kind, day), timezone)

    @classmethod
    def parse(
        cls, kind: str | PeriodKind, day: date | str, timezone: str = DEFAULT_TIMEZONE
    ) -> Period:
        """The `kind` ("day", "week" or "month") holding `day`: a date, "2026-11-23", or for
        weeks also "2026-W48" and for months "2026-11"."""
        try:
            period_kind = PeriodKind(kind)
        except ValueError:
            raise InvalidInput(
                f"报表周期无效 (unknown report period {kind!r}); use day, week, month, quarter "
                "or year"
            ) from None
        _zone(timezone)
        return cls.of(period_kind, _anchor(period_kind, day), timezone)

    @classmethod
    def from_key(cls, text: str, timezone: str = DEFAULT_TIMEZONE) -> Period:
        """`key` read back: an ISO week "2026-W48" or a month "2026-11" exactly as `key`
        writes them, else an ISO date ("2026-11-23") as that day."""
        _zone(timezone)
        text = text.strip()
        try:
            if week := _KEY_WEEK.match(text):
                monday = date.fromisocalendar(int(week[1]), int(week[2]), 1)
                return cls.of(PeriodKind.WEEK, monday, timezone)
            if month := _KEY_MONTH.match(text):
                return cls.of(PeriodKind.MONTH, date(int(month[1]), int(month[2]), 1), timezone)
            return cls.of(PeriodKind.DAY, date.fromisoformat(text), timezone)
        except ValueError:
            raise InvalidInput(
                f"无法识别的期间 {text!r} (period must be a day YYYY-MM-DD, an ISO week "
                "YYYY-Www or a month YYYY-MM, e.g. 2024-11-23, 2024-W47, 2024-11)"
            ) from None

    @property
    def end(self) -> date:
        """The day after the last one."""
        if self.kind is PeriodKind.DAY:
            return self.first + timedelta(days=1)
        if self.kind is PeriodKind.WEEK:
            return self.first + timedelta(days=7)
        months = {PeriodKind.MONTH: 1, PeriodKind.QUARTER: 3, PeriodKind.YEAR: 12}[self.kind]
        index = self.first.month - 1 + months
        return date(self.first.year + index // 12, index % 12 + 1, 1)

    @property
    def last(self) -> date:
        return self.end - timedelta(days=1)

    @property
    def key(self) -> str:
        """Stable and sortable within a kind: "2026-11-23", "2026-W48" (the ISO week's year)
        or "2026-11"."""
        if self.kind is PeriodKind.DAY:
            return self.first.isoformat()
        if self.kind is PeriodKind.WEEK:
            year, week, _ = self.first.isocalendar()
            return f"{year}-W{week:02d}"
        if self.kind is PeriodKind.QUARTER:
            return f"{self.first.year}-Q{(self.first.month - 1) // 3 + 1}"
        if self.kind is PeriodKind.YEAR:
            return f"{self.first.year}"
        return f"{self.first.year}-{self.first.month:02d}"

    @property
    def name(self) -> str:
        """「2026年11月23日」, 「2026年第48周」 (the ISO week's year) or 「2026年11月」."""
        if self.kind is PeriodKind.DAY:
            return f"{self.first.year}年{self.first.month}月{self.first.day}日"
        if self.kind is PeriodKind.WEEK:
            year, week, _ = self.first.isocalendar()
            return f"{year}年第{week}周"
        if self.kind is PeriodKind.QUARTER:
            return f"{self.first.year}年第{(self.first.month - 1) // 3 + 1}季度"
        if self.kind is PeriodKind.YEAR:
            return f"{self.first.year}年"
        return f"{self.first.year}年{self.first.month}月"

    @property
    def span(self) -> str:
        """「2026-11-23 至 2026-11-29」: first and last day."""
        return f"{self.first.isoformat()} 至 {self.last.isoformat()}"

    @property
    def zone(self) -> ZoneInfo:
        return _zone(self.timezone)

    def bounds(self) -> tuple[datetime, datetime]:
        """[start, end) as aware datetimes of the period's zone: local midnights."""
        return _midnight(self.first, self.zone), _midnight(self.end, self.zone)

    @property
    def start_utc(self) -> datetime:
        return _midnight(self.first, self.zone).astimezone(UTC)

    @property
    def end_utc(self) -> datetime:
        return _midnight(self.end, self.zone).astimezone(UTC)

    def report_title(self, subject: str) -> str:
        """「坐席状态周报 2026年第48周」: `subject`, the period's report name and its name."""
        return f"{subject}{REPORT_LABELS[self.kind]} {self.name}"

    def report_head(self, subject: str) -> dict[str, Any]:
        """What every report's JSON opens with: its title, the period and its bounds."""
        return {
            "title": self.report_title(subject),
            "period": self.kind.value,
            "key": self.key,
            "since": self.start_utc,
            "until": self.end_utc,
        }

    def contains(self, moment: datetime) -> bool:
        """Whether the aware `moment` falls in [start, end)."""
        start, end = self.bounds()
        return start <= moment < end


def _first_day(kind: PeriodKind, day: date) -> date:
    if kind is PeriodKind.DAY:
        return day
    if kind is PeriodKind.WEEK:
        return day - timedelta(days=day.weekday())
    if kind is PeriodKind.QUARTER:
        return date(day.year, (day.month - 1) // 3 * 3 + 1, 1)
    if kind is PeriodKind.YEAR:
        return date(day.year, 1, 1)
    return day.replace(day=1)


def _anchor(kind: PeriodKind, day: date | str) -> date:
    """A day of the period: the date itself, or read from the text (the week and month forms
    only for that kind)."""
    if isinstance(day, date):
        return day
    text = day.strip()
    try:
        week = _WEEK.match(text)
        if week and kind is PeriodKind.WEEK:
            return date.fromisocalendar(int(week[1]), int(week[2]), 1)
        month = _MONTH.match(text)
        if month and kind is PeriodKind.MONTH:
            return date(int(month[1]), int(month[2]), 1)
        quarter = _QUARTER.match(text)
        if quarter and kind is PeriodKind.QUARTER:
            return date(int(quarter[1]), (int(quarter[2]) - 1) * 3 + 1, 1)
        year = _YEAR.match(text)
        if year and kind is PeriodKind.YEAR:
            return date(int(year[1]), 1, 1)
        return date.fromisoformat(text)
    except ValueError:
        raise InvalidInput(
            f"报表日期无效 (cannot read the date {day!r}); give YYYY-MM-DD, "
            "or YYYY-Www for a week, YYYY-MM for a month, YYYY-Qn for a quarter, YYYY for a year"
        ) from None


def _zone(timezone: str) -> ZoneInfo:
    try:
        return ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError, OSError):  # OSError: "Asia" is a folder
        raise InvalidInput(
            f"时区无效 (unknown time zone {timezone!r}); use an IANA name like Asia/Shanghai"
        ) from None


def _midnight(day: date, zone: ZoneInfo) -> datetime:
    return datetime.combine(day, time(0), tzinfo=zone)
