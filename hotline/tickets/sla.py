"""The 工单 clock. Rule: every deadline comes from the policy's numbers and the official
working-day calendar, as UTC datetimes; hours are wall-clock hours, "within N working days"
follows the calendar (调休 included); a deadline only ever moves later, by a supervisor's
extension requested before it passed.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from hotline.core.errors import InvalidInput
from hotline.core.settings import TicketSettings
from hotline.tickets.calendar import CalendarUnknown, WorkCalendar
from hotline.tickets.model import Category, ComplaintLevel, Deadlines

STEPS: tuple[str, ...] = ("dispatch", "contact", "done", "reply")
STEP_LABELS: dict[str, str] = {
    "dispatch": "派发",
    "contact": "联系",
    "done": "办结",
    "reply": "回复",
}

_FAST_DISPATCH = frozenset({Category.REPAIR, Category.COMPLAINT, Category.EMERGENCY})
_REPAIR_LIKE = frozenset({Category.REPAIR, Category.EMERGENCY})
_REPORT_LIKE = frozenset({Category.REPORT, Category.SUGGESTION})


@dataclass(frozen=True, slots=True)
class SlaPolicy:
    dispatch_min: float
    dispatch_urgent_min: float
    repair_contact_h: float
    repair_done_workdays: int
    service_contact_workdays: int
    service_done_workdays: int
    complaint_hours: tuple[tuple[ComplaintLevel, float], ...]
    report_done_workdays: int
    reply_workdays: int
    level2_complainants: int
    level2_window_days: int
    level1_repeats: int
    calendar: WorkCalendar
    tz: ZoneInfo

    @classmethod
    def from_settings(cls, t: TicketSettings, calendar: WorkCalendar, tz: ZoneInfo) -> SlaPolicy:
        hours: dict[ComplaintLevel, float] = {}
        for level, h in t.complaint_hours.items():
            try:
                hours[ComplaintLevel(int(level))] = float(h)
            except ValueError as exc:
                raise InvalidInput(
                    f"tickets.complaint_hours: unknown complaint level {level!r} "
                    "(levels are 3 轻度, 2 一般, 1 重大)"
                ) from exc
        missing = [int(lv) for lv in ComplaintLevel if lv not in hours]
        if missing:
            raise InvalidInput(
                f"tickets.complaint_hours: no hours for level(s) {missing} "
                "(give hours for 3 轻度, 2 一般 and 1 重大)"
            )
        return cls(
            dispatch_min=t.dispatch_min,
            dispatch_urgent_min=t.dispatch_urgent_min,
            repair_contact_h=t.repair_contact_h,
            repair_done_workdays=t.repair_done_workdays,
            service_contact_workdays=t.service_contact_workdays,
            service_done_workdays=t.service_done_workdays,
            complaint_hours=tuple(sorted(hours.items())),
            report_done_workdays=t.report_done_workdays,
            reply_workdays=t.reply_workdays,
            level2_complainants=t.level2_complainants,
            level2_window_days=t.level2_window_days,
            level1_repeats=t.level1_repeats,
            calendar=calendar,
            tz=tz,
        )

    def complaint_h(self, level: ComplaintLevel) -> float:
        return dict(self.complaint_hours)[level]

    def workdays_after(self, start: datetime, n: int) -> datetime:
        return self.calendar.add_workdays(start, n, self.tz).astimezone(UTC)


def deadlines(
    policy: SlaPolicy,
    category: Category,
    level: ComplaintLevel | None,
    accepted_at: datetime,
) -> Deadlines:
    """The deadlines of a ticket accepted at `accepted_at`. A complaint without a level is a
    level 3 (轻度) one; the reply deadline starts with the unit's answer (`reply_deadline`).
    Raises CalendarUnknown when a working-day deadline falls in a year nobody gave us."""
    found, unknown = deadlines_known(policy, category, level, accepted_at)
    if unknown:
        raise unknown[0]
    return found


def deadlines_known(
    policy: SlaPolicy,
    category: Category,
    level: ComplaintLevel | None,
    accepted_at: datetime,
) -> tuple[Deadlines, tuple[CalendarUnknown, ...]]:
    """`deadlines`, with each working-day deadline the calendar cannot place left unset and
    its error returned: the hour-based deadlines of the same ticket still run."""
    at = _aware(accepted_at, "accepted_at")
    unknown: list[CalendarUnknown] = []
    found = _deadlines(policy, category, level, at, unknown)
    return found, tuple(unknown)


def _deadlines(
    policy: SlaPolicy,
    category: Category,
    level: ComplaintLevel | None,
    at: datetime,
    unknown: list[CalendarUnknown],
) -> Deadlines:
    def workdays_after(n: int) -> datetime | None:
        try:
            return policy.workdays_after(at, n)
        except CalendarUnknown as exc:
            unknown.append(exc)
            return None

    minutes = policy.dispatch_urgent_min if category in _FAST_DISPATCH else policy.dispatch_min
    dispatch_by = at + timedelta(minutes=minutes)
    if category in _REPAIR_LIKE:
        return Deadlines(
            dispatch_by=dispatch_by,
            contact_by=at + timedelta(hours=policy.repair_contact_h),
            done_by=workdays_after(policy.repair_done_workdays),
        )
    if category is Category.SERVICE:
        return Deadlines(
            dispatch_by=dispatch_by,
            contact_by=workdays_after(policy.service_contact_workdays),
            done_by=workdays_after(policy.service_done_workdays),
        )
    if category is Category.COMPLAINT:
        hours = policy.complaint_h(level or ComplaintLevel.MINOR)
        return Deadlines(dispatch_by=dispatch_by, done_by=at + timedelta(hours=hours))
    if category in _REPORT_LIKE:
        return Deadlines(
            dispatch_by=dispatch_by,
            done_by=workdays_after(policy.report_done_workdays),
        )
    return Deadlines(dispatch_by=dispatch_by)  # 咨询/查询, 表扬: no deadline beyond dispatch


def reply_deadline(policy: SlaPolicy, unit_answered_at: datetime) -> datetime:
    """Reply to the customer within `reply_workdays` working days of the unit's answer."""
    answered = _aware(unit_answered_at, "unit_answered_at")
    return policy.workdays_after(answered, policy.reply_workdays)


def escalate(
    current: ComplaintLevel,
    *,
    complainants_same_issue: int,
    repeats_same_event: int,
    exposure: bool,
    policy: SlaPolicy,
) -> ComplaintLevel:
    """The complaint level after counting: `level2_complainants` different callers on the same
    issue (within `level2_window_days`, counted by the caller) make it 一般 (2); one caller
    `level1_repeats` times on the same event, or media/legal exposure, make it 重大 (1). A level
    is never lowered."""
    level = current
    if complainants_same_issue >= policy.level2_complainants:
        level = min(level, ComplaintLevel.GENERAL)
    if repeats_same_event >= policy.level1_repeats or exposure:
        level = ComplaintLevel.MAJOR
    return ComplaintLevel(min(level, current))


def overdue(
    deadlines: Deadlines, reached: Mapping[str, datetime | None], now: datetime
) -> tuple[str, ...]:
    """The steps (dispatch/contact/done/reply) past their due time and not yet reached."""
    now = _aware(now, "now")
    late: list[str] = []
    for step in STEPS:
        due = _due(deadlines, step)
        if due is not None and reached.get(step) is None and now > due:
            late.append(step)
    return tuple(late)


def extend(deadlines: Deadlines, step: str, new_due: datetime, now: datetime) -> Deadlines:
    """延期: a supervisor moves one step's deadline later; only before it has passed."""
    if step not in STEPS:
        raise InvalidInput(
            f"未知的环节 {step!r} (unknown step; one of {', '.join(STEPS)})", error_id="bad_step"
        )
    label = STEP_LABELS[step]
    due = _due(deadlines, step)
    if due is None:
        raise InvalidInput(
            f"该工单没有{label}时限 (this ticket has no {step} deadline to extend)",
            error_id="no_deadline",
        )
    new_due = _aware(new_due, "new_due").astimezone(UTC)
    if _aware(now, "now") > due:
        raise InvalidInput(
            f"{label}时限已过，不能延期 (the {step} deadline {due.isoformat()} has passed; "
            "an extension must be approved before the deadline)",
            error_id="extension_too_late",
        )
    if new_due <= due:
        raise InvalidInput(
            f"延期后的时限必须晚于原时限 (the new {step} deadline {new_due.isoformat()} is not "
            f"later than the current one {due.isoformat()}); choose a later time",
            error_id="extension_not_later",
        )
    changed: dict[str, datetime] = {f"{step}_by": new_due}
    return replace(deadlines, **changed)


def _due(deadlines: Deadlines, step: str) -> datetime | None:
    value: datetime | None = getattr(deadlines, f"{step}_by")
    return value


def _aware(value: datetime, name: str) -> datetime:
    if value.tzinfo is None:
        raise InvalidInput(f"时间缺少时区 ({name} needs a time zone: pass an aware datetime)")
    return value.astimezone(UTC)
