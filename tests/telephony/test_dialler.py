"""The one dialler: a clean number into the channel, one Originate, refusals said."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, time
from zoneinfo import ZoneInfo

import pytest

from hotline.telephony.ami import AmiError, AmiUnavailable, OriginateResult
from hotline.telephony.dialler import (
    Dialler,
    DialPlan,
    DialRefused,
    UnusableNumber,
    channel_number,
    in_quiet_hours,
    out_of_quiet_hours,
)
from hotline.telephony.frames import Frame

SH = ZoneInfo("Asia/Shanghai")


@dataclass
class Switch:
    refuse: str | None = None
    connected: bool = True
    calls: list[dict[str, object]] = field(default_factory=list)

    async def originate(self, *, variables: Mapping[str, str], **kw: object) -> OriginateResult:
        self.calls.append({**kw, "variables": dict(variables)})
        if self.refuse is not None:
            raise AmiError(f"Asterisk refused Originate {kw['action_id']}: {self.refuse}")
        return OriginateResult(True, 4, "answered", "1.7", None, Frame(()))


def sh(h: int, m: int = 0) -> datetime:
    return datetime(2025, 3, 10, h, m, tzinfo=SH).astimezone(UTC)


def test_quiet_hours_wrap_midnight_and_end_at_eight() -> None:
    q = (time(21), time(8), SH)
    assert out_of_quiet_hours(sh(20, 59), *q) == sh(20, 59)
    assert out_of_quiet_hours(sh(21), *q) == datetime(2025, 3, 11, 0, 0, tzinfo=UTC)
    assert in_quiet_hours(sh(7, 59), *q) and not in_quiet_hours(sh(8), *q)
    assert not in_quiet_hours(sh(23), time(0), time(0), SH)  # start == end: none
    with pytest.raises(ValueError, match="aware"):
        out_of_quiet_hours(datetime(2025, 3, 10, 12), *q)


@pytest.mark.parametrize("number", ["13800138000", "+8613800138000", " 95000 "])
def test_digits_with_an_optional_plus_go_into_the_channel(number: str) -> None:
    assert channel_number(number) == number.strip()


@pytest.mark.parametrize(
    "number", [None, "", "+", "anonymous", "138&PJSIP/9000", "138@other", "1 38", "١٢٣"]
)
def test_anything_else_is_refused_in_chinese(number: str | None) -> None:
    with pytest.raises(UnusableNumber, match="不是有效的电话号码"):
        channel_number(number)


async def test_the_plan_fills_the_originate() -> None:
    switch = Switch()
    plan = DialPlan("hotline-followup", "PJSIP/{number}@trunk", "热线 <95000>", 30.0, "fu")
    await Dialler(switch, plan).dial("+861380", variables={"A": "1"}, action_id="a-1")
    assert switch.calls == [
        {
            "channel": "PJSIP/+861380@trunk",
            "context": "hotline-followup",
            "exten": "fu",
            "caller_id": "热线 <95000>",
            "timeout_s": 30.0,
            "action_id": "a-1",
            "variables": {"A": "1"},
        }
    ]


async def test_a_bad_number_is_refused_before_anything_is_sent() -> None:
    switch = Switch()
    with pytest.raises(UnusableNumber):
        await Dialler(switch, DialPlan()).dial("1&Local/2", variables={}, action_id="a")
    assert switch.calls == []


async def test_refusals_say_the_switchs_reason_and_whether_it_can_change() -> None:
    switch = Switch(refuse="Extension does not exist.")
    with pytest.raises(DialRefused) as err:
        await Dialler(switch, DialPlan()).dial("95000", variables={}, action_id="a")
    assert err.value.permanent and "Extension does not exist." in err.value.reason
    switch.refuse = "Originate failed"
    with pytest.raises(DialRefused) as err:
        await Dialler(switch, DialPlan()).dial("95000", variables={}, action_id="b")
    assert not err.value.permanent


async def test_no_switch_is_unavailable() -> None:
    dialler = Dialler(None, DialPlan())
    assert not dialler.ready
    with pytest.raises(AmiUnavailable):
        await dialler.dial("95000", variables={}, action_id="a")
