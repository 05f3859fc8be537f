"""The 回访 (follow-up call) policy. Rule: a 回访 attempt is never placed in quiet hours
(21:00–08:00 local), the first not before `delay_h` after the unit's reply, each next one
at least `interval_h` after the last; after `attempts` unreachable attempts the 回访 ends
as 无法联系.

Decision: an exhausted 回访 closes the ticket as
办结 with the reason 「回访无法联系」 and no satisfaction, by the system; the history keeps
every attempt, and the reports count it apart from satisfied closes. A supervisor who
disagrees can still see it and open a new ticket; the customer who calls again gets one.

Pure: times in, times and verdicts out (aware datetimes, UTC).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from enum import StrEnum
from zoneinfo import ZoneInfo

from hotline.core.errors import Conflict, InvalidInput
from hotline.telephony import dialler

UNREACHABLE_REASON = "回访无法联系"


class Result(StrEnum):
    REACHED = "reached"  # the customer answered: satisfaction recorded
    UNREACHABLE = "unreachable"  # no answer, busy, switched off, wrong number …


class Outcome(StrEnum):
    PENDING = "pending"  # another attempt is due (see next_attempt_at)
    REACHED = "reached"
    UNREACHABLE = "unreachable"  # attempts used up: 无法联系


@dataclass(frozen=True, slots=True)
class FollowupPolicy:
    delay_h: float = 2.0
    attempts: int = 3
    interval_h: float = 2.0
    quiet_start: time = time(21, 0)
    quiet_end: time = time(8, 0)
    timezone: str = "Asia/Shanghai"

    def __post_init__(self) -> None:
        if self.attempts < 1 or self.delay_h < 0 or self.interval_h < 0:
            raise ValueError("followup attempts must be >= 1, delay and interval >= 0")

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)


@dataclass(frozen=True, slots=True)
class PastAttempt:
    at: datetime  # when it was placed
    result: Result


def _aware(t: datetime, name: str) -> datetime:
    if t.tzinfo is None or t.utcoffset() is None:
        raise ValueError(f"{name} must be an aware datetime, got naive {t.isoformat()}")
    return t.astimezone(UTC)


def in_quiet_hours(policy: FollowupPolicy, t: datetime) -> bool:
    return dialler.in_quiet_hours(t, policy.quiet_start, policy.quiet_end, policy.tz)


def out_of_quiet_hours(policy: FollowupPolicy, t: datetime) -> datetime:
    """`t`, or the end of the quiet hours it falls in (start inclusive, end exclusive): the
    dialler's rule, the same as for callbacks."""
    return dialler.out_of_quiet_hours(t, policy.quiet_start, policy.quiet_end, policy.tz)


def outcome(policy: FollowupPolicy, attempts: Sequence[PastAttempt]) -> Outcome:
    if any(a.result is Result.REACHED for a in attempts):
        return Outcome.REACHED
    if len(attempts) >= policy.attempts:
        return Outcome.UNREACHABLE
    return Outcome.PENDING


def next_attempt_at(
    policy: FollowupPolicy, replied_at: datetime, attempts: Sequence[PastAttempt]
) -> datetime | None:
    """When the next attempt is due; None once the customer was reached or the attempts
    are used up."""
    if outcome(policy, attempts) is not Outcome.PENDING:
        return None
    earliest = _aware(replied_at, "replied_at") + timedelta(hours=policy.delay_h)
    if attempts:
        last = max(_aware(a.at, "attempt time") for a in attempts)
        earliest = max(earliest, last + timedelta(hours=policy.interval_h))
    return out_of_quiet_hours(policy, earliest)


def start(
    policy: FollowupPolicy, replied_at: datetime, booked_at: datetime | None, reopened: int
) -> datetime:
    """What the first attempt's delay counts from: the reply, or the time the customer
    booked for the 回访 (less the delay) when that is later, so the first attempt is due at
    the booked time. A booking holds for the first handling only, not after a 重办."""
    if booked_at is not None and reopened == 0:
        return max(replied_at, booked_at - timedelta(hours=policy.delay_h))
    return replied_at


def check_attempt(
    policy: FollowupPolicy, replied_at: datetime, attempts: Sequence[PastAttempt], now: datetime
) -> None:
    """Refuse an attempt at `now` that the rule forbids; say when it is allowed."""
    due = next_attempt_at(policy, replied_at, attempts)
    if due is None:
        raise Conflict(
            "该工单的回访已结束 (the 回访 of this ticket is over: the customer was reached or "
            f"all {policy.attempts} attempts were made)"
        )
    now = _aware(now, "now")
    if now < due or in_quiet_hours(policy, now):
        due = max(due, out_of_quiet_hours(policy, now))
        local = due.astimezone(policy.tz).strftime("%Y-%m-%d %H:%M")
        why = (
            "21:00–08:00 不回访"
            if in_quiet_hours(policy, now)
            else f"回复后{policy.delay_h:g}小时、两次回访间隔至少{policy.interval_h:g}小时"
        )
        raise Conflict(
            f"现在不能回访（{why}），最早 {local} (no 回访 now: not in quiet hours, not before "
            f"{policy.delay_h:g} h after the reply, at least {policy.interval_h:g} h apart; "
            f"the next attempt is allowed from {local} local time)",
            error_id="followup_not_due",
        )


def check_booking(policy: FollowupPolicy, at: datetime, now: datetime) -> None:
    """A 回访 time the customer booked: in the future and outside the quiet hours."""
    if _aware(at, "booked time") <= _aware(now, "now"):
        raise InvalidInput("预约回访时间须晚于现在 (the booked 回访 time is in the past)")
    if in_quiet_hours(policy, at):
        quiet = f"{policy.quiet_start:%H:%M}–{policy.quiet_end:%H:%M}"
        raise InvalidInput(
            f"预约回访时间在{quiet}之间，不能回访；请另约时间 (the booked 回访 time falls in "
            f"the quiet hours {quiet}; book another time)",
            error_id="followup_quiet_hours",
        )


def parse_result(value: str) -> Result:
    try:
        return Result(value)
    except ValueError:
        raise InvalidInput(
            f"回访结果 {value!r} 无效 (followup result must be reached or unreachable)"
        ) from None
