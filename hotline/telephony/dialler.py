"""The one dialler: how Hotline rings a customer through the switch (callbacks, 回访).

Rule: every outgoing call goes through `Dialler.dial`, which puts only a clean number
(digits, an optional leading '+') into the channel string, sends one Originate built from
a `DialPlan`, and logs every refusal with the switch's reason. When a customer may be rung
at all is the pure `out_of_quiet_hours` / `in_quiet_hours` below, used by both the
callback and the 回访 rules.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from hotline.core.errors import InvalidInput
from hotline.telephony.ami import (
    AmiError,
    AmiTimeout,
    AmiUnavailable,
    OriginateResult,
    Originator,
)

log = logging.getLogger(__name__)

# What Asterisk answers an Originate whose context or extension it does not have: asking
# again cannot succeed until someone changes the switch's dialplan.
_PERMANENT_REFUSALS = ("extension does not exist",)


# --- quiet hours (pure) -------------------------------------------------------------------


def _require_aware(t: datetime, name: str) -> datetime:
    if t.tzinfo is None or t.utcoffset() is None:
        raise ValueError(f"{name} must be an aware datetime (UTC), got naive {t.isoformat()}")
    return t.astimezone(UTC)


def _at_local(day: date, tod: time, tz: ZoneInfo) -> datetime:
    return datetime.combine(day, tod, tzinfo=tz).astimezone(UTC)


def out_of_quiet_hours(t: datetime, start: time, end: time, tz: ZoneInfo) -> datetime:
    """`t` in UTC, or the end of the quiet hours it falls in (start inclusive, end
    exclusive; local times of day in `tz`).

    Quiet hours may wrap midnight (21:00–08:00: 22:00 moves to 08:00 the next morning,
    03:00 to 08:00 the same morning) or not (12:00–13:30); start == end means none.
    """
    t = _require_aware(t, "t")
    if start == end:
        return t
    local = t.astimezone(tz)
    tod = local.time().replace(tzinfo=None)
    if start < end:  # same-day window
        if start <= tod < end:
            return _at_local(local.date(), end, tz)
    elif tod >= start:  # evening part of a window that wraps midnight
        return _at_local(local.date() + timedelta(days=1), end, tz)
    elif tod < end:  # morning part
        return _at_local(local.date(), end, tz)
    return t


def in_quiet_hours(t: datetime, start: time, end: time, tz: ZoneInfo) -> bool:
    return out_of_quiet_hours(t, start, end, tz) != _require_aware(t, "t")


# --- the number and the plan --------------------------------------------------------------


class UnusableNumber(InvalidInput):
    """A number that cannot go into a channel string (a caller may set their own caller id)."""

    error_id = "unusable_number"


def channel_number(raw: str | None) -> str:
    """The number as it goes into the channel: digits with an optional leading '+';
    anything else (letters, '@', '/', '&', spaces inside …) is refused."""
    text = (raw or "").strip()
    digits = text.removeprefix("+")
    if not digits or not (digits.isascii() and digits.isdigit()):
        raise UnusableNumber(
            f"号码 {text!r} 不是有效的电话号码（只能是数字，可带前导+），无法自动呼出；"
            "请人工联系客户 (the number must be digits with an optional leading '+'; "
            "call the customer by hand)"
        )
    return text


@dataclass(frozen=True, slots=True)
class DialPlan:
    """How a call is placed on the switch (see deploy/asterisk/extensions.conf): the
    channel that rings the customer ({number} is filled in), and the context and
    extension the answered customer is then sent to."""

    context: str = "hotline-callback"
    channel_template: str = "Local/{number}@hotline-outbound"
    caller_id: str = "客服热线 <95000>"
    timeout_s: float = 45.0
    extension: str = "s"


class DialRefused(AmiError):
    """The switch refused the Originate (`Response: Error`); `reason` is what it said.
    `permanent` when asking again cannot help (no such extension or context)."""

    def __init__(self, reason: str, *, permanent: bool) -> None:
        self.reason = reason
        self.permanent = permanent
        super().__init__(reason)


def is_permanent_refusal(reason: str) -> bool:
    return any(p in reason.lower() for p in _PERMANENT_REFUSALS)


# --- the dialler --------------------------------------------------------------------------


class Dialler:
    """Places calls through an `Originator` (the AMI client) by one `DialPlan`."""

    def __init__(self, originator: Originator | None, plan: DialPlan) -> None:
        self.originator = originator
        self.plan = plan

    @property
    def ready(self) -> bool:
        """True when a switch is configured and connected."""
        return self.originator is not None and self.originator.connected

    async def dial(
        self, number: str | None, *, variables: Mapping[str, str], action_id: str
    ) -> OriginateResult:
        """Ring `number` and wait for the OriginateResponse.

        Raises `UnusableNumber` before anything is sent, `AmiUnavailable` when the link is
        down, `DialRefused` when the switch refuses, `AmiError` (e.g. `AmiTimeout`) else.
        """
        clean = channel_number(number)
        if self.originator is None:
            raise AmiUnavailable("no switch is configured (AMI host unset): nothing was dialled")
        plan = self.plan
        channel = plan.channel_template.format(number=clean)
        try:
            result = await self.originator.originate(
                channel=channel,
                context=plan.context,
                exten=plan.extension,
                caller_id=plan.caller_id,
                variables=variables,
                timeout_s=plan.timeout_s,
                action_id=action_id,
            )
        except (AmiUnavailable, AmiTimeout, DialRefused):
            raise
        except AmiError as exc:
            reason = str(exc)
            permanent = is_permanent_refusal(reason)
            log.warning(
                "the switch refused Originate %s to %s (%s,%s): %s%s",
                action_id,
                channel,
                plan.context,
                plan.extension,
                reason,
                " (permanent: check the dialplan)" if permanent else "",
            )
            raise DialRefused(reason, permanent=permanent) from exc
        if not result.success:
            log.info(
                "Originate %s to %s did not connect: reason %d (%s)",
                action_id,
                channel,
                result.reason_code,
                result.reason_text,
            )
        return result
