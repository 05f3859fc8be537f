"""Report periods: local days, ISO weeks and months of the hotline's zone, read from what a
supervisor types, with their keys, Chinese names and UTC bounds."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from hotline.core.errors import InvalidInput
from hotline.core.periods import REPORT_LABELS, Period, PeriodKind

SH = "Asia/Shanghai"


def test_a_week_runs_monday_to_sunday_in_shanghai() -> None:
    week = Period.parse("week", "2026-11-26")

    assert week.kind is PeriodKind.WEEK
    assert (week.first, week.last, week.end) == (
        date(2026, 11, 23), date(2026, 11, 29), date(2026, 11, 30),
    )  # fmt: skip
    assert (week.key, week.name) == ("2026-W48", "2026年第48周")
    assert week.span == "2026-11-23 至 2026-11-29"
    assert week.start_utc == datetime(2026, 11, 22, 16, 0, tzinfo=UTC)
    assert week.end_utc == datetime(2026, 11, 29, 16, 0, tzinfo=UTC)
    assert Period.parse("week", "2026-W48") == week
    assert Period.parse(PeriodKind.WEEK, date(2026, 11, 29)) == week
    assert Period.from_key("2026-W48") == week
    assert Period.of(PeriodKind.WEEK, date(2026, 11, 23), SH) == week


def test_shanghai_midnight_is_four_pm_utc_the_day_before() -> None:
    day = Period.from_key("2024-11-23")
    assert (day.kind, day.first, day.last, day.key) == (
        PeriodKind.DAY, date(2024, 11, 23), date(2024, 11, 23), "2024-11-23",
    )  # fmt: skip
    assert day.name == "2024年11月23日"
    start, end = day.bounds()
    assert start.isoformat() == "2024-11-23T00:00:00+08:00"
    assert end - start == timedelta(days=1)
    assert (start.astimezone(UTC), end.astimezone(UTC)) == (day.start_utc, day.end_utc)
    assert day.start_utc == datetime(2024, 11, 22, 16, 0, tzinfo=UTC)
    # 23:30 UTC on the 22nd is 07:30 on the 23rd in Shanghai; the end is not inside
    assert day.contains(datetime(2024, 11, 22, 23, 30, tzinfo=UTC))
    assert day.contains(day.start_utc)
    assert not day.contains(datetime(2024, 11, 22, 15, 59, 59, tzinfo=UTC))
    assert not day.contains(datetime(2024, 11, 23, 16, 0, tzinfo=UTC))
    # the same calendar day elsewhere is another stretch of time
    london = Period.from_key("2024-11-23", "Europe/London")
    assert london.key == day.key and london != day
    assert london.start_utc == datetime(2024, 11, 23, 0, 0, tzinfo=UTC)


def test_now_belongs_to_the_local_day_not_the_utc_one() -> None:
    # Sunday 20:00 UTC is Monday 04:00 in Shanghai: already the next week
    now = datetime(2026, 11, 22, 20, 0, tzinfo=UTC)
    assert Period.of(PeriodKind.WEEK, now, SH).key == "2026-W48"
    assert Period.of(PeriodKind.WEEK, now, "UTC").key == "2026-W47"
    assert Period.parse("day", now, SH).first == date(2026, 11, 23)


@pytest.mark.parametrize(
    ("day", "key", "name", "first", "last"),
    [
        # 2027-01-01 is a Friday: its ISO week is week 53 of 2026
        (date(2027, 1, 1), "2026-W53", "2026年第53周", date(2026, 12, 28), date(2027, 1, 3)),
        (date(2026, 12, 28), "2026-W53", "2026年第53周", date(2026, 12, 28), date(2027, 1, 3)),
        # 2024-12-30 is a Monday: week 1 of 2025 starts in 2024
        (date(2024, 12, 30), "2025-W01", "2025年第1周", date(2024, 12, 30), date(2025, 1, 5)),
        (date(2021, 1, 3), "2020-W53", "2020年第53周", date(2020, 12, 28), date(2021, 1, 3)),
    ],
)
def test_weeks_at_the_turn_of_the_year_take_the_iso_year(
    day: date, key: str, name: str, first: date, last: date
) -> None:
    week = Period.of(PeriodKind.WEEK, day)
    assert (week.key, week.name, week.first, week.last) == (key, name, first, last)
    assert Period.from_key(key) == week
    assert Period.parse("week", key) == week


def test_months_roll_over_into_the_next_year_and_know_leap_days() -> None:
    december = Period.parse("month", "2026-12")
    assert (december.first, december.last, december.end) == (
        date(2026, 12, 1), date(2026, 12, 31), date(2027, 1, 1),
    )  # fmt: skip
    assert (december.key, december.name) == ("2026-12", "2026年12月")
    assert december.end_utc == datetime(2026, 12, 31, 16, 0, tzinfo=UTC)
    assert Period.parse("month", "2026-12-31") == december
    assert Period.from_key("2026-12") == december
    february = Period.from_key("2024-02")
    assert (february.last, february.span) == (date(2024, 2, 29), "2024-02-01 至 2024-02-29")
    assert Period.from_key("2025-02").last == date(2025, 2, 28)
    assert Period.parse("month", "2026-1").key == "2026-01"


@pytest.mark.parametrize("key", ["2026-11-23", "2026-W48", "2026-W01", "2026-11", "2027-01"])
def test_a_key_reads_back_as_its_period(key: str) -> None:
    assert Period.from_key(key).key == key
    assert Period.from_key(f"  {key} ").key == key


def test_the_week_and_month_forms_count_only_for_their_kind() -> None:
    assert Period.parse("week", "2026w48").key == "2026-W48"
    assert Period.parse("month", "2026-11-23").key == "2026-11"
    assert Period.parse("day", "2026-W48").key == "2026-11-23"  # ISO date: that Monday


def test_report_labels_name_every_kind() -> None:
    assert [REPORT_LABELS[k] for k in PeriodKind] == ["日报", "周报", "月报", "季报", "年报"]


@pytest.mark.parametrize(
    "text",
    # the last three are fine for `parse`, given the kind, but are not keys
    ["2024-13", "2024-W60", "2025-W53", "23/11/2024", "", "week", "2026-w48", "2026-W1", "2026-1"],
)
def test_a_key_that_cannot_be_read_says_which_forms_to_give(text: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        Period.from_key(text)
    message = caught.value.message
    assert "无法识别的期间" in message and "YYYY-MM-DD" in message and "YYYY-Www" in message


@pytest.mark.parametrize(
    ("kind", "day", "expected"),
    [
        ("decade", "2026-11-23", "use day, week, month, quarter"),
        ("Week", "2026-11-23", "use day, week, month, quarter"),
        ("week", "23/11/2026", "give YYYY-MM-DD"),
        ("week", "2026-W54", "give YYYY-MM-DD"),
        ("week", "2026-11", "give YYYY-MM-DD"),  # a month is no day of a week
        ("month", "2026-13", "give YYYY-MM-DD"),
    ],
)
def test_a_period_that_cannot_be_read_says_what_to_give(kind: str, day: str, expected: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        Period.parse(kind, day)
    assert expected in caught.value.message and "无效" in caught.value.message


@pytest.mark.parametrize("zone", ["Mars/Olympus", "Asia", "", "../etc/passwd"])
def test_an_unknown_time_zone_is_refused_with_an_example(zone: str) -> None:
    with pytest.raises(InvalidInput, match=r"时区无效.*Asia/Shanghai"):
        Period.parse("day", "2026-11-23", zone)
    with pytest.raises(InvalidInput, match="IANA"):
        Period.from_key("2026-11-23", zone)


def test_a_period_starts_on_its_first_day() -> None:
    with pytest.raises(ValueError, match=r"Period\.of"):
        Period(PeriodKind.WEEK, date(2026, 11, 26))
    with pytest.raises(ValueError, match=r"Period\.of"):
        Period(PeriodKind.MONTH, date(2026, 11, 2))


def test_quarters_and_years_for_the_regulations_reports() -> None:
    q = Period.parse("quarter", "2026-11-26", "Asia/Shanghai")
    assert (q.first, q.end, q.key, q.name) == (
        date(2026, 10, 1),
        date(2027, 1, 1),
        "2026-Q4",
        "2026年第4季度",
    )
    assert Period.parse("quarter", "2026-Q1").first == date(2026, 1, 1)
    y = Period.parse("year", "2026")
    assert (y.first, y.end, y.key, y.name) == (date(2026, 1, 1), date(2027, 1, 1), "2026", "2026年")
    assert REPORT_LABELS[q.kind] == "季报" and REPORT_LABELS[y.kind] == "年报"
