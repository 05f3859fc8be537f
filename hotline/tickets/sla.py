"""The 工单 clock. Rule: every deadline comes from the policy's numbers and the official
working-day calendar, as UTC datetimes; each is a span (tickets/spans.py: `20min`, `24h`,
`3wd`, `4bh`) per category and complaint level, from acceptance or from the unit's clock
(dispatch, receipt of a transfer); a deadline only ever moves later, by a supervisor's
extension requested before it passed.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from enum import StrEnum
from zoneinfo import ZoneInfo

from hotline.core.errors import InvalidInput
from hotline.core.settings import TicketSettings
from hotline.tickets.calendar import CalendarUnknown, WorkCalendar
from hotline.tickets.model import Category, ComplaintLevel, Deadlines
from hotline.tickets.spans import BusinessHours, Span, Unit, due

STEPS: tuple[str, ...] = ("dispatch", "contact", "done", "reply", "opinion")
STEP_LABELS: dict[str, str] = {
    "dispatch": "派发",
    "contact": "联系",
    "done": "办结",
    "reply": "回复",
    "opinion": "处理意见",
}

_FAST_DISPATCH = frozenset({Category.REPAIR, Category.COMPLAINT, Category.EMERGENCY})
_REPAIR_LIKE = frozenset({Category.REPAIR, Category.EMERGENCY})
_REPORT_LIKE = frozenset({Category.REPORT, Category.SUGGESTION})


class Clock(StrEnum):
    """Where a category's unit clock (contact, done) starts."""

    ACCEPTED = "accepted"  # 受理: the ticket's acceptance
    DISPATCH = "dispatch"  # 派发: the unit's clock starts when it is dispatched to it
    TRANSFER = "transfer"  # receipt of a transfer (12345 督办件): the time it was received


@dataclass(frozen=True, slots=True)
class CategoryRule:
    """A category's spans: dispatch from acceptance, contact and done from `clock`."""

    dispatch: Span | None = None
    contact: Span | None = None
    done: Span | None = None
    clock: Clock = Clock.ACCEPTED


@dataclass(frozen=True, slots=True)
class LevelRule:
    """A complaint level: its name, its spans, and what counting raises a complaint to it
    (any one condition is enough; none = the level set by hand or the base level)."""

    level: ComplaintLevel
    name: str
    done: Span
    contact: Span | None = None
    complainants: int | None = None  # different callers on one matter …
    within_days: int = 30  # … within this many days
    repeats: int | None = None  # one caller on one event, this many times
    exposure: bool = False  # media or legal exposure
    people: int | None = None  # this many people together (集体投诉)


@dataclass(frozen=True, slots=True)
class SlaPolicy:
    rules: Mapping[Category, CategoryRule]
    levels: tuple[LevelRule, ...]  # most severe (1) first
    reply: Span
    calendar: WorkCalendar
    tz: ZoneInfo
    business_hours: BusinessHours = field(default_factory=BusinessHours)

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

        def wd(n: int) -> Span:
            return Span(n, Unit.WORKDAYS)

        rules: dict[Category, CategoryRule] = {}
        for c in Category:
            minutes = t.dispatch_urgent_min if c in _FAST_DISPATCH else t.dispatch_min
            dispatch = Span(minutes, Unit.MINUTES)
            if c in _REPAIR_LIKE:
                rule = CategoryRule(
                    dispatch, Span(t.repair_contact_h, Unit.HOURS), wd(t.repair_done_workdays)
                )
            elif c is Category.SERVICE:
                rule = CategoryRule(
                    dispatch, wd(t.service_contact_workdays), wd(t.service_done_workdays)
                )
            elif c in _REPORT_LIKE:
                rule = CategoryRule(dispatch, done=wd(t.report_done_workdays))
            else:  # 咨询/查询, 表扬, 投诉 (its done by level)
                rule = CategoryRule(dispatch)
            rules[c] = rule
        levels = (
            LevelRule(
                ComplaintLevel.MAJOR,
                "重大",
                Span(hours[ComplaintLevel.MAJOR], Unit.HOURS),
                repeats=t.level1_repeats,
                exposure=True,
            ),
            LevelRule(
                ComplaintLevel.GENERAL,
                "一般",
                Span(hours[ComplaintLevel.GENERAL], Unit.HOURS),
                complainants=t.level2_complainants,
                within_days=t.level2_window_days,
            ),
            LevelRule(ComplaintLevel.MINOR, "轻度", Span(hours[ComplaintLevel.MINOR], Unit.HOURS)),
        )
        return cls(rules, levels, wd(t.reply_workdays), calendar, tz)

    def level_rule(self, level: ComplaintLevel | None) -> LevelRule:
        """The rule of `level`; no level (or one the policy lacks) is the base level."""
        for rule in self.levels:
            if rule.level == level:
                return rule
        return self.levels[-1]

    @property
    def base_level(self) -> ComplaintLevel:
        """The level of a complaint nobody counted up yet (the least severe)."""
        return self.levels[-1].level

    @property
    def level2_window_days(self) -> int:
        """The longest window any counting rule looks back over."""
        return max((r.within_days for r in self.levels if r.complainants), default=30)

    def complaint_h(self, level: ComplaintLevel) -> float:
        span = self.level_rule(level).done
        return span.amount if span.unit is Unit.HOURS else span.amount * 24

    def due(self, span: Span, start: datetime) -> datetime:
        return due(span, start, self.calendar, self.tz, self.business_hours)

    def workdays_after(self, start: datetime, n: int) -> datetime:
        return self.calendar.add_workdays(start, n, self.tz).astimezone(UTC)

    def spans(self, category: Category, level: ComplaintLevel | None) -> CategoryRule:
        """The category's spans, a complaint's contact and done taken from its level."""
        rule = self.rules.get(category, CategoryRule())
        if category is Category.COMPLAINT and self.levels:
            lv = self.level_rule(level)
            return replace(rule, contact=lv.contact or rule.contact, done=lv.done)
        return rule


def deadlines(
    policy: SlaPolicy,
    category: Category,
    level: ComplaintLevel | None,
    accepted_at: datetime,
    *,
    unit_clock_at: datetime | None = None,
) -> Deadlines:
    """The deadlines of a ticket accepted at `accepted_at`. A complaint without a level is of
    the policy's base level; the reply deadline starts with the unit's answer
    (`reply_deadline`). `unit_clock_at` is when the contact/done clock starts (dispatch, or
    receipt of a transfer) when the category's rule says so.
    Raises CalendarUnknown when a working-day deadline falls in a year nobody gave us."""
    found, unknown = deadlines_known(
        policy, category, level, accepted_at, unit_clock_at=unit_clock_at
    )
    if unknown:
        raise unknown[0]
    return found


def deadlines_known(
    policy: SlaPolicy,
    category: Category,
    level: ComplaintLevel | None,
    accepted_at: datetime,
    *,
    unit_clock_at: datetime | None = None,
) -> tuple[Deadlines, tuple[CalendarUnknown, ...]]:
    """`deadlines`, with each working-day deadline the calendar cannot place left unset and
    its error returned: the hour-based deadlines of the same ticket still run."""
    at = _aware(accepted_at, "accepted_at")
    unknown: list[CalendarUnknown] = []
    rule = policy.spans(category, level)
    unit_at: datetime | None = at
    if rule.clock is not Clock.ACCEPTED:
        unit_at = _aware(unit_clock_at, "unit_clock_at") if unit_clock_at else None

    def after(span: Span | None, start: datetime | None) -> datetime | None:
        if span is None or start is None:
            return None
        try:
            return policy.due(span, start)
        except CalendarUnknown as exc:
            unknown.append(exc)
            return None

    found = Deadlines(
        dispatch_by=after(rule.dispatch, at),
        contact_by=after(rule.contact, unit_at),
        done_by=after(rule.done, unit_at),
    )
    return found, tuple(unknown)


def reply_deadline(policy: SlaPolicy, unit_answered_at: datetime) -> datetime:
    """Reply to the customer within the policy's reply span of the unit's answer."""
    answered = _aware(unit_answered_at, "unit_answered_at")
    return policy.due(policy.reply, answered)


def escalate(
    current: ComplaintLevel,
    *,
    complainants_same_issue: int,
    repeats_same_event: int,
    exposure: bool,
    policy: SlaPolicy,
    people_together: int = 1,
) -> ComplaintLevel:
    """The complaint level after counting, by the policy's level rules (002: 5 different
    callers on one matter within a month make it 2 一般; one caller 5 times on one event, or
    media/legal exposure, make it 1 重大). The most severe level whose condition holds wins;
    a level is never lowered."""
    for rule in policy.levels:  # most severe first
        if (
            (rule.complainants is not None and complainants_same_issue >= rule.complainants)
            or (rule.repeats is not None and repeats_same_event >= rule.repeats)
            or (rule.exposure and exposure)
            or (rule.people is not None and people_together >= rule.people)
        ):
            return ComplaintLevel(min(rule.level, current))
    return current


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


def next_deadline(
    deadlines: Deadlines,
    reached: Mapping[str, datetime | None],
    marked: tuple[str, ...] | list[str] | frozenset[str] = (),
) -> datetime | None:
    """The earliest due time the deadline watch must look at: of the steps not yet reached
    and not yet marked overdue. None when nothing is left to watch (the ticket's indexed
    `next_deadline`, queried `WHERE next_deadline <= now`)."""
    pending = [
        due
        for step in STEPS
        if (due := _due(deadlines, step)) is not None
        and reached.get(step) is None
        and step not in marked
    ]
    return min(pending) if pending else None
