"""The 工单 clock: deadlines by category and level, escalation, overdue steps, 延期."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from hotline.core.errors import InvalidInput
from hotline.core.settings import TicketSettings
from hotline.tickets.calendar import WorkCalendar
from hotline.tickets.model import Category, ComplaintLevel, Deadlines
from hotline.tickets.sla import (
    SlaPolicy,
    deadlines,
    escalate,
    extend,
    overdue,
    reply_deadline,
)

SH = ZoneInfo("Asia/Shanghai")
CALENDAR = WorkCalendar()


def policy(**changes: object) -> SlaPolicy:
    return SlaPolicy.from_settings(TicketSettings.model_validate(changes), CALENDAR, SH)


def sh(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=SH)


BEFORE_NATIONAL_DAY = sh(2026, 9, 30, 16, 0)  # Wednesday afternoon


def test_a_repair_accepted_before_national_day() -> None:
    d = deadlines(policy(), Category.REPAIR, None, BEFORE_NATIONAL_DAY)
    assert d.dispatch_by == sh(2026, 9, 30, 16, 5)  # repairs: 5 minutes
    assert d.contact_by == sh(2026, 9, 30, 18, 0)  # 2 wall-clock hours
    # Oct 1–7 off; Thu 8, Fri 9 and the make-up Saturday 10 are the three working days
    assert d.done_by == sh(2026, 10, 10, 16, 0)
    assert d.reply_by is None
    assert all(t is None or t.utcoffset() == timedelta(0) for t in (d.dispatch_by, d.done_by))
    assert d.done_by is not None and d.done_by.tzinfo is UTC


def test_a_gas_leak_is_dispatched_within_the_urgent_minutes() -> None:
    d = deadlines(policy(), Category.EMERGENCY, None, BEFORE_NATIONAL_DAY)
    assert d.dispatch_by == sh(2026, 9, 30, 16, 5)
    assert d.contact_by == sh(2026, 9, 30, 18, 0)


def test_a_service_request_counts_working_days() -> None:
    d = deadlines(policy(), Category.SERVICE, None, BEFORE_NATIONAL_DAY)
    assert d.dispatch_by == sh(2026, 9, 30, 16, 20)  # the ordinary 20 minutes
    assert d.contact_by == sh(2026, 10, 8, 16, 0)  # 1 working day
    # 8, 9, 10 (make-up Saturday), 12, 13, 14, 15
    assert d.done_by == sh(2026, 10, 15, 16, 0)


def test_a_report_across_spring_festival() -> None:
    friday = sh(2026, 2, 13, 10, 0)
    for category in (Category.REPORT, Category.SUGGESTION):
        d = deadlines(policy(), category, None, friday)
        # make-up Saturday 14, then after the holiday Tue 24 … Fri 27
        assert d.done_by == sh(2026, 2, 27, 10, 0)
        assert d.dispatch_by == sh(2026, 2, 13, 10, 20)
        assert d.contact_by is None


@pytest.mark.parametrize(
    ("level", "done"),
    [
        (ComplaintLevel.MINOR, sh(2026, 11, 23, 13, 0)),
        (ComplaintLevel.GENERAL, sh(2026, 11, 24, 10, 0)),
        (ComplaintLevel.MAJOR, sh(2026, 11, 25, 10, 0)),
        (None, sh(2026, 11, 23, 13, 0)),  # no level yet: 轻度
    ],
)
def test_complaints_by_level(level: ComplaintLevel | None, done: datetime) -> None:
    d = deadlines(policy(), Category.COMPLAINT, level, sh(2026, 11, 23, 10, 0))
    assert d.done_by == done
    assert d.dispatch_by == sh(2026, 11, 23, 10, 5)


def test_complaint_hours_are_wall_clock_even_on_holidays() -> None:
    d = deadlines(policy(), Category.COMPLAINT, ComplaintLevel.GENERAL, BEFORE_NATIONAL_DAY)
    assert d.done_by == sh(2026, 10, 1, 16, 0)


def test_consultations_and_praise_only_need_dispatching() -> None:
    for category in (Category.CONSULT, Category.PRAISE):
        d = deadlines(policy(), category, None, BEFORE_NATIONAL_DAY)
        assert d == Deadlines(dispatch_by=sh(2026, 9, 30, 16, 20))


def test_every_number_is_a_setting() -> None:
    p = policy(dispatch_min=30, repair_done_workdays=1, complaint_hours={3: 2, 2: 12, 1: 36})
    assert deadlines(p, Category.SERVICE, None, BEFORE_NATIONAL_DAY).dispatch_by == sh(
        2026, 9, 30, 16, 30
    )
    assert deadlines(p, Category.REPAIR, None, BEFORE_NATIONAL_DAY).done_by == sh(
        2026, 10, 8, 16, 0
    )
    minor = deadlines(p, Category.COMPLAINT, ComplaintLevel.MINOR, BEFORE_NATIONAL_DAY)
    assert minor.done_by == sh(2026, 9, 30, 18, 0)


def test_complaint_hours_must_cover_every_level() -> None:
    with pytest.raises(InvalidInput, match="complaint_hours"):
        policy(complaint_hours={3: 3.0, 2: 24.0})
    with pytest.raises(InvalidInput, match="complaint_hours"):
        policy(complaint_hours={3: 3.0, 2: 24.0, 1: 48.0, 4: 1.0})


def test_reply_within_one_working_day_of_the_units_answer() -> None:
    answered = sh(2026, 10, 9, 17, 0)  # Friday; Saturday 10th is a make-up working day
    assert reply_deadline(policy(), answered) == sh(2026, 10, 10, 17, 0)
    on_holiday = sh(2026, 10, 2, 9, 0)
    assert reply_deadline(policy(), on_holiday) == sh(2026, 10, 9, 0, 0)


def test_a_deadline_in_an_unknown_year_is_refused_clearly() -> None:
    with pytest.raises(InvalidInput, match="2027"):
        deadlines(policy(), Category.SERVICE, None, sh(2026, 12, 28, 9, 0))


def test_escalation_by_counting() -> None:
    p = policy()
    minor = ComplaintLevel.MINOR

    def level(current: ComplaintLevel = minor, c: int = 1, r: int = 1, x: bool = False) -> int:
        return escalate(
            current, complainants_same_issue=c, repeats_same_event=r, exposure=x, policy=p
        )

    assert level(c=4) is minor
    assert level(c=5) is ComplaintLevel.GENERAL  # 5 different complainants on one issue
    assert level(r=5) is ComplaintLevel.MAJOR  # one customer, same event, 5 times
    assert level(x=True) is ComplaintLevel.MAJOR  # media or legal exposure
    assert level(ComplaintLevel.MAJOR) is ComplaintLevel.MAJOR  # never lowered
    assert level(ComplaintLevel.GENERAL, c=9) is ComplaintLevel.GENERAL
    strict = policy(level2_complainants=3)
    assert (
        escalate(
            minor, complainants_same_issue=3, repeats_same_event=1, exposure=False, policy=strict
        )
        is ComplaintLevel.GENERAL
    )


def test_overdue_steps_are_those_past_due_and_not_reached() -> None:
    d = deadlines(policy(), Category.REPAIR, None, BEFORE_NATIONAL_DAY)
    evening = sh(2026, 9, 30, 19, 0)
    assert overdue(d, {}, evening) == ("dispatch", "contact")
    reached = {"dispatch": sh(2026, 9, 30, 16, 3), "contact": None}
    assert overdue(d, reached, evening) == ("contact",)
    assert overdue(d, reached, sh(2026, 9, 30, 16, 4)) == ()
    assert overdue(d, {"dispatch": evening, "contact": evening}, sh(2026, 10, 12, 9, 0)) == (
        "done",
    )


def test_a_supervisor_extends_a_deadline_before_it_passes() -> None:
    d = deadlines(policy(), Category.REPAIR, None, BEFORE_NATIONAL_DAY)
    later = sh(2026, 10, 14, 18, 0)
    moved = extend(d, "done", later, now=sh(2026, 10, 9, 9, 0))
    assert moved.done_by == later and moved.done_by.tzinfo is UTC
    assert (moved.dispatch_by, moved.contact_by) == (d.dispatch_by, d.contact_by)


def test_an_extension_after_the_deadline_is_refused() -> None:
    d = deadlines(policy(), Category.REPAIR, None, BEFORE_NATIONAL_DAY)
    with pytest.raises(InvalidInput) as err:
        extend(d, "done", sh(2026, 10, 20, 9, 0), now=sh(2026, 10, 10, 16, 1))
    assert err.value.error_id == "extension_too_late"


def test_an_extension_must_move_the_deadline_later() -> None:
    d = deadlines(policy(), Category.REPAIR, None, BEFORE_NATIONAL_DAY)
    with pytest.raises(InvalidInput) as err:
        extend(d, "done", sh(2026, 10, 9, 16, 0), now=sh(2026, 10, 8, 9, 0))
    assert err.value.error_id == "extension_not_later"


def test_an_extension_of_a_missing_or_unknown_step_is_refused() -> None:
    d = deadlines(policy(), Category.COMPLAINT, ComplaintLevel.MINOR, BEFORE_NATIONAL_DAY)
    with pytest.raises(InvalidInput, match="contact"):
        extend(d, "contact", sh(2026, 10, 9, 16, 0), now=BEFORE_NATIONAL_DAY)
    with pytest.raises(InvalidInput, match="dispatch"):
        extend(d, "lunch", sh(2026, 10, 9, 16, 0), now=BEFORE_NATIONAL_DAY)
