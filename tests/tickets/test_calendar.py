"""WorkCalendar: the official working days, 调休 included, and years given by a file."""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from hotline.core.errors import InvalidInput
from hotline.tickets.calendar import CalendarUnknown, WorkCalendar

SH = ZoneInfo("Asia/Shanghai")
EXAMPLE_2027 = Path(__file__).parents[2] / "deploy" / "calendar" / "example-2027.yaml"


@pytest.fixture(scope="module")
def cal() -> WorkCalendar:
    return WorkCalendar()


def test_national_day_2026(cal: WorkCalendar) -> None:
    assert not any(cal.is_workday(date(2026, 10, d)) for d in range(1, 8))
    assert cal.is_workday(date(2026, 9, 20))  # a Sunday, 调休 make-up day
    assert cal.is_workday(date(2026, 10, 10))  # a Saturday, 调休 make-up day
    assert not cal.is_workday(date(2026, 9, 25))  # 中秋节, a Friday
    assert cal.is_workday(date(2026, 10, 8)) and cal.is_workday(date(2026, 10, 9))
    assert not cal.is_workday(date(2026, 10, 11))  # an ordinary Sunday


def test_spring_festival_2026(cal: WorkCalendar) -> None:
    assert not any(cal.is_workday(date(2026, 2, d)) for d in range(15, 24))
    assert cal.is_workday(date(2026, 2, 14))  # Saturday before, make-up day
    assert cal.is_workday(date(2026, 2, 28))  # Saturday after, make-up day
    assert cal.is_workday(date(2026, 2, 24))


def test_working_days_across_national_day(cal: WorkCalendar) -> None:
    start = datetime(2026, 9, 30, 16, 0, tzinfo=SH)  # Wednesday before the holiday
    # Oct 1–7 off; Thu 8, Fri 9 and the make-up Saturday 10 are the three working days
    assert cal.add_workdays(start, 3, SH) == datetime(2026, 10, 10, 16, 0, tzinfo=SH)
    assert cal.add_workdays(start, 1, SH) == datetime(2026, 10, 8, 16, 0, tzinfo=SH)


def test_working_days_across_spring_festival(cal: WorkCalendar) -> None:
    start = datetime(2026, 2, 13, 10, 0, tzinfo=SH)  # Friday
    # make-up Saturday 14, then the holiday to Mon 23, then Tue 24 and Wed 25
    assert cal.add_workdays(start, 3, SH) == datetime(2026, 2, 25, 10, 0, tzinfo=SH)


def test_a_start_on_a_rest_day_counts_from_the_next_working_morning(cal: WorkCalendar) -> None:
    on_holiday = datetime(2026, 10, 3, 11, 30, tzinfo=SH)
    assert cal.add_workdays(on_holiday, 1, SH) == datetime(2026, 10, 9, 0, 0, tzinfo=SH)
    assert cal.add_workdays(on_holiday, 0, SH) == datetime(2026, 10, 8, 0, 0, tzinfo=SH)


def test_the_local_time_is_kept_whatever_the_input_zone(cal: WorkCalendar) -> None:
    utc_start = datetime(2026, 9, 30, 8, 0, tzinfo=ZoneInfo("UTC"))  # 16:00 in Shanghai
    result = cal.add_workdays(utc_start, 3, SH)
    assert result == datetime(2026, 10, 10, 16, 0, tzinfo=SH)


def test_an_unknown_year_is_a_clear_error(cal: WorkCalendar) -> None:
    with pytest.raises(CalendarUnknown) as err:
        cal.is_workday(date(2027, 3, 1))
    assert "2027" in err.value.message and "tickets.calendar_files" in err.value.message
    assert isinstance(err.value, InvalidInput)
    # a deadline running from the last days of 2026 into 2027
    with pytest.raises(CalendarUnknown, match="2027"):
        cal.add_workdays(datetime(2026, 12, 30, 9, 0, tzinfo=SH), 3, SH)


def test_a_schedule_file_teaches_the_next_year() -> None:
    cal = WorkCalendar([EXAMPLE_2027])
    assert 2027 in cal.years and 2026 in cal.years
    assert not cal.is_workday(date(2027, 2, 8))  # a Monday of the example's 春节
    assert cal.is_workday(date(2027, 2, 14))  # the example's make-up Sunday
    assert cal.is_workday(date(2027, 3, 1))  # an ordinary Monday
    assert not cal.is_workday(date(2027, 3, 6))  # an ordinary Saturday
    # Thu Dec 31 2026, then Jan 1–3 off: Mon 4 and Tue 5
    start = datetime(2026, 12, 30, 9, 0, tzinfo=SH)
    assert cal.add_workdays(start, 3, SH) == datetime(2027, 1, 5, 9, 0, tzinfo=SH)


def test_a_file_can_correct_a_known_year(tmp_path: Path) -> None:
    fix = tmp_path / "2026.yaml"
    fix.write_text("year: 2026\nholidays:\n  - {name: 临时, from: 2026-11-23, to: 2026-11-23}\n")
    assert not WorkCalendar([fix]).is_workday(date(2026, 11, 23))


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ("year: next\n", "'year'"),
        ("year: 2027\nholidays:\n  - {name: 春节, from: 2027-02-05, to: soon}\n", "holidays[0].to"),
        (
            "year: 2027\nholidays:\n  - {name: 春节, from: 2027-02-11, to: 2027-02-05}\n",
            "holidays[0]",
        ),
        ("year: 2027\nworkdays: [2029-01-01]\n", "workdays[0]"),
        ("year: 2027\nworkdays: 2027-02-14\n", "'workdays'"),
        ("- 2027\n", "expected a mapping"),
    ],
)
def test_a_malformed_file_names_itself_and_the_field(tmp_path: Path, body: str, field: str) -> None:
    path = tmp_path / "calendar-2027.yaml"
    path.write_text(body, encoding="utf-8")
    with pytest.raises(InvalidInput) as err:
        WorkCalendar([path])
    assert "calendar-2027.yaml" in err.value.message and field in err.value.message


def test_two_files_for_one_year_are_refused(tmp_path: Path) -> None:
    other = tmp_path / "again-2027.yaml"
    other.write_text("year: 2027\n", encoding="utf-8")
    with pytest.raises(InvalidInput, match="2027"):
        WorkCalendar([EXAMPLE_2027, other])


def test_a_missing_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(InvalidInput, match=r"nowhere\.yaml"):
        WorkCalendar([tmp_path / "nowhere.yaml"])
