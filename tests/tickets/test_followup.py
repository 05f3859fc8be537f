"""The 回访 rule: after the reply, never 21:00–08:00, attempts 2 hours apart, 3 at most."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from hotline.core.errors import Conflict
from hotline.tickets import followup
from hotline.tickets.followup import FollowupPolicy, Outcome, PastAttempt, Result

P = FollowupPolicy()  # 2 h after the reply, 3 attempts, 2 h apart, quiet 21:00–08:00 Shanghai


def sh(day: int, hour: int, minute: int = 0) -> datetime:
    """A time in Shanghai (UTC+8), as UTC."""
    return datetime(2024, 11, day, hour, minute, tzinfo=UTC) - timedelta(hours=8)


def test_the_first_attempt_comes_two_hours_after_the_reply() -> None:
    assert followup.next_attempt_at(P, sh(23, 10), []) == sh(23, 12)


def test_a_reply_in_the_evening_is_followed_up_at_eight_next_morning() -> None:
    assert followup.next_attempt_at(P, sh(23, 19, 30), []) == sh(24, 8)
    assert followup.next_attempt_at(P, sh(24, 3), []) == sh(24, 8)


def test_three_unreachable_attempts_two_hours_apart_then_unreachable() -> None:
    replied = sh(23, 14)
    a1 = PastAttempt(sh(23, 16), Result.UNREACHABLE)
    assert followup.next_attempt_at(P, replied, [a1]) == sh(23, 18)
    a2 = PastAttempt(sh(23, 18), Result.UNREACHABLE)
    # 20:00 would be the next, allowed (before 21:00)
    assert followup.next_attempt_at(P, replied, [a1, a2]) == sh(23, 20)
    a2_late = PastAttempt(sh(23, 19, 30), Result.UNREACHABLE)
    assert followup.next_attempt_at(P, replied, [a1, a2_late]) == sh(24, 8)
    a3 = PastAttempt(sh(24, 8), Result.UNREACHABLE)
    assert followup.outcome(P, [a1, a2, a3]) is Outcome.UNREACHABLE
    assert followup.next_attempt_at(P, replied, [a1, a2, a3]) is None


def test_a_reached_customer_ends_the_followup() -> None:
    done = [PastAttempt(sh(23, 12), Result.REACHED)]
    assert followup.outcome(P, done) is Outcome.REACHED
    assert followup.next_attempt_at(P, sh(23, 10), done) is None


def test_an_attempt_too_early_or_at_night_is_refused_with_the_next_allowed_time() -> None:
    with pytest.raises(Conflict, match="2024-11-23 12:00") as err:
        followup.check_attempt(P, sh(23, 10), [], sh(23, 11))
    assert err.value.error_id == "followup_not_due"
    with pytest.raises(Conflict, match="21:00–08:00"):
        followup.check_attempt(P, sh(23, 18), [], sh(23, 22))
    followup.check_attempt(P, sh(23, 10), [], sh(23, 12))  # allowed
    with pytest.raises(Conflict, match="over"):
        followup.check_attempt(P, sh(23, 10), [PastAttempt(sh(23, 12), Result.REACHED)], sh(23, 15))


def test_quiet_hours_boundaries() -> None:
    assert not followup.in_quiet_hours(P, sh(23, 20, 59))
    assert followup.in_quiet_hours(P, sh(23, 21))
    assert followup.in_quiet_hours(P, sh(24, 7, 59))
    assert not followup.in_quiet_hours(P, sh(24, 8))


def test_naive_times_are_refused() -> None:
    with pytest.raises(ValueError, match="aware"):
        followup.next_attempt_at(P, datetime(2024, 11, 23, 10), [])
